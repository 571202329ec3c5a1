#pragma once
// Formatting numbers the way PyTorch's repr prints them (internal).

#include <charconv>
#include <cmath>
#include <string>

namespace lazynn::nn::detail {

/// Python's repr of a float: the shortest round-trip digits, in scientific notation when the
/// exponent is below -4 or at least 16, else fixed with ".0" on integral values.
inline std::string python_float(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buffer[64];
    const int exponent = v == 0 ? 0 : static_cast<int>(std::floor(std::log10(std::abs(v))));
    const bool scientific = exponent < -4 || exponent >= 16;
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v,
                                         scientific ? std::chars_format::scientific : std::chars_format::fixed);
    std::string s(buffer, ec == std::errc() ? end : buffer);
    if (!scientific && s.find('.') == std::string::npos) s += ".0";
    return s;
}

}  // namespace lazynn::nn::detail
