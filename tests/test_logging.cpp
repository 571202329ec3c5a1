// The logging facade: level parsing and setting.
#include "test_support.hpp"

using namespace lazynn;

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
