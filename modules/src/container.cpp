#include "module_registry.hpp"

#include <lazynn/nn/activation.hpp>
#include <lazynn/nn/container.hpp>
#include <lazynn/nn/fusion.hpp>
#include <lazynn/nn/conv.hpp>
#include <lazynn/nn/linear.hpp>
#include <lazynn/nn/normalization.hpp>
#include <lazynn/autograd.hpp>

#include <algorithm>
#include <typeinfo>

namespace lazynn::nn {
namespace {

std::size_t wrap_index(std::int64_t index, std::size_t size, const char* container) {
    const auto n = static_cast<std::int64_t>(size);
    if (index < -n || index >= n) {
        throw IndexError(std::string(container) + ": index " + std::to_string(index) + " is out of range (size " + std::to_string(n) + ")");
    }
    return static_cast<std::size_t>(index < 0 ? index + n : index);
}

std::string describe(const Parameter& p) {
    if (!p.defined()) return "None";
    if (p.is_uninitialized()) return "<UninitializedParameter>";
    const Shape& s = p.shape();
    std::string size;
    for (std::size_t i = 0; i < s.size(); ++i) size += (i ? "x" : "") + std::to_string(s[i]);
    return "Parameter containing: [torch." + std::string(p.dtype() == kFloat64 ? "float64" : p.dtype() == kInt64 ? "int64" : "float32") +
           " of size " + size + "]";
}

}  // namespace

// ---- Sequential ----

Sequential& Sequential::push_back(std::unique_ptr<Module> module) {
    register_module(std::to_string(size()), std::move(module));
    return *this;
}

namespace {

/// A module that Sequential may run inside a fused pass: materialised, and no hook would see the
/// intermediate tensor.
bool unhooked(const Module& m) { return !m.num_forward_hooks() && !m.num_forward_pre_hooks() && !m.is_lazy(); }

/// Runs `layer` and the ReLU `next` as one fused pass into x when `layer` declares the capability
/// (FusesFollowingReLU: Linear, convolutions, batch norm), `next` is exactly a ReLU, and neither
/// has hooks that would see the intermediate tensor; returns false (and leaves x) otherwise. The
/// fused result and gradients equal the two separate calls.
bool run_fused_relu(Module& layer, Module& next, Tensor& x) {
    auto* fusing = dynamic_cast<FusesFollowingReLU*>(&layer);
    if (fusing == nullptr || typeid(next) != typeid(ReLU) || !unhooked(next) || !unhooked(layer)) return false;
    x = fusing->forward_relu(x);
    return true;
}

/// Without autograd, a Conv2d followed by an eval-mode BatchNorm2d with running statistics is one
/// convolution with the normalisation folded into its weights: w' = w s, b' = (b - mean) s + beta,
/// s = gamma / sqrt(running_var + eps) per output channel; a ReLU after them is fused as well. One
/// pass and one activation tensor instead of two or three (inference and evaluation loops).
/// Returns how many children it ran (0: not applicable).
std::size_t run_folded_batch_norm(Module& layer, Module& next, Module* after, Tensor& x) {
    if (is_grad_enabled() || !unhooked(layer) || !unhooked(next) || next.is_training()) return 0;
    if (typeid(layer) != typeid(Conv2d) && typeid(layer) != typeid(LazyConv2d)) return 0;
    if (typeid(next) != typeid(BatchNorm2d) && typeid(next) != typeid(LazyBatchNorm2d)) return 0;
    auto& conv = static_cast<Conv2d&>(layer);
    auto& norm = static_cast<BatchNorm2d&>(next);
    if (!norm.running_mean.defined() || norm.num_features() != conv.out_channels() || !conv.weight.is_floating_point()) return 0;
    // Folding costs a pass over the weights on every call; it pays when the activation it saves
    // is the larger (evaluation batches), not for a single small input.
    const std::int64_t activation = x.numel() / std::max<std::int64_t>(conv.in_channels(), 1) * conv.out_channels();
    if (activation < 8 * conv.weight.numel()) return 0;
    const Dtype dtype = conv.weight.dtype();
    const Tensor mean = norm.running_mean.to(kFloat64), var = norm.running_var.to(kFloat64);
    const Tensor gamma = norm.weight.defined() ? norm.weight.to(kFloat64) : ones({norm.num_features()}, kFloat64);
    const Tensor beta = norm.bias.defined() ? norm.bias.to(kFloat64) : zeros({norm.num_features()}, kFloat64);
    const Tensor scale = gamma * (var + norm.options().eps()).rsqrt();
    const Tensor bias = conv.bias.defined() ? conv.bias.to(kFloat64) : zeros({norm.num_features()}, kFloat64);
    const Tensor folded_weight = (conv.weight.to(kFloat64) * scale.reshape({-1, 1, 1, 1})).to(dtype);
    const Tensor folded_bias = ((bias - mean) * scale + beta).to(dtype);
    const bool relu = after && typeid(*after) == typeid(ReLU) && unhooked(*after);
    x = conv.forward_with(x, folded_weight, folded_bias, relu);
    return relu ? 3 : 2;
}

}  // namespace

Tensor Sequential::forward(const Tensor& input) {
    // Every registered slot in order, as PyTorch iterates _modules; a layer followed by a ReLU
    // runs fused (bias and ReLU in the layer's own pass), and without autograd an eval-mode batch
    // norm after a convolution is folded into it.
    Tensor x = input;
    const auto& slots = registry().children;
    for (std::size_t i = 0; i < slots.size(); ++i) {
        Module* child = slots[i].get();
        if (!child) continue;
        Module* next = i + 1 < slots.size() ? slots[i + 1].get() : nullptr;
        if (next) {
            Module* after = i + 2 < slots.size() ? slots[i + 2].get() : nullptr;
            if (const std::size_t ran = run_folded_batch_norm(*child, *next, after, x)) {
                i += ran - 1;
                continue;
            }
            if (run_fused_relu(*child, *next, x)) {
                ++i;
                continue;
            }
        }
        x = (*child)(x);
    }
    return x;
}

Module& Sequential::operator[](std::int64_t index) {
    auto& slots = registry().children;
    return *slots[wrap_index(index, slots.size(), "Sequential")].get();
}

std::size_t Sequential::size() const { return registry().children.size(); }

// ---- ModuleList ----

ModuleList& ModuleList::push_back(std::unique_ptr<Module> module) {
    register_module(std::to_string(size()), std::move(module));
    return *this;
}

Module& ModuleList::operator[](std::int64_t index) {
    auto& slots = registry().children;
    return *slots[wrap_index(index, slots.size(), "ModuleList")].get();
}

std::size_t ModuleList::size() const { return registry().children.size(); }

// ---- ModuleDict ----

Module& ModuleDict::at(const std::string& key) {
    for (auto& s : registry().children) {
        if (s.name == key) return *s.get();
    }
    throw KeyError("ModuleDict has no key '" + key + "'");
}

bool ModuleDict::contains(const std::string& key) const {
    for (const auto& s : registry().children) {
        if (s.name == key) return true;
    }
    return false;
}

std::vector<std::string> ModuleDict::keys() const {
    std::vector<std::string> out;
    for (const auto& s : registry().children) out.push_back(s.name);
    return out;
}

std::size_t ModuleDict::size() const { return registry().children.size(); }

// ---- ParameterList ----

ParameterList::ParameterList(const std::vector<Tensor>& values) : ParameterList() {
    for (const auto& v : values) append(v);
}

namespace {
/// Tensors become parameters that require grad (PyTorch wraps them in Parameter); integer
/// tensors cannot, and uninitialised ones keep their own flag.
bool wrapped_requires_grad(const Tensor& value) {
    if (!value.defined()) return true;
    return value.is_uninitialized() ? value.requires_grad() : value.is_floating_point();
}
}  // namespace

ParameterList& ParameterList::append(const Tensor& value) {
    register_parameter(std::to_string(size()), value, wrapped_requires_grad(value));
    return *this;
}

Parameter& ParameterList::operator[](std::int64_t index) {
    auto& slots = registry().params;
    return *slots[wrap_index(index, slots.size(), "ParameterList")].get();
}

std::size_t ParameterList::size() const { return registry().params.size(); }

Tensor ParameterList::forward(const Tensor&) { throw RuntimeError("ParameterList should not be called."); }

std::string ParameterList::extra_repr() const {
    std::string out;
    const auto& slots = registry().params;
    for (std::size_t i = 0; i < slots.size(); ++i) out += (i ? "\n" : "") + std::string("  (") + slots[i].name + "): " + describe(*slots[i].get());
    return out;
}

// ---- ParameterDict ----

ParameterDict& ParameterDict::insert(const std::string& key, const Tensor& value) {
    register_parameter(key, value, wrapped_requires_grad(value));
    return *this;
}

Parameter& ParameterDict::at(const std::string& key) {
    for (auto& s : registry().params) {
        if (s.name == key) return *s.get();
    }
    throw KeyError("ParameterDict has no key '" + key + "'");
}

bool ParameterDict::contains(const std::string& key) const {
    for (const auto& s : registry().params) {
        if (s.name == key) return true;
    }
    return false;
}

std::vector<std::string> ParameterDict::keys() const {
    std::vector<std::string> out;
    for (const auto& s : registry().params) out.push_back(s.name);
    return out;
}

std::size_t ParameterDict::size() const { return registry().params.size(); }

Tensor ParameterDict::forward(const Tensor&) { throw RuntimeError("ParameterDict should not be called."); }

std::string ParameterDict::extra_repr() const {
    std::string out;
    const auto& slots = registry().params;
    for (std::size_t i = 0; i < slots.size(); ++i) out += (i ? "\n" : "") + std::string("  (") + slots[i].name + "): " + describe(*slots[i].get());
    return out;
}

}  // namespace lazynn::nn
