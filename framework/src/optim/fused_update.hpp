#pragma once
// What every optimizer's update shares: lazily created state buffers and the fused pass over a
// parameter's elements (one loop updating the parameter and its buffers together).
#include "ops/strided.hpp"
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/optim/optimizer.hpp>

#include <cmath>
#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

namespace lazynn::optim::detail {

inline Tensor& ensure(Tensor& buffer, const Parameter& p, double fill = 0.0) {
    if (!buffer.defined()) buffer = full(p.shape(), fill, p.dtype());
    return buffer;
}

/// Elements per thread below which an update runs on the calling thread.
inline constexpr std::int64_t kUpdateGrain = std::int64_t{1} << 15;

/// The per-element state buffers an update reads and writes besides the parameter (undefined
/// ones, e.g. an option's buffer that is off, are skipped).
using StateBuffers = std::initializer_list<Tensor*>;

/// While alive, the parameter's 16-bit state buffers are float32 copies; on destruction each value
/// is rounded back into the 16-bit buffer once and the buffer put back.
class WidenedState {
public:
    explicit WidenedState(StateBuffers buffers) {
        held_.reserve(buffers.size());
        try {
            for (Tensor* buffer : buffers) {
                if (buffer == nullptr || !buffer->defined()) continue;
                Tensor wide = buffer->to(kFloat32);
                held_.emplace_back(buffer, std::exchange(*buffer, std::move(wide)));
            }
        } catch (...) {
            narrow_back();  // the buffers widened so far are put back as they were
            throw;
        }
    }
    ~WidenedState() { narrow_back(); }
    WidenedState(const WidenedState&) = delete;
    WidenedState& operator=(const WidenedState&) = delete;

private:
    void narrow_back() {
        for (auto& [buffer, narrow] : held_) {
            kernels::copy_strided(narrow.impl(), buffer->impl());
            *buffer = std::move(narrow);
        }
        held_.clear();
    }

    std::vector<std::pair<Tensor*, Tensor>> held_;
};

/// Runs body(T* param, const T* grad, begin, end) over contiguous data of the parameter's dtype,
/// split across threads. requires: the parameter is contiguous and the gradient has its shape;
/// `state` lists every per-element buffer the body reads through `data<T>()`.
/// A 16-bit parameter (bfloat16, float16) keeps its state in its own dtype, as PyTorch does; the
/// body then runs with T = float on widened copies of the parameter, gradient and state, and each
/// stored value is rounded once (PyTorch's update on 16-bit tensors rounds after every op).
template <class Body>
void fused(Parameter& p, const Tensor& grad, const char* name, StateBuffers state, Body body) {
    TensorImpl& impl = p.impl();
    if (!impl.is_contiguous()) throw RuntimeError(std::string(name) + ": parameters must be contiguous");
    if (grad.shape() != impl.shape) {
        throw ShapeError(std::string(name) + ": gradient of shape " + shape_to_list(grad.shape()) +
                         " for a parameter of shape " + shape_to_list(impl.shape));
    }
    if (is_float16(impl.dtype)) {
        const Tensor g = lazynn::detail::contiguous_data(grad.detach().to(kFloat32));
        Tensor w = p.detach().to(kFloat32);
        {
            const WidenedState widened(state);
            float* wv = w.impl().data<float>();
            const float* gv = g.impl().data<float>();
            lazynn::detail::parallel_for(impl.numel(), kUpdateGrain,
                                         [&](std::int64_t begin, std::int64_t end) { body(wv, gv, begin, end); });
        }
        kernels::copy_strided(impl, w.impl());
        impl.storage->bump_version();
        return;
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
