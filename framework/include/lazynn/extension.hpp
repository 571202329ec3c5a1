#pragma once
// Writing an op: the one public header for op authors (and for lazynn_nn, which has no access to the
// core's sources). It gives what the built-in ops use: recording a backward node with saved tensors,
// contiguous buffers, element-wise loops split across threads, parallel_for and GEMM.
//
// Example, y = x * x with its backward dy/dx = 2x (docs/custom-ops.md walks through it):
//
//     Tensor square(const Tensor& x) {
//         const Tensor in = extension::contiguous_data(x);
//         Tensor out = empty(in.shape(), in.dtype());
//         visit_floating(in.dtype(), "square", [&](auto tag) {
//             using T = typename decltype(tag)::type;
//             const T* a = in.data_ptr<T>();
//             T* y = out.data_ptr<T>();
//             extension::elementwise_chunks(in.numel(), [&](std::int64_t begin, std::int64_t end) {
//                 for (std::int64_t i = begin; i < end; ++i) y[i] = a[i] * a[i];
//             });
//         });
//         if (extension::needs_grad({&x})) {
//             extension::record_backward(out, "SquareBackward", {x}, [saved = extension::SavedTensor(in)](const Tensor& grad) {
//                 return std::vector<Tensor>{grad * saved.unpack() * 2.0};
//             });
//         }
//         return out;
//     }
//
// Contract of a backward function (the extension point):
//   requires: `grad` has the shape and dtype of the op's output; it runs with grad mode off unless
//             the node was recorded as differentiable (then create_graph sees its ops).
//   ensures:  one tensor per input passed to record_backward, in that order: the gradient with that
//             input's shape and dtype, or an undefined Tensor() where the input needs none. Saved
//             tensors are read through SavedTensor::unpack(), which throws when the tensor was
//             modified in place after being saved.

#include <lazynn/tensor.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <vector>

namespace lazynn::extension {

/// A tensor saved for backward: an alias without autograd state (so saving an op's own output
/// makes no reference cycle) plus the storage version at save time, checked on unpack.
class SavedTensor {
public:
    SavedTensor() = default;
    explicit SavedTensor(const Tensor& t);
    /// The saved tensor; throws RuntimeError (PyTorch's message) when it was modified in place since.
    Tensor unpack() const;

private:
    Tensor alias_;
    std::uint64_t version_ = 0;
};

/// A backward function: the output's gradient in, one gradient per recorded input out.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

/// True when grad mode is on and any input requires grad: only then is a node worth recording.
bool needs_grad(std::initializer_list<const Tensor*> inputs);

/// Makes `out` the output of a new autograd node named `name` (what grad_fn().name() shows) over
/// `inputs` (undefined ones allowed, e.g. a missing bias). `backward` may use raw kernels; double
/// backward through the node then raises. With `differentiable`, `backward` must use only recording
/// tensor ops on its gradient (anything read from saved tensors locally constant), and double
/// backward differentiates through it. `saves_tensors`: whether `backward` unpacks SavedTensors
/// (the node then refuses a second backward without retain_graph, as PyTorch does).
/// requires: `out` is a fresh tensor this op created; ensures: out.grad_fn() is the new node.
void record_backward(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward,
                     bool saves_tensors = true, bool differentiable = false);

/// `t` itself when it is contiguous, else a contiguous copy; never records autograd history. The
/// result's data_ptr<T>() then walks the elements in row-major order.
Tensor contiguous_data(const Tensor& t);

/// Runs fn(begin, end) over disjoint chunks covering [0, n) on lazynn's intra-op threads, at most
/// one chunk per thread and each at least `grain` long (fewer than two grains: one call on the
/// caller). Returns when every chunk has run. A parallel_for inside a chunk runs serially.
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

/// Elements per chunk below which an element-wise loop runs on the calling thread.
inline constexpr std::int64_t kElementwiseGrain = std::int64_t{1} << 16;

/// Runs body(begin, end) over [0, n): on the caller when n is under two grains, else split across
/// threads with parallel_for. The loop shape every element-wise kernel uses.
template <class Body>
void elementwise_chunks(std::int64_t n, Body&& body, std::int64_t grain = kElementwiseGrain) {
    if (n < 2 * grain) {
        body(std::int64_t{0}, n);
        return;
    }
    parallel_for(n, grain, body);
}

/// Row-major GEMM: c[m, n] = alpha * op(a)[m, k] op(b)[k, n] + beta * c, op = transpose when
/// `transpose_a` / `transpose_b`; lda, ldb, ldc are row strides. float32 runs on oneDNN, float64 on
/// OpenBLAS, large products split across threads. beta = 0 ignores c's previous contents.
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
          std::int64_t ldc);

}  // namespace lazynn::extension
