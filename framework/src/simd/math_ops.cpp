// Tensor-level entry points of the SIMD math kernels; see math_ops.hpp.
#include "simd/math_ops.hpp"

#include "ops/elementwise.hpp"
#include "simd/dispatch.hpp"

namespace lazynn::simd {
namespace {

/// kernel(x, y, n) over a contiguous copy of t in its floating dtype.
template <class Kernel>
Tensor map_floating(const Tensor& t, const char* name, Kernel kernel) {
    const TensorImpl& in_impl = lazynn::detail::checked(t, name);
    if (is_float16(in_impl.dtype)) {
        // Computed in float32 and rounded once, as PyTorch's kernels do.
        return kernels::converted(map_floating(kernels::converted(t, kFloat32), name, kernel), in_impl.dtype);
    }
    const Dtype dtype = in_impl.dtype == kInt64 ? kFloat32 : in_impl.dtype;
    const Tensor in = lazynn::detail::contiguous_data(kernels::converted(t, dtype));
    Tensor out = lazynn::detail::empty_tensor(in_impl.shape, dtype);
    visit_floating(dtype, name, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* x = in.impl().data<T>();
        T* y = out.impl().data<T>();
        kernels::elementwise_chunks(
            out.impl().numel(),
            [&](std::int64_t begin, std::int64_t end) { kernel(x + begin, y + begin, end - begin); },
            kernels::kTranscendentalGrain);
    });
    return out;
}

}  // namespace

Tensor math(const Tensor& t, const char* name, MathFunction f) {
    return map_floating(t, name, [f](const auto* x, auto* y, std::int64_t n) {
        dispatch([&](auto arch) { MathKernels<decltype(arch)>::map(f, x, y, n); });
    });
}

Tensor softplus(const Tensor& t, double beta, double threshold) {
    return map_floating(t, "softplus", [beta, threshold](const auto* x, auto* y, std::int64_t n) {
        dispatch([&](auto arch) { MathKernels<decltype(arch)>::softplus(x, y, n, beta, threshold); });
    });
}

}  // namespace lazynn::simd
