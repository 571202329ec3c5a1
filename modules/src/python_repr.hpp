#pragma once
// Formatting numbers and sizes the way PyTorch's repr prints them (internal).

#include <lazynn/nn/conv.hpp>

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

/// PyTorch prints layer sizes as given: an int stays an int, a tuple prints as a tuple
/// (AvgPool1d always stores a 1-tuple: force_tuple).
template <std::size_t N>
std::string tuple_or_int(const ExpandingArray<N>& a, bool force_tuple = false) {
    if (a.scalar && !force_tuple) return std::to_string(a[0]);
    if (N == 1) return "(" + std::to_string(a[0]) + ",)";
    std::string s = "(";
    for (std::size_t i = 0; i < N; ++i) s += (i ? ", " : "") + std::to_string(a[i]);
    return s + ")";
}

}  // namespace lazynn::nn::detail
