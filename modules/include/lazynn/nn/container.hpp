#pragma once
// Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict.
//
// Containers own their children (moved or copied in). Sequential calls them through their flat
// form (Module::call), so a child returning several tensors feeds a child taking as many (a
// TypedModule, <lazynn/typed_module.hpp>). Lazy modules may sit anywhere inside; they initialise on
// the first call as usual. Copying a container deep-copies its children.

#include <lazynn/module.hpp>

#include <concepts>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace lazynn::nn {

namespace detail {
template <class Self, class... M>
concept ModulePack = (std::derived_from<std::remove_cvref_t<M>, Module> && ...) &&
                     !(sizeof...(M) == 1 && (std::same_as<std::remove_cvref_t<M>, Self> && ...));
}

/// Chains its children: forward(x) = child_n(...child_1(x)). Children are named "0", "1", ...
/// Each child receives the previous child's outputs, flattened: a child returning a struct of two
/// tensors feeds a child whose forward takes two (call() takes and returns several).
///
/// Example:
///     nn::Sequential net(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 10));
///     Tensor logits = net(randn({32, 784}));   // [32, 784] -> [32, 10]
///     std::vector<Tensor> outs = two_in_two_out_chain.call({a, b});
class Sequential : public Module {
    LAZYNN_MODULE(Sequential)
public:
    Sequential() { set_name("Sequential"); }
    template <class... M>
    requires detail::ModulePack<Sequential, M...>
    explicit Sequential(M&&... modules) : Sequential() { (push_back(std::forward<M>(modules)), ...); }

    template <class M>
    requires std::derived_from<std::remove_cvref_t<M>, Module> Sequential& push_back(M&& module) {
        register_module(std::to_string(size()), std::remove_cvref_t<M>(std::forward<M>(module)));
        return *this;
    }
    Sequential& push_back(std::unique_ptr<Module> module);

    /// Shapes: input [*] -> whatever the last child returns (TypeError if it returns several
    /// tensors: call() returns them all).
    Tensor forward(const Tensor& input) override;
    /// The chain on several inputs, with this container's hooks around it.
    /// Shapes: what the first child takes -> what the last child returns, flattened.
    std::vector<Tensor> call(const std::vector<Tensor>& inputs) override;
    /// Negative indices count from the end; out of range throws IndexError.
    Module& operator[](std::int64_t index);
    std::size_t size() const;
    bool empty() const { return size() == 0; }

private:
    /// The children in order on `values` (fused where a layer is followed by its activation).
    std::vector<Tensor> chain(std::vector<Tensor> values);
};

/// Holds children in a list; it has no forward of its own.
///
/// Example:
///     nn::ModuleList blocks(nn::Linear(64, 64), nn::Linear(64, 64));
///     for (std::int64_t i = 0; i < static_cast<std::int64_t>(blocks.size()); ++i) x = blocks[i](x);   // [N, 64]
class ModuleList : public Module {
    LAZYNN_MODULE(ModuleList)
public:
    ModuleList() { set_name("ModuleList"); }
    template <class... M>
    requires detail::ModulePack<ModuleList, M...>
    explicit ModuleList(M&&... modules) : ModuleList() { (push_back(std::forward<M>(modules)), ...); }

    template <class M>
    requires std::derived_from<std::remove_cvref_t<M>, Module> ModuleList& push_back(M&& module) {
        register_module(std::to_string(size()), std::remove_cvref_t<M>(std::forward<M>(module)));
        return *this;
    }
    ModuleList& push_back(std::unique_ptr<Module> module);
    Module& operator[](std::int64_t index);
    std::size_t size() const;
};

/// Holds children by name, in insertion order.
///
/// Example:
///     nn::ModuleDict heads;
///     heads.insert("classify", nn::Linear(256, 10)).insert("regress", nn::Linear(256, 1));
///     Tensor logits = heads["classify"](features);   // [N, 256] -> [N, 10]
class ModuleDict : public Module {
    LAZYNN_MODULE(ModuleDict)
public:
    ModuleDict() { set_name("ModuleDict"); }

    template <class M>
    requires std::derived_from<std::remove_cvref_t<M>, Module> ModuleDict& insert(const std::string& key, M&& module) {
        register_module(key, std::remove_cvref_t<M>(std::forward<M>(module)));
        return *this;
    }
    Module& operator[](const std::string& key) { return at(key); }
    Module& at(const std::string& key);
    bool contains(const std::string& key) const;
    std::vector<std::string> keys() const;
    std::size_t size() const;
};

/// Holds parameters named "0", "1", ...; tensors are wrapped as Parameters. Not callable.
///
/// Example:
///     nn::ParameterList scales;
///     scales.append(ones({64})).append(ones({64}));   // named "0" and "1"
///     Tensor y = x * scales[1];                        // x: [N, 64]
class ParameterList : public Module {
    LAZYNN_MODULE(ParameterList)
public:
    ParameterList() { set_name("ParameterList"); }
    explicit ParameterList(const std::vector<Tensor>& values);
    ParameterList& append(const Tensor& value);
    Parameter& operator[](std::int64_t index);
    std::size_t size() const;
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
};

/// Holds parameters by name, in insertion order. Not callable.
///
/// Example:
///     nn::ParameterDict affine;
///     affine.insert("scale", ones({64})).insert("shift", zeros({64}));
///     Tensor y = x * affine["scale"] + affine["shift"];   // x: [N, 64]
class ParameterDict : public Module {
    LAZYNN_MODULE(ParameterDict)
public:
    ParameterDict() { set_name("ParameterDict"); }
    ParameterDict& insert(const std::string& key, const Tensor& value);
    Parameter& operator[](const std::string& key) { return at(key); }
    Parameter& at(const std::string& key);
    bool contains(const std::string& key) const;
    std::vector<std::string> keys() const;
    std::size_t size() const;
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
};

}  // namespace lazynn::nn
