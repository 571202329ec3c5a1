#include <lazynn/nn/activation.hpp>
#include <lazynn/nn/container.hpp>
#include <lazynn/nn/fusion.hpp>
#include <lazynn/nn/pooling.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/parametrize.hpp>

#include <algorithm>
#include <optional>
#include <typeinfo>

namespace lazynn::nn {
namespace {

std::size_t wrap_index(std::int64_t index, std::size_t size, const char* container) {
    const auto n = static_cast<std::int64_t>(size);
    if (index < -n || index >= n) {
        throw IndexError(std::string(container) + ": index " + std::to_string(index) + " is out of range (size " +
                         std::to_string(n) + ")");
    }
    return static_cast<std::size_t>(index < 0 ? index + n : index);
}

std::string describe(const Parameter& p) {
    if (!p.defined()) return "None";
    if (p.is_uninitialized()) return "<UninitializedParameter>";
    const Shape& s = p.shape();
    std::string size;
    for (std::size_t i = 0; i < s.size(); ++i) size += (i ? "x" : "") + std::to_string(s[i]);
    return "Parameter containing: [torch." + dtype_name(p.dtype()) + " of size " + size + "]";
}

}  // namespace

// ---- Sequential ----

Sequential& Sequential::push_back(std::unique_ptr<Module> module) {
    register_module(std::to_string(size()), std::move(module));
    return *this;
}

namespace {

/// A module that Sequential may run inside a fused pass: materialised, no hook would see the
/// intermediate tensor, and no parametrized tensor needs computing for the call.
bool unhooked(const Module& m) {
    return !m.num_forward_hooks() && !m.num_forward_pre_hooks() && !m.is_lazy() && !parametrize::is_parametrized(m);
}

/// Exactly a ReLU (a subclass may compute something else), which the fusing layers apply themselves.
bool is_plain_relu(const Module& m) { return typeid(m) == typeid(ReLU); }

/// Runs `layer` and the ReLU `next` as one fused pass into x when `layer` declares the capability
/// (FusesFollowingReLU: Linear, convolutions, batch norm), `next` is exactly a ReLU, and neither
/// has hooks that would see the intermediate tensor; returns false (and leaves x) otherwise. The
/// fused result and gradients equal the two separate calls.
bool run_fused_relu(Module& layer, Module& next, Tensor& x) {
    auto* fusing = dynamic_cast<FusesFollowingReLU*>(&layer);
    if (fusing == nullptr || !is_plain_relu(next) || !unhooked(next) || !unhooked(layer)) return false;
    x = fusing->forward_relu(x);
    return true;
}

/// Exactly a MaxPool2d with 2x2 windows, stride 2, no padding or dilation, rounding down.
bool is_plain_max_pool_2x2(const Module& m) {
    if (typeid(m) != typeid(MaxPool2d)) return false;
    const MaxPool2dOptions& o = static_cast<const MaxPool2d&>(m).options();
    const std::array<std::int64_t, 2> two{2, 2}, zero{0, 0}, one{1, 1};
    return o.kernel_size().values == two && o.stride().values == two && o.padding().values == zero &&
           o.dilation().values == one && !o.ceil_mode();
}

/// Runs `layer`, the ReLU `next` and the 2x2 max pooling `after` as one fused pass into x when
/// `layer` declares the capability (FusesFollowingReLUMaxPool2x2: batch norm) and accepts x, and
/// none of the three has hooks; returns false (and leaves x) otherwise.
bool run_fused_relu_max_pool(Module& layer, Module& next, Module& after, Tensor& x) {
    auto* fusing = dynamic_cast<FusesFollowingReLUMaxPool2x2*>(&layer);
    if (fusing == nullptr || !is_plain_relu(next) || !unhooked(next) || !unhooked(layer) ||
        !is_plain_max_pool_2x2(after) || !unhooked(after))
        return false;
    std::optional<Tensor> y = fusing->forward_relu_max_pool2x2(x);
    if (!y) return false;
    x = std::move(*y);
    return true;
}

/// Without autograd, a layer that folds a following normalisation (FoldsFollowingNormalization:
/// Conv2d) followed by one that currently is a fixed per-channel normalisation (IsChannelNormalization:
/// an eval-mode batch norm with running statistics) runs as one pass with the normalisation folded
/// into the layer's weights; a ReLU after them is fused as well. One pass and one activation tensor
/// instead of two or three (inference and evaluation loops). Returns how many children it ran
/// (0: not applicable, nothing run).
std::size_t run_folded_normalization(Module& layer, Module& next, Module* after, Tensor& x) {
    if (is_grad_enabled() || !unhooked(layer) || !unhooked(next)) return 0;
    auto* folding = dynamic_cast<FoldsFollowingNormalization*>(&layer);
    const auto* normalization = dynamic_cast<const IsChannelNormalization*>(&next);
    if (folding == nullptr || normalization == nullptr) return 0;
    const std::optional<ChannelNormalization> norm = normalization->channel_normalization(x.dim());
    if (!norm) return 0;
    const bool relu = after && is_plain_relu(*after) && unhooked(*after);
    std::optional<Tensor> y = folding->forward_folded(x, *norm, relu);
    if (!y) return 0;
    x = std::move(*y);
    return relu ? 3 : 2;
}

}  // namespace

std::vector<Tensor> Sequential::chain(std::vector<Tensor> values) {
    // Every registered slot in order, as PyTorch iterates _modules; a layer followed by a ReLU
    // runs fused (bias and ReLU in the layer's own pass), a batch norm followed by a ReLU and a 2x2
    // max pooling runs as one op, and without autograd an eval-mode batch norm after a convolution
    // is folded into it.
    for (std::size_t i = 0; i < num_registered_children(); ++i) {
        Module* child = registered_child(i);
        if (!child) continue;
        Module* next = i + 1 < num_registered_children() ? registered_child(i + 1) : nullptr;
        if (next && values.size() == 1) {
            Module* after = i + 2 < num_registered_children() ? registered_child(i + 2) : nullptr;
            if (const std::size_t ran = run_folded_normalization(*child, *next, after, values[0])) {
                i += ran - 1;
                continue;
            }
            if (after && run_fused_relu_max_pool(*child, *next, *after, values[0])) {
                i += 2;
                continue;
            }
            if (run_fused_relu(*child, *next, values[0])) {
                ++i;
                continue;
            }
        }
        values = child->call(values);
    }
    return values;
}

Tensor Sequential::forward(const Tensor& input) {
    std::vector<Tensor> out = chain({input});
    if (out.size() != 1) {
        throw TypeError("Sequential's last module returns " + std::to_string(out.size()) +
                        " tensors, so calling the Sequential as a one-tensor module cannot return them; use "
                        "call(inputs), which returns them all");
    }
    return std::move(out[0]);
}

std::vector<Tensor> Sequential::call(const std::vector<Tensor>& inputs) {
    std::optional<std::vector<Tensor>> replaced = run_pre_hooks(inputs);
    const std::vector<Tensor>& in = replaced ? *replaced : inputs;
    return run_hooks(in, chain(in));
}

Module& Sequential::operator[](std::int64_t index) {
    return *registered_child(wrap_index(index, num_registered_children(), "Sequential"));
}

std::size_t Sequential::size() const { return num_registered_children(); }

// ---- ModuleList ----

ModuleList& ModuleList::push_back(std::unique_ptr<Module> module) {
    register_module(std::to_string(size()), std::move(module));
    return *this;
}

Module& ModuleList::operator[](std::int64_t index) {
    return *registered_child(wrap_index(index, num_registered_children(), "ModuleList"));
}

std::size_t ModuleList::size() const { return num_registered_children(); }

// ---- ModuleDict ----

Module& ModuleDict::at(const std::string& key) {
    for (std::size_t i = 0; i < num_registered_children(); ++i) {
        if (registered_child_name(i) == key) return *registered_child(i);
    }
    throw KeyError("ModuleDict has no key '" + key + "'");
}

bool ModuleDict::contains(const std::string& key) const {
    for (std::size_t i = 0; i < num_registered_children(); ++i) {
        if (registered_child_name(i) == key) return true;
    }
    return false;
}

std::vector<std::string> ModuleDict::keys() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < num_registered_children(); ++i) out.push_back(registered_child_name(i));
    return out;
}

std::size_t ModuleDict::size() const { return num_registered_children(); }

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
    return registered_parameter(wrap_index(index, num_registered_parameters(), "ParameterList"));
}

std::size_t ParameterList::size() const { return num_registered_parameters(); }

Tensor ParameterList::forward(const Tensor&) { throw RuntimeError("ParameterList should not be called."); }

std::string ParameterList::extra_repr() const {
    std::string out;
    for (std::size_t i = 0; i < num_registered_parameters(); ++i) {
        out += (i ? "\n" : "") + std::string("  (") + registered_parameter_name(i) +
               "): " + describe(registered_parameter(i));
    }
    return out;
}

// ---- ParameterDict ----

ParameterDict& ParameterDict::insert(const std::string& key, const Tensor& value) {
    register_parameter(key, value, wrapped_requires_grad(value));
    return *this;
}

Parameter& ParameterDict::at(const std::string& key) {
    for (std::size_t i = 0; i < num_registered_parameters(); ++i) {
        if (registered_parameter_name(i) == key) return registered_parameter(i);
    }
    throw KeyError("ParameterDict has no key '" + key + "'");
}

bool ParameterDict::contains(const std::string& key) const {
    for (std::size_t i = 0; i < num_registered_parameters(); ++i) {
        if (registered_parameter_name(i) == key) return true;
    }
    return false;
}

std::vector<std::string> ParameterDict::keys() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < num_registered_parameters(); ++i) out.push_back(registered_parameter_name(i));
    return out;
}

std::size_t ParameterDict::size() const { return num_registered_parameters(); }

Tensor ParameterDict::forward(const Tensor&) { throw RuntimeError("ParameterDict should not be called."); }

std::string ParameterDict::extra_repr() const {
    std::string out;
    for (std::size_t i = 0; i < num_registered_parameters(); ++i) {
        out += (i ? "\n" : "") + std::string("  (") + registered_parameter_name(i) +
               "): " + describe(registered_parameter(i));
    }
    return out;
}

}  // namespace lazynn::nn
