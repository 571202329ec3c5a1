#pragma once
// Element types. float32 is the default; float64 serves gradient checks; int64 holds indices
// and labels; bool holds masks (comparisons return it, as in PyTorch); bfloat16 and float16 hold
// values in 16 bits, computed on in float32 (lazynn/float16.hpp).

#include <lazynn/float16.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace lazynn {

enum class Dtype : std::uint8_t { Float32, Float64, Int64, Bool, BFloat16, Float16 };

inline constexpr Dtype kFloat32 = Dtype::Float32;
inline constexpr Dtype kFloat64 = Dtype::Float64;
inline constexpr Dtype kInt64 = Dtype::Int64;
inline constexpr Dtype kBool = Dtype::Bool;
inline constexpr Dtype kBFloat16 = Dtype::BFloat16;
inline constexpr Dtype kFloat16 = Dtype::Float16;
/// PyTorch's other name for float16.
inline constexpr Dtype kHalf = Dtype::Float16;

/// "float32", "float64", "int64", "bool", "bfloat16", "float16" (PyTorch's names after "torch.").
std::string dtype_name(Dtype dtype);
/// Bytes per element.
std::size_t dtype_size(Dtype dtype);
/// The 16-bit floating types, which ops compute on in float32.
inline bool is_float16(Dtype dtype) { return dtype == Dtype::BFloat16 || dtype == Dtype::Float16; }
inline bool is_floating(Dtype dtype) { return dtype == Dtype::Float32 || dtype == Dtype::Float64 || is_float16(dtype); }
/// The dtype an op computes in for a tensor of `dtype`: float32 for the 16-bit types (PyTorch's
/// CPU kernels load bfloat16/float16, compute in float and round the result once), else `dtype`.
inline Dtype compute_dtype(Dtype dtype) { return is_float16(dtype) ? Dtype::Float32 : dtype; }
/// PyTorch's promotion for two tensors: float64 wins, then float32; bfloat16 with float16 is
/// float32; a 16-bit type wins over int64 and bool; then int64, then bool.
Dtype promote_types(Dtype a, Dtype b);

template <class T>
constexpr Dtype dtype_of() {
    if constexpr (std::is_same_v<T, float>)
        return Dtype::Float32;
    else if constexpr (std::is_same_v<T, double>)
        return Dtype::Float64;
    else if constexpr (std::is_same_v<T, bool>)
        return Dtype::Bool;
    else if constexpr (std::is_same_v<T, BFloat16>)
        return Dtype::BFloat16;
    else if constexpr (std::is_same_v<T, Half>)
        return Dtype::Float16;
    else {
        static_assert(std::is_same_v<T, std::int64_t>,
                      "lazynn tensors hold float, double, int64_t, bool, BFloat16 or Half");
        return Dtype::Int64;
    }
}

template <class T>
struct TypeTag {
    using type = T;
};

[[noreturn]] void throw_needs_floating(const char* op, Dtype got);
/// DtypeError: `op` computes in float32/float64 only and was given a 16-bit tensor.
[[noreturn]] void throw_float16_unsupported(const char* op, Dtype got);

/// Calls fn(TypeTag<T>{}) with the C++ type of `dtype`, for the four dtypes kernels compute in
/// (float, double, int64_t, bool). A bfloat16 or float16 tensor reaching it throws DtypeError: ops
/// convert those to compute_dtype() first, so no kernel computes in 16 bits.
template <class Fn>
decltype(auto) visit_dtype(Dtype dtype, Fn&& fn) {
    switch (dtype) {
        case Dtype::Float64:
            return fn(TypeTag<double>{});
        case Dtype::Int64:
            return fn(TypeTag<std::int64_t>{});
        case Dtype::Bool:
            return fn(TypeTag<bool>{});
        case Dtype::BFloat16:
        case Dtype::Float16:
            throw_float16_unsupported("this operation", dtype);
        case Dtype::Float32:
            break;
    }
    return fn(TypeTag<float>{});
}

/// Like visit_dtype over all six element types, BFloat16 and Half included: for kernels that
/// only move, fill or convert elements (copies, gathers, concatenation, conversion).
template <class Fn>
decltype(auto) visit_storage_dtype(Dtype dtype, Fn&& fn) {
    switch (dtype) {
        case Dtype::BFloat16:
            return fn(TypeTag<BFloat16>{});
        case Dtype::Float16:
            return fn(TypeTag<Half>{});
        case Dtype::Float32:
        case Dtype::Float64:
        case Dtype::Int64:
        case Dtype::Bool:
            break;
    }
    return visit_dtype(dtype, std::forward<Fn>(fn));
}

/// Like visit_dtype, for float32 and float64 only; int64 and bool throw DtypeError naming `op`, as
/// do the 16-bit types (ops convert those to float32 before they get here).
template <class Fn>
decltype(auto) visit_floating(Dtype dtype, const char* op, Fn&& fn) {
    if (dtype == Dtype::Float64) return fn(TypeTag<double>{});
    if (is_float16(dtype)) throw_float16_unsupported(op, dtype);
    if (dtype != Dtype::Float32) throw_needs_floating(op, dtype);
    return fn(TypeTag<float>{});
}

}  // namespace lazynn
