#pragma once
// What every optimizer's update shares: lazily created state buffers and the fused pass over a
// parameter's elements (one loop updating the parameter and its buffers together).
#include "ops/strided.hpp"
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/optim/optimizer.hpp>

#include <cmath>
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

/// While alive, the state tensors that are 16-bit (bfloat16, float16) are float32 copies; on
/// destruction each value is rounded back into its 16-bit tensor once and the tensor put back.
/// The tensors are the state's own list (State::tensors(), which state_dict also walks), so a new
/// buffer cannot be left out and then read through data<float>() as 16-bit bits.
class WidenedState {
public:
    explicit WidenedState(const std::vector<std::pair<const char*, Tensor*>>& tensors) {
        held_.reserve(tensors.size());
        try {
            for (const auto& entry : tensors) {
                Tensor* buffer = entry.second;
                if (!buffer->defined() || !is_float16(buffer->dtype())) continue;
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
/// every per-element buffer the body reads through `data<T>()` is in `state.tensors()`.
/// A 16-bit parameter (bfloat16, float16) keeps its state in its own dtype, as PyTorch does; the
/// body then runs with T = float on widened copies of the parameter, gradient and state, and each
/// stored value is rounded once (PyTorch's update on 16-bit tensors rounds after every op).
template <class State, class Body>
void fused(Parameter& p, const Tensor& grad, const char* name, State& state, Body body) {
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
            const WidenedState widened(state.tensors());
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
