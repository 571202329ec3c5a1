#pragma once
// What every optimizer's update shares: lazily created state buffers and the fused pass over a
// parameter's elements (one loop updating the parameter and its buffers together).
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/optim/optimizer.hpp>

#include <cmath>
#include <type_traits>

namespace lazynn::optim::detail {

inline Tensor& ensure(Tensor& buffer, const Parameter& p, double fill = 0.0) {
    if (!buffer.defined()) buffer = full(p.shape(), fill, p.dtype());
    return buffer;
}

/// Runs body(T* param, const T* grad, n) on contiguous data of the parameter's dtype.
/// Elements per thread below which an update runs on the calling thread.
inline constexpr std::int64_t kUpdateGrain = std::int64_t{1} << 15;

template <class Body>
void fused(Parameter& p, const Tensor& grad, const char* name, Body body) {
    TensorImpl& impl = p.impl();
    if (!impl.is_contiguous()) throw RuntimeError(std::string(name) + ": parameters must be contiguous");
    if (grad.shape() != impl.shape) {
        throw ShapeError(std::string(name) + ": gradient of shape " + shape_to_list(grad.shape()) +
                         " for a parameter of shape " + shape_to_list(impl.shape));
    }
    const Tensor g = lazynn::detail::contiguous_data(grad.dtype() == impl.dtype ? grad : grad.to(impl.dtype));
    visit_floating(impl.dtype, name, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* w = impl.data<T>();
        const T* gv = g.impl().template data<T>();
        // Elementwise over the parameter: large ones are split across threads.
        lazynn::detail::parallel_for(impl.numel(), kUpdateGrain,
                                     [&](std::int64_t begin, std::int64_t end) { body(w, gv, begin, end); });
    });
    impl.storage->bump_version();
}

template <class T>
T* data(Tensor& t) {
    return t.impl().data<T>();
}

}  // namespace lazynn::optim::detail
