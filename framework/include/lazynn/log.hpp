#pragma once
// A thin logging facade over spdlog (only log.cpp includes spdlog). The level is set from code
// with set_level() or at start-up from the environment variable LAZYNN_LOG_LEVEL
// (trace, debug, info, warn, error, critical, off).
//
//   lazynn::logging::info("epoch ", epoch, " loss ", loss);   // arguments are streamed together

#include <sstream>
#include <string>
#include <string_view>

namespace lazynn::logging {

enum class Level { Trace, Debug, Info, Warn, Error, Critical, Off };

void set_level(Level level);
Level level();
/// Parses "trace" ... "off"; throws ValueError naming the accepted words otherwise.
Level parse_level(std::string_view name);
/// Writes one message at `level` (no-op below the current level).
void write(Level level, std::string_view message);

template <class... Args>
std::string concat(const Args&... args) {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
}

template <class... Args>
void trace(const Args&... a) {
    if (level() <= Level::Trace) write(Level::Trace, concat(a...));
}
template <class... Args>
void debug(const Args&... a) {
    if (level() <= Level::Debug) write(Level::Debug, concat(a...));
}
template <class... Args>
void info(const Args&... a) {
    if (level() <= Level::Info) write(Level::Info, concat(a...));
}
template <class... Args>
void warn(const Args&... a) {
    if (level() <= Level::Warn) write(Level::Warn, concat(a...));
}
template <class... Args>
void error(const Args&... a) {
    if (level() <= Level::Error) write(Level::Error, concat(a...));
}

}  // namespace lazynn::logging
