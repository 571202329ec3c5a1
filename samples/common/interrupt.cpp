#include "interrupt.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <string>

#include <signal.h>
#include <unistd.h>

namespace samples {

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) {
    if (g_interrupted.exchange(true)) {
        static const char quitting[] = "\ninterrupted again: quitting now\n";
        [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, quitting, sizeof quitting - 1);
        ::_exit(130);
    }
    static const char stopping[] =
        "\ninterrupted: stopping after this step to write a checkpoint "
        "(Ctrl-C again to quit at once)\n";
    [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, stopping, sizeof stopping - 1);
}

/// Whether a process with this id is running (a pid we may not signal counts as running).
bool process_running(long pid) {
    if (pid <= 0) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

void install_interrupt_handler() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &action, nullptr);
}

bool interrupt_requested() { return g_interrupted.load(); }

void request_interrupt() { g_interrupted = true; }

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
    std::vector<std::string> removed;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file(ec)) continue;
        const std::string name = entry.path().filename().string();
        bool stale = false;
        if (const auto at = name.rfind(".tmp-"); at != std::string::npos) {
            // name.tmp-PID-COUNTER
            const std::string rest = name.substr(at + 5);
            const auto dash = rest.find('-');
            try {
                stale = !process_running(std::stol(rest.substr(0, dash)));
            } catch (const std::exception&) {
                stale = false;  // not one of ours
            }
        } else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
            stale = true;
        }
        if (stale && std::filesystem::remove(entry.path(), ec)) removed.push_back(name);
    }
    return removed;
}

}  // namespace samples
