// The backward engine: dependency counting over the reachable graph, then a topological walk
// that sums gradients per node and hands them to each node's apply().
#include "autograd/function_node.hpp"

#include <lazynn/autocast.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace lazynn {
namespace {
thread_local bool grad_enabled = true;
}

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }
NoGradGuard::NoGradGuard() : previous_(grad_enabled) { grad_enabled = false; }
NoGradGuard::~NoGradGuard() { grad_enabled = previous_; }
EnableGradGuard::EnableGradGuard() : previous_(grad_enabled) { grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { grad_enabled = previous_; }

namespace autograd {
namespace {

using detail::AccumulateGrad;

struct Run {
    std::vector<std::shared_ptr<Node>> roots;
    std::vector<Tensor> root_grads;
    bool retain_graph = false;
    bool create_graph = false;
    bool accumulate = true;                                 // false for autograd::grad()
    std::unordered_map<Node*, Tensor>* captured = nullptr;  // gradients arriving at these nodes
};

Tensor root_gradient(const Tensor& root, const Tensor& given, std::size_t index) {
    if (given.defined()) {
        if (given.shape() != root.shape()) {
            throw ShapeError("backward: Mismatch in shape: grad_output[" + std::to_string(index) + "] has a shape of " +
                             shape_to_list(given.shape()) + " and output[" + std::to_string(index) +
                             "] has a shape of " + shape_to_list(root.shape()) + ".");
        }
        return given;
    }
    if (root.numel() != 1) {
        throw RuntimeError("grad can be implicitly created only for scalar outputs (output " + std::to_string(index) +
                           " has shape " + shape_to_list(root.shape()) + "); pass a gradient of the same shape");
    }
    return ones_like(root);
}

/// The gradient summed so far for one node's input, and whether the engine made that tensor
/// itself (then no one else holds it, and later terms may be added in place).
struct PendingGrad {
    Tensor sum;
    bool owned = false;
};

/// Adds `g` to what `node` has received. The first sum is a new tensor, later terms go into it in
/// place (as PyTorch's InputBuffer does): a weight used at each of T time steps then costs T - 1
/// additions, not T - 1 allocations as well. The terms themselves are never written: the same
/// gradient may be held elsewhere (handed to both inputs of an add, retained as a .grad). With
/// create_graph the sum stays out of place, so it records its history.
void accumulate_into(std::unordered_map<Node*, PendingGrad>& grads, Node* node, const Tensor& g) {
    auto [it, inserted] = grads.try_emplace(node, PendingGrad{g, false});
    if (inserted) return;
    PendingGrad& pending = it->second;
    if (!pending.sum.defined()) {
        pending = PendingGrad{g, false};
    } else if (pending.owned && !is_grad_enabled() && pending.sum.shape() == g.shape() &&
               pending.sum.dtype() == g.dtype()) {
        pending.sum.add_(g);
    } else {
        pending.sum = pending.sum + g;
        pending.owned = true;
    }
}

/// The callbacks queued during the backward running on this thread (null outside one).
thread_local std::vector<std::function<void()>>* queued_callbacks = nullptr;

/// Installs a run's callback list for the duration of execute(), restoring the outer one after.
class CallbackScope {
public:
    explicit CallbackScope(std::vector<std::function<void()>>& list) : previous_(queued_callbacks) {
        queued_callbacks = &list;
    }
    ~CallbackScope() { queued_callbacks = previous_; }
    CallbackScope(const CallbackScope&) = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;

private:
    std::vector<std::function<void()>>* previous_;
};

/// Grad mode for the duration of a backward: off, or on with create_graph (recording the pass).
class GradModeScope {
public:
    explicit GradModeScope(bool enabled) : previous_(is_grad_enabled()) { set_grad_enabled(enabled); }
    ~GradModeScope() { set_grad_enabled(previous_); }
    GradModeScope(const GradModeScope&) = delete;
    GradModeScope& operator=(const GradModeScope&) = delete;

private:
    bool previous_;
};

/// Keeps the gradient in a retain_grad() target (a non-leaf asked to keep its .grad()).
void retain(Node& node, const Tensor& grad) {
    auto target = node.retain_grad_target.lock();
    if (!target) return;
    std::lock_guard<std::mutex> lock(detail::autograd_mutex(target.get()));
    target->grad = target->grad.defined() ? target->grad + grad : grad.clone();
}

/// Runs the register_hook hooks of a non-leaf on its gradient, retain_grad() keeping the value at
/// the point it was called among them (PyTorch 1.13's order).
Tensor run_pre_hooks(Node& node, Tensor grad, bool accumulate) {
    const auto hooks = node.pre_hooks;  // a copy: a hook may remove itself
    bool retained = false;
    for (const auto& [id, hook] : hooks) {
        if (!hook) {
            if (accumulate) retain(node, grad);
            retained = true;
        } else {
            grad = detail::run_grad_hook(hook, grad);
        }
    }
    if (!retained && accumulate) retain(node, grad);
    return grad;
}

/// The backward pass running on this thread (0 outside one), and the counter that numbers them.
thread_local std::uint64_t current_pass = 0;
std::atomic<std::uint64_t> passes_started{0};

/// Numbers the pass for the duration of execute(), restoring an outer pass's number after (a hook
/// may run a backward of its own).
class PassScope {
public:
    PassScope() : previous_(current_pass) { current_pass = ++passes_started; }
    ~PassScope() { current_pass = previous_; }
    PassScope(const PassScope&) = delete;
    PassScope& operator=(const PassScope&) = delete;

private:
    std::uint64_t previous_;
};

void execute(Run& run) {
    // Backward ops follow the dtypes the forward recorded; autocast does not cast them again.
    const AutocastGuard no_autocast(false);
    PassScope pass;
    GradModeScope grad_mode(run.create_graph);
    std::vector<std::function<void()>> callbacks;
    CallbackScope callback_scope(callbacks);
    // Count, for every reachable node, how many edges lead into it.
    std::unordered_map<Node*, int> dependencies;
    std::unordered_set<Node*> seen;
    std::vector<Node*> stack;
    for (auto& root : run.roots) {
        if (seen.insert(root.get()).second) stack.push_back(root.get());
    }
    while (!stack.empty()) {
        Node* node = stack.back();
        stack.pop_back();
        for (const auto& next : node->next_functions()) {
            if (!next) continue;
            ++dependencies[next.get()];
            if (seen.insert(next.get()).second) stack.push_back(next.get());
        }
    }

    std::unordered_map<Node*, PendingGrad> grads;
    std::vector<Node*> ready;
    for (std::size_t i = 0; i < run.roots.size(); ++i) {
        Node* node = run.roots[i].get();
        accumulate_into(grads, node, run.root_grads[i]);
    }
    for (auto& root : run.roots) {
        if (dependencies[root.get()] == 0 && std::find(ready.begin(), ready.end(), root.get()) == ready.end()) {
            ready.push_back(root.get());
        }
    }

    while (!ready.empty()) {
        Node* node = ready.back();
        ready.pop_back();
        Tensor grad = std::move(grads[node].sum);
        grads.erase(node);
        if (run.captured && run.captured->count(node)) (*run.captured)[node] = grad;
        // autograd::grad() runs no hooks (PyTorch 1.13: they belong to the .grad()-filling pass).
        if (grad.defined() && run.accumulate) grad = run_pre_hooks(*node, grad, true);

        std::vector<Tensor> outputs;
        const bool is_accumulator = dynamic_cast<AccumulateGrad*>(node) != nullptr;
        if (grad.defined() && !(is_accumulator && !run.accumulate)) {
            outputs = run.create_graph ? node->apply_with_graph(grad) : node->apply(grad);
        }
        if (!run.retain_graph) node->release_saved();

        const auto& next = node->next_functions();
        for (std::size_t i = 0; i < next.size(); ++i) {
            if (!next[i]) continue;
            Node* child = next[i].get();
            if (i < outputs.size() && outputs[i].defined()) accumulate_into(grads, child, outputs[i]);
            if (--dependencies[child] == 0) ready.push_back(child);
        }
    }
    // Index loop: a callback may queue another.
    for (std::size_t i = 0; i < callbacks.size(); ++i) {
        auto callback = std::move(callbacks[i]);
        callback();
    }
}

std::vector<std::shared_ptr<Node>> root_nodes(const std::vector<Tensor>& roots) {
    std::vector<std::shared_ptr<Node>> nodes;
    for (std::size_t i = 0; i < roots.size(); ++i) {
        auto edge = detail::gradient_edge(roots[i]);
        if (!edge) {
            throw RuntimeError("element " + std::to_string(i) +
                               " of tensors does not require grad and does not have a grad_fn");
        }
        nodes.push_back(std::move(edge));
    }
    return nodes;
}

std::vector<Tensor> root_grads(const std::vector<Tensor>& roots, const std::vector<Tensor>& given, bool create_graph) {
    if (!given.empty() && given.size() != roots.size()) {
        throw ValueError("backward: got " + std::to_string(given.size()) + " gradients for " +
                         std::to_string(roots.size()) + " outputs");
    }
    std::vector<Tensor> grads;
    for (std::size_t i = 0; i < roots.size(); ++i) {
        // With create_graph a given gradient keeps its history (the result may be differentiated
        // with respect to it, as in double-VJP tricks).
        const Tensor g = root_gradient(roots[i], given.empty() ? Tensor() : given[i], i);
        grads.push_back(create_graph ? g : g.detach());
    }
    return grads;
}

}  // namespace

void queue_callback(std::function<void()> callback) {
    if (!queued_callbacks) {
        throw RuntimeError(
            "queue_callback: no backward pass is running on this thread; callbacks can only be "
            "queued from inside a backward (e.g. from a gradient hook)");
    }
    queued_callbacks->push_back(std::move(callback));
}

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads_given,
              std::optional<bool> retain_graph, bool create_graph) {
    Run run;
    run.roots = root_nodes(roots);
    run.root_grads = root_grads(roots, root_grads_given, create_graph);
    run.retain_graph = retain_graph.value_or(create_graph);
    run.create_graph = create_graph;
    execute(run);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph, bool create_graph,
                         bool allow_unused) {
    Run run;
    run.roots = root_nodes(outputs);
    run.root_grads = root_grads(outputs, grad_outputs, create_graph);
    run.retain_graph = retain_graph.value_or(create_graph);
    run.create_graph = create_graph;
    run.accumulate = false;
    std::unordered_map<Node*, Tensor> captured;
    std::vector<std::shared_ptr<Node>> input_nodes;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        auto edge = detail::gradient_edge(inputs[i]);
        if (!edge) {
            throw RuntimeError("grad: One of the differentiated Tensors does not require grad (input " +
                               std::to_string(i) + ")");
        }
        captured.emplace(edge.get(), Tensor());
        input_nodes.push_back(std::move(edge));
    }
    run.captured = &captured;
    execute(run);
    std::vector<Tensor> result;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        Tensor g = captured[input_nodes[i].get()];
        if (!g.defined() && !allow_unused) {
            throw RuntimeError(
                "grad: One of the differentiated Tensors appears to not have been used in the graph "
                "(input " +
                std::to_string(i) +
                "). Set allow_unused=true if this is the desired "
                "behavior.");
        }
        result.push_back(g);
    }
    return result;
}

namespace detail {
std::uint64_t current_backward_pass() noexcept { return current_pass; }
}  // namespace detail

}  // namespace autograd
}  // namespace lazynn
