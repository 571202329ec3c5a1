// The logging facade: level parsing and setting, and when the level tag is coloured.
#include "test_support.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

using namespace lazynn;

namespace {

/// Runs this binary's "logging child" case in a new process (TERM=xterm-256color) whose stderr is a
/// pseudo-terminal, or a pipe when `terminal` is false, with NO_COLOR set to `no_color` (nullptr:
/// unset), and returns what the child wrote there. A new process, because the logger decides
/// once, when first used.
std::string log_from_child(const char* no_color, bool terminal = true) {
    int master = -1, slave = -1;
    if (terminal) {
        master = ::posix_openpt(O_RDWR | O_NOCTTY);
        REQUIRE(master >= 0);
        REQUIRE(::grantpt(master) == 0);
        REQUIRE(::unlockpt(master) == 0);
        const char* slave_name = ::ptsname(master);
        REQUIRE(slave_name != nullptr);
        // Opened before the fork, so the terminal cannot report end of file before the child has it.
        slave = ::open(slave_name, O_RDWR | O_NOCTTY);
    } else {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        master = fds[0];
        slave = fds[1];
    }
    REQUIRE(slave >= 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_WRONLY);
        if (::dup2(slave, 2) < 0 || devnull < 0 || ::dup2(devnull, 1) < 0) ::_exit(2);  // stdout: doctest's summary
        ::close(master);
        ::setenv("TERM", "xterm-256color", 1);
        ::setenv("LAZYNN_TEST_LOGGING_CHILD", "1", 1);
        ::setenv("LAZYNN_LOG_LEVEL", "warn", 1);
        if (no_color) {
            ::setenv("NO_COLOR", no_color, 1);
        } else {
            ::unsetenv("NO_COLOR");
        }
        ::execl("/proc/self/exe", "test_logging", "--test-case=logging child*", static_cast<char*>(nullptr));
        ::_exit(3);
    }
    ::close(slave);
    std::string out;
    char buffer[4096];
    // Once the child has exited and closed its end, read() returns 0 (pipe) or fails with EIO (terminal).
    for (ssize_t n; (n = ::read(master, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
    ::close(master);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    return out;
}

}  // namespace

TEST_CASE("log levels parse, set and filter") {
    CHECK(logging::parse_level("debug") == logging::Level::Debug);
    CHECK(logging::parse_level("warning") == logging::Level::Warn);
    LAZYNN_CHECK_THROWS_WITH_SUBSTR(logging::parse_level("loud"), ValueError, "use trace, debug, info");
    // The test environment sets LAZYNN_LOG_LEVEL=warn; the facade read it at start-up.
    CHECK(logging::level() == logging::Level::Warn);
    logging::set_level(logging::Level::Error);
    CHECK(logging::level() == logging::Level::Error);
    logging::info("not shown: below the level");
    logging::error("shown once by the logging test (expected)");
    CHECK(logging::concat("a", 1, ' ', 2.5) == "a1 2.5");
}

TEST_CASE("logging child: writes one warning (only when started by the terminal test below)") {
    if (std::getenv("LAZYNN_TEST_LOGGING_CHILD")) logging::warn("the child's warning");
}

TEST_CASE("the level tag is coloured on a terminal, and not when NO_COLOR is set non-empty (no-color.org)") {
    const std::string coloured = log_from_child(nullptr);
    CHECK(coloured.find("the child's warning") != std::string::npos);
    CHECK(coloured.find("\x1b[") != std::string::npos);
    // An empty NO_COLOR does not count as set.
    CHECK(log_from_child("").find("\x1b[") != std::string::npos);
    const std::string plain = log_from_child("1");
    CHECK(plain.find("[warning] the child's warning") != std::string::npos);
    CHECK(plain.find('\x1b') == std::string::npos);
    // Not a terminal (a pipe, a log file): never coloured.
    const std::string piped = log_from_child(nullptr, /*terminal=*/false);
    CHECK(piped.find("[warning] the child's warning") != std::string::npos);
    CHECK(piped.find('\x1b') == std::string::npos);
}
