#pragma once
// Reverse-mode automatic differentiation: the graph node type, grad mode, backward/grad and
// gradcheck.
//
// The graph is built by running ops (define-by-run). Each op whose inputs require grad attaches
// a Node to its output; backward() walks the nodes reachable from the roots in topological order
// and accumulates into the .grad() of leaf tensors. A backward with create_graph records the
// gradient computation itself, so gradients can be differentiated again (double backward).

#include <lazynn/tensor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lazynn {

/// One backward function in the graph.
class Node {
public:
    virtual ~Node() = default;
    /// PyTorch's name for the node, e.g. "AddBackward0".
    virtual std::string name() const = 0;
    /// Gradients for each input (one per next edge, undefined where the input needs none).
    virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
    /// The same gradients, computed with grad mode on for a backward with create_graph. The
    /// default (a backward formula built from raw kernels) returns them with a history that raises
    /// NotImplementedError "double backward through <name> is not supported" if a later backward
    /// reaches it, never a silently zero second derivative.
    virtual std::vector<Tensor> apply_with_graph(const Tensor& grad_output);
    /// Drops saved tensors after a backward without retain_graph.
    virtual void release_saved() {}

    /// The nodes the gradients flow to, one per differentiable input (null where none).
    const std::vector<std::shared_ptr<Node>>& next_functions() const { return next_; }
    void set_next_functions(std::vector<std::shared_ptr<Node>> next) { next_ = std::move(next); }

    /// The non-leaf output whose retain_grad() asked to keep the gradient arriving here.
    std::weak_ptr<TensorImpl> retain_grad_target;

    /// Hooks of the non-leaf output (Tensor::register_hook), run in registration order on the
    /// gradient arriving here before apply(); each may return a replacement or an undefined tensor.
    /// An entry with an empty function marks where retain_grad() was called (PyTorch 1.13 keeps
    /// the gradient as the hooks registered before it left it).
    std::vector<std::pair<std::uint64_t, std::function<Tensor(const Tensor&)>>> pre_hooks;

private:
    std::vector<std::shared_ptr<Node>> next_;
};

/// Grad mode is thread-local and on by default.
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

/// Disables graph recording in its scope (thread-local), like `with torch.no_grad():`.
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

/// Enables graph recording in its scope (thread-local), also inside a NoGradGuard, like
/// `with torch.enable_grad():`.
class EnableGradGuard {
public:
    EnableGradGuard();
    ~EnableGradGuard();
    EnableGradGuard(const EnableGradGuard&) = delete;
    EnableGradGuard& operator=(const EnableGradGuard&) = delete;

private:
    bool previous_;
};

namespace autograd {

/// Backprop from several roots at once; gradients default to ones for one-element roots.
/// create_graph records the backward pass (the .grad()s get a history); retain_graph defaults
/// to create_graph, as in PyTorch.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false);

/// Gradients of `outputs` with respect to `inputs`, returned instead of accumulated into .grad().
/// An input the outputs do not depend on throws unless allow_unused (then it is undefined).
/// Arguments in PyTorch's order: with create_graph the results carry a history (gradient
/// penalties, Hessian-vector products) and retain_graph defaults to true.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, std::optional<bool> retain_graph = std::nullopt,
                         bool create_graph = false, bool allow_unused = false);

/// Runs `callback` once the backward pass running on this thread has finished (PyTorch's
/// `Variable._execution_engine.queue_callback`); throws RuntimeError outside a backward.
void queue_callback(std::function<void()> callback);

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-3;
};

struct GradcheckResult {
    bool ok = true;
    /// On failure: which input and element, and both Jacobian entries.
    std::string message;
    explicit operator bool() const { return ok; }
};

/// Compares the analytical Jacobian of fn (via backward) with central finite differences for
/// every float64 input that requires grad. fn may return any shape.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

/// Second-order check (PyTorch's gradgradcheck): with a fixed random upstream gradient v, the
/// function inputs -> (vector-Jacobian product of fn at inputs with v), computed by grad with
/// create_graph, is itself gradchecked against finite differences. The VJP is also differentiated
/// with respect to v. Inputs must be float64.
GradcheckResult gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                              const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace autograd
}  // namespace lazynn
