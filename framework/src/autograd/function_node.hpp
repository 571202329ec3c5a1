#pragma once
// The building blocks ops use to record their backward: SavedTensor, FunctionNode and
// record_backward() (internal header).

#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <vector>

namespace lazynn::autograd::detail {

/// A tensor saved for backward: an alias without autograd state (so saving an op's own output
/// makes no reference cycle) plus the storage version at save time, checked on unpack.
class SavedTensor {
public:
    SavedTensor() = default;
    explicit SavedTensor(const Tensor& t);
    Tensor unpack() const;

private:
    Tensor alias_;
    std::uint64_t version_ = 0;
};

using BackwardFn = std::function<std::vector<Tensor>(const Tensor&)>;

/// A node whose backward is a closure. Closures that capture SavedTensors are dropped after a
/// backward without retain_graph; running them again raises PyTorch's "second time" error.
class FunctionNode final : public Node {
public:
    FunctionNode(const char* name, BackwardFn fn, bool saves_tensors)
        : name_(name), fn_(std::move(fn)), saves_tensors_(saves_tensors) {}
    std::string name() const override { return name_; }
    std::vector<Tensor> apply(const Tensor& grad_output) override;
    void release_saved() override {
        if (saves_tensors_) fn_ = nullptr;
    }

private:
    const char* name_;
    BackwardFn fn_;
    bool saves_tensors_;
};

/// Accumulates incoming gradients into a leaf's .grad().
class AccumulateGrad final : public Node {
public:
    explicit AccumulateGrad(std::shared_ptr<TensorImpl> variable) : variable_(std::move(variable)) {}
    std::string name() const override { return "AccumulateGrad"; }
    std::vector<Tensor> apply(const Tensor& grad_output) override;
    const std::shared_ptr<TensorImpl>& variable() const { return variable_; }

private:
    std::shared_ptr<TensorImpl> variable_;
};

/// The mutex serialising a tensor's gradient accumulation and its lazily built autograd state
/// (AccumulateGrad, rebuilt view history). One of a fixed table picked by the impl's address, so
/// backward passes on several threads that reach one leaf add their gradients one at a time.
std::mutex& autograd_mutex(const TensorImpl* impl);

/// A view's history after in-place writes (PyTorch's semantics): when any alias of its storage was
/// written in place since the view's grad_fn was made, the grad_fn becomes an AsStridedBackward0
/// over the base's current history. Multi-output views (split, chunk) throw PyTorch's error instead.
void refresh_view_history(const Tensor& view);

/// An in-place write of `result` into the view `view` (data already written): the base's history
/// becomes CopySlices (the old history outside the view, result's inside) and the view's is rebuilt.
void rebase_view_history(const Tensor& view, const Tensor& result);

/// True when grad mode is on and any input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

/// The node a gradient for `t` flows into: its grad_fn, its (cached) AccumulateGrad if it is a
/// leaf requiring grad, or null.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

/// Makes `out` a non-leaf output of a new FunctionNode over `inputs`.
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn, bool saves_tensors);

/// Sums `grad` over broadcast dimensions so it has `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace lazynn::autograd::detail
