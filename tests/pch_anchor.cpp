// The translation unit that owns the suites' precompiled header (tests/CMakeLists.txt): it has no
// code of its own; CMake force-includes test_support.hpp here and in every suite.
