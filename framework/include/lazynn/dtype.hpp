#pragma once
// Element types. float32 is the default; float64 serves gradient checks; int64 holds indices
// and labels; bool holds masks (comparisons return it, as in PyTorch).

#include <cstdint>
#include <string>
#include <type_traits>

namespace lazynn {

enum class Dtype : std::uint8_t { Float32, Float64, Int64, Bool };

inline constexpr Dtype kFloat32 = Dtype::Float32;
inline constexpr Dtype kFloat64 = Dtype::Float64;
inline constexpr Dtype kInt64 = Dtype::Int64;
inline constexpr Dtype kBool = Dtype::Bool;

/// "float32", "float64", "int64", "bool".
std::string dtype_name(Dtype dtype);
/// Bytes per element.
std::size_t dtype_size(Dtype dtype);
inline bool is_floating(Dtype dtype) { return dtype == Dtype::Float32 || dtype == Dtype::Float64; }
/// PyTorch's promotion for two tensors: any float64 wins, then float32, then int64, then bool.
Dtype promote_types(Dtype a, Dtype b);

template <class T>
constexpr Dtype dtype_of() {
    if constexpr (std::is_same_v<T, float>)
        return Dtype::Float32;
    else if constexpr (std::is_same_v<T, double>)
        return Dtype::Float64;
    else if constexpr (std::is_same_v<T, bool>)
        return Dtype::Bool;
    else {
        static_assert(std::is_same_v<T, std::int64_t>, "lazynn tensors hold float, double, int64_t or bool");
        return Dtype::Int64;
    }
}

template <class T>
struct TypeTag {
    using type = T;
};

/// Calls fn(TypeTag<T>{}) with the C++ type of `dtype`.
template <class Fn>
decltype(auto) visit_dtype(Dtype dtype, Fn&& fn) {
    switch (dtype) {
        case Dtype::Float64:
            return fn(TypeTag<double>{});
        case Dtype::Int64:
            return fn(TypeTag<std::int64_t>{});
        case Dtype::Bool:
            return fn(TypeTag<bool>{});
        case Dtype::Float32:
            break;
    }
    return fn(TypeTag<float>{});
}

/// Like visit_dtype, for the floating types only; int64 and bool throw DtypeError naming `op`.
template <class Fn>
decltype(auto) visit_floating(Dtype dtype, const char* op, Fn&& fn);

[[noreturn]] void throw_needs_floating(const char* op, Dtype got);

template <class Fn>
decltype(auto) visit_floating(Dtype dtype, const char* op, Fn&& fn) {
    if (dtype == Dtype::Float64) return fn(TypeTag<double>{});
    if (dtype != Dtype::Float32) throw_needs_floating(op, dtype);
    return fn(TypeTag<float>{});
}

}  // namespace lazynn
