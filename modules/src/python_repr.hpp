#pragma once
// Formatting numbers the way PyTorch's repr prints them (internal).

#include <charconv>
#include <string>

namespace lazynn::nn::detail {

/// Python's repr of a float: the shortest round-trip digits, with ".0" on integral values.
inline std::string python_float(double v) {
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    std::string s(buffer, ec == std::errc() ? end : buffer);
    if (s.find_first_of(".eni") == std::string::npos) s += ".0";
    return s;
}

}  // namespace lazynn::nn::detail
