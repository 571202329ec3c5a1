#pragma once
// Shared by the fuzz harnesses (tests/fuzz, docs/fuzzing.md). Every reader of outside bytes takes
// a path, so each input is written to a private temporary file first. The contract under test:
// any input either loads or throws a lazynn::Error; anything else (a crash, a sanitizer report, a
// standard exception escaping, a hang) is a bug, and libFuzzer reports an escaping exception as a
// crash because nothing here catches it.

#include <lazynn/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace lazynn::fuzz {

/// A file name private to this process, in memory when /dev/shm exists (a fuzzer writes it
/// hundreds of thousands of times).
inline const std::string& scratch_path(const char* suffix) {
    static const std::string path = [&] {
        const std::filesystem::path dir =
            std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
        return (dir / ("lazynn_fuzz_" + std::to_string(::getpid()) + suffix)).string();
    }();
    return path;
}

/// Writes the input to the scratch file and returns its path.
inline const std::string& write_input(const std::uint8_t* data, std::size_t size, const char* suffix) {
    const std::string& path = scratch_path(suffix);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
        std::perror(path.c_str());
        std::abort();  // the harness itself failed, not the code under test
    }
    return path;
}

/// Runs `body`, accepting only lazynn::Error as a failure mode.
template <class Body>
void expect_only_lazynn_errors(Body body) {
    try {
        body();
    } catch (const lazynn::Error&) {
        // the documented way to reject bad input
    }
}

}  // namespace lazynn::fuzz
