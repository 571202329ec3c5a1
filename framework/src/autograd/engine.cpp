// The backward engine: dependency counting over the reachable graph, then a topological walk
// that sums gradients per node and hands them to each node's apply().
#include "autograd/function_node.hpp"

#include <algorithm>
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

namespace autograd {
namespace {

using detail::AccumulateGrad;

struct Run {
    std::vector<std::shared_ptr<Node>> roots;
    std::vector<Tensor> root_grads;
    bool retain_graph = false;
    bool accumulate = true;                           // false for autograd::grad()
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

void accumulate_into(std::unordered_map<Node*, Tensor>& grads, Node* node, const Tensor& g) {
    auto [it, inserted] = grads.try_emplace(node, g);
    if (!inserted) it->second = it->second.defined() ? it->second + g : g;
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

void execute(Run& run) {
    NoGradGuard no_grad;
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

    std::unordered_map<Node*, Tensor> grads;
    std::vector<Node*> ready;
    for (std::size_t i = 0; i < run.roots.size(); ++i) {
        Node* node = run.roots[i].get();
        accumulate_into(grads, node, run.root_grads[i]);
    }
    for (auto& root : run.roots) {
        if (dependencies[root.get()] == 0 &&
            std::find(ready.begin(), ready.end(), root.get()) == ready.end()) {
            ready.push_back(root.get());
        }
    }

    while (!ready.empty()) {
        Node* node = ready.back();
        ready.pop_back();
        Tensor grad = std::move(grads[node]);
        grads.erase(node);
        if (run.captured && run.captured->count(node)) (*run.captured)[node] = grad;
        if (auto target = node->retain_grad_target.lock(); target && grad.defined() && run.accumulate) {
            std::lock_guard<std::mutex> lock(detail::autograd_mutex(target.get()));
            target->grad = target->grad.defined() ? target->grad + grad : grad.clone();
        }

        std::vector<Tensor> outputs;
        const bool is_accumulator = dynamic_cast<AccumulateGrad*>(node) != nullptr;
        if (grad.defined() && !(is_accumulator && !run.accumulate)) outputs = node->apply(grad);
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

std::vector<Tensor> root_grads(const std::vector<Tensor>& roots, const std::vector<Tensor>& given) {
    if (!given.empty() && given.size() != roots.size()) {
        throw ValueError("backward: got " + std::to_string(given.size()) + " gradients for " +
                         std::to_string(roots.size()) + " outputs");
    }
    std::vector<Tensor> grads;
    for (std::size_t i = 0; i < roots.size(); ++i) {
        grads.push_back(root_gradient(roots[i], given.empty() ? Tensor() : given[i], i).detach());
    }
    return grads;
}

}  // namespace

void queue_callback(std::function<void()> callback) {
    if (!queued_callbacks) {
        throw RuntimeError("queue_callback: no backward pass is running on this thread; callbacks can only be "
                           "queued from inside a backward (e.g. from a gradient hook)");
    }
    queued_callbacks->push_back(std::move(callback));
}

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads_given, bool retain_graph) {
    Run run;
    run.roots = root_nodes(roots);
    run.root_grads = root_grads(roots, root_grads_given);
    run.retain_graph = retain_graph;
    execute(run);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool allow_unused) {
    Run run;
    run.roots = root_nodes(outputs);
    run.root_grads = root_grads(outputs, grad_outputs);
    run.retain_graph = retain_graph;
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
            throw RuntimeError("grad: One of the differentiated Tensors appears to not have been used in the graph "
                               "(input " + std::to_string(i) + "). Set allow_unused=true if this is the desired "
                               "behavior.");
        }
        result.push_back(g);
    }
    return result;
}

}  // namespace autograd
}  // namespace lazynn
