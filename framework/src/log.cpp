#include <lazynn/error.hpp>
#include <lazynn/log.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace lazynn::logging {
namespace {

spdlog::level::level_enum to_spdlog(Level level) {
    switch (level) {
        case Level::Trace:
            return spdlog::level::trace;
        case Level::Debug:
            return spdlog::level::debug;
        case Level::Info:
            return spdlog::level::info;
        case Level::Warn:
            return spdlog::level::warn;
        case Level::Error:
            return spdlog::level::err;
        case Level::Critical:
            return spdlog::level::critical;
        case Level::Off:
            break;
    }
    return spdlog::level::off;
}

/// spdlog's automatic mode colours the level tag only on a colour terminal; NO_COLOR set to anything
/// but the empty string turns colour off there too (https://no-color.org, as the samples' progress).
spdlog::color_mode colour_mode() {
    const char* no_color = std::getenv("NO_COLOR");
    return no_color && *no_color ? spdlog::color_mode::never : spdlog::color_mode::automatic;
}

struct State {
    std::shared_ptr<spdlog::logger> logger;
    Level level = Level::Info;

    State() : logger(spdlog::stderr_color_mt("lazynn", colour_mode())) {
        logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
        if (const char* env = std::getenv("LAZYNN_LOG_LEVEL")) {
            try {
                level = parse_level(env);
            } catch (const ValueError& e) {
                logger->warn("ignoring LAZYNN_LOG_LEVEL: {}", e.what());
            }
        }
        logger->set_level(to_spdlog(level));
    }
};

State& state() {
    static State s;
    return s;
}

}  // namespace

void set_level(Level level) {
    state().level = level;
    state().logger->set_level(to_spdlog(level));
}

Level level() { return state().level; }

Level parse_level(std::string_view name) {
    if (name == "trace") return Level::Trace;
    if (name == "debug") return Level::Debug;
    if (name == "info") return Level::Info;
    if (name == "warn" || name == "warning") return Level::Warn;
    if (name == "error") return Level::Error;
    if (name == "critical") return Level::Critical;
    if (name == "off") return Level::Off;
    throw ValueError("unknown log level '" + std::string(name) +
                     "'; use trace, debug, info, warn, error, critical or off");
}

void write(Level level, std::string_view message) { state().logger->log(to_spdlog(level), "{}", message); }

}  // namespace lazynn::logging
