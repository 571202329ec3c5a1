#pragma once
// The building blocks ops use to record their backward: SavedTensor, FunctionNode and
// record_backward() (internal header).

#include "tensor_impl.hpp"

#include <lazynn/extension.hpp>

#include <lazynn/autograd.hpp>

#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <vector>

namespace lazynn::autograd::detail {

/// Saved tensors are the public extension::SavedTensor (lazynn/extension.hpp).
using SavedTensor = lazynn::extension::SavedTensor;

using BackwardFn = std::function<std::vector<Tensor>(const Tensor&)>;

/// A node's forward inputs as its differentiable backward formula sees them: the values saved at
/// record time (version-checked on use) joined again to the history they had (the node's next
/// functions), so ops on them record a graph that reaches the inputs' own history.
class BackwardInputs {
public:
    BackwardInputs(const std::vector<SavedTensor>& saved, const std::vector<std::shared_ptr<Node>>& edges)
        : saved_(saved), edges_(edges) {}
    /// Input i with its history (unpacked lazily, so an unused input may have been modified).
    Tensor operator[](std::size_t i) const;
    /// True when input i needs a gradient.
    bool needs(std::size_t i) const { return i < edges_.size() && edges_[i] != nullptr; }

private:
    const std::vector<SavedTensor>& saved_;
    const std::vector<std::shared_ptr<Node>>& edges_;
};

/// A backward formula written with differentiable tensor ops, run for create_graph.
using GraphBackwardFn = std::function<std::vector<Tensor>(const Tensor&, const BackwardInputs&)>;

/// Marks a fast backward closure that is itself differentiable: it uses only recording tensor ops
/// on the gradient, and anything it reads from saved tensors is locally constant (masks, indices).
struct Differentiable {};
inline constexpr Differentiable kDifferentiable{};

/// A node whose backward is a closure. Closures that capture SavedTensors are dropped after a
/// backward without retain_graph; running them again raises PyTorch's "second time" error. For
/// create_graph it runs graph_fn (when given) or fn itself when fn is differentiable; otherwise
/// Node's default delays an error to the double backward.
class FunctionNode final : public Node {
public:
    FunctionNode(const char* name, BackwardFn fn, bool saves_tensors)
        : name_(name), fn_(std::move(fn)), saves_tensors_(saves_tensors) {}
    std::string name() const override { return name_; }
    std::vector<Tensor> apply(const Tensor& grad_output) override;
    std::vector<Tensor> apply_with_graph(const Tensor& grad_output) override;
    void release_saved() override {
        if (saves_tensors_) fn_ = nullptr;
        if (graph_fn_) graph_released_ = true;
        graph_fn_ = nullptr;
        saved_inputs_.clear();
    }
    void set_graph_formula(GraphBackwardFn fn, std::vector<SavedTensor> inputs) {
        graph_fn_ = std::move(fn);
        saved_inputs_ = std::move(inputs);
    }
    void set_fast_differentiable() { fast_differentiable_ = true; }

private:
    const char* name_;
    BackwardFn fn_;
    bool saves_tensors_;
    bool fast_differentiable_ = false;
    bool graph_released_ = false;
    GraphBackwardFn graph_fn_;
    std::vector<SavedTensor> saved_inputs_;
};

/// The node a non-differentiable backward's results get under create_graph: reaching it in a
/// later backward raises NotImplementedError naming the node.
class DelayedError final : public Node {
public:
    explicit DelayedError(std::string node) : node_(std::move(node)) {}
    std::string name() const override { return "DelayedError"; }
    std::vector<Tensor> apply(const Tensor& grad_output) override;
    std::vector<Tensor> apply_with_graph(const Tensor& grad_output) override { return apply(grad_output); }

private:
    std::string node_;
};

/// Accumulates incoming gradients into a leaf's .grad().
class AccumulateGrad final : public Node {
public:
    explicit AccumulateGrad(std::shared_ptr<TensorImpl> variable) : variable_(std::move(variable)) {}
    std::string name() const override { return "AccumulateGrad"; }
    std::vector<Tensor> apply(const Tensor& grad_output) override;
    std::vector<Tensor> apply_with_graph(const Tensor& grad_output) override { return apply(grad_output); }
    const std::shared_ptr<TensorImpl>& variable() const { return variable_; }

private:
    std::shared_ptr<TensorImpl> variable_;
};

/// hook(grad), or grad when the hook returns nothing; a replacement must keep shape and dtype.
Tensor run_grad_hook(const std::function<Tensor(const Tensor&)>& hook, const Tensor& grad);

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

/// Makes `out` a non-leaf output of a new FunctionNode over `inputs`. fn is the fast backward (raw
/// kernels allowed). Without a graph formula, double backward through the node raises.
FunctionNode& record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
                     bool saves_tensors);
/// The same, with graph_fn computing the gradients with differentiable ops for create_graph (the
/// inputs are saved for it).
FunctionNode& record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
                     bool saves_tensors, GraphBackwardFn graph_fn);
/// The same, where fn itself is differentiable (see Differentiable).
FunctionNode& record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
                     bool saves_tensors, Differentiable);

/// A number for the backward pass running on this thread, unique in the process; 0 outside one.
/// Nodes that share state across one pass (unbind's pieces fill one gradient) key it by this.
std::uint64_t current_backward_pass() noexcept;

/// Sums `grad` over broadcast dimensions so it has `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace lazynn::autograd::detail
