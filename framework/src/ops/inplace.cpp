// In-place arithmetic. Without autograd the kernel writes straight into self's storage. With
// autograd the out-of-place op runs on a clone of self (so its saved inputs stay intact), the
// result is written back and becomes self's history.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

namespace lazynn {
namespace {

template <class Kernel, class OutOfPlace>
Tensor& inplace(Tensor& self, const Tensor& other, const char* name, Kernel kernel, OutOfPlace out_of_place) {
    TensorImpl& impl = detail::checked(self, name);
    detail::checked(other, name);
    if (detail::prepare_inplace(self, {&other}, name)) {
        const Tensor result = out_of_place(self.clone(), other);
        if (result.shape() != impl.shape) {
            throw ShapeError(std::string(name) + ": output with shape " + shape_to_list(impl.shape) +
                             " doesn't match the broadcast shape " + shape_to_list(result.shape()));
        }
        detail::commit_inplace(self, result);
    } else {
        kernels::binary_inplace(impl, other, name, kernel);
    }
    return self;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
    if (alpha == 1.0) {
        return inplace(
            *this, other, "add_", [](auto x, auto y) { return x + y; },
            [](const Tensor& a, const Tensor& b) { return add(a, b); });
    }
    return inplace(
        *this, other, "add_", [alpha](auto x, auto y) { return x + alpha * y; },
        [alpha](const Tensor& a, const Tensor& b) { return add(a, b, alpha); });
}

Tensor& Tensor::sub_(const Tensor& other) {
    return inplace(
        *this, other, "sub_", [](auto x, auto y) { return x - y; },
        [](const Tensor& a, const Tensor& b) { return sub(a, b); });
}

Tensor& Tensor::mul_(const Tensor& other) {
    return inplace(
        *this, other, "mul_", [](auto x, auto y) { return x * y; },
        [](const Tensor& a, const Tensor& b) { return mul(a, b); });
}

Tensor& Tensor::div_(const Tensor& other) {
    if (dtype() == kInt64) {
        throw DtypeError("div_: result type Float can't be cast to the desired output type Long; use div() instead");
    }
    return inplace(
        *this, other, "div_", [](auto x, auto y) { return x / y; },
        [](const Tensor& a, const Tensor& b) { return div(a, b); });
}

Tensor& Tensor::add_(double other) { return add_(kernels::scalar_like(*this, other)); }
Tensor& Tensor::sub_(double other) { return sub_(kernels::scalar_like(*this, other)); }
Tensor& Tensor::mul_(double other) { return mul_(kernels::scalar_like(*this, other)); }
Tensor& Tensor::div_(double other) { return div_(kernels::scalar_like(*this, other)); }

Tensor& Tensor::clamp_(double min, double max) {
    TensorImpl& impl = detail::checked(*this, "clamp_");
    if (detail::prepare_inplace(*this, {}, "clamp_")) {
        detail::commit_inplace(*this, clone().clamp(min, max));
        return *this;
    }
    if (impl.dtype == kInt64 && (std::floor(min) != min || std::floor(max) != max)) {
        throw DtypeError(
            "clamp_: result type Float can't be cast to the desired output type Long; use clamp() "
            "instead");
    }
    // PyTorch's min(max(x, min), max): NaN stays, min > max gives max.
    kernels::binary_inplace(impl, scalar_tensor(0.0, impl.dtype), "clamp_", [min, max](auto x, auto) {
        using T = decltype(x);
        if (x != x) return x;
        // Compared in double, so an infinite bound is never cast to int64.
        const T low = static_cast<double>(x) < min ? T(min) : x;
        return static_cast<double>(low) > max ? T(max) : low;
    });
    return *this;
}

Tensor& operator+=(Tensor& a, const Tensor& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Tensor& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Tensor& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Tensor& b) { return a.div_(b); }
Tensor& operator+=(Tensor& a, double b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, double b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, double b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, double b) { return a.div_(b); }

}  // namespace lazynn
