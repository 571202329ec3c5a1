// The lazy life cycle (LazyModule): one-shot hooks, Gen C loading, partial loads.
#include "module_registry.hpp"
#include "tensor_impl.hpp"

#include <lazynn/lazy.hpp>

#include <algorithm>

namespace lazynn {

namespace {

template <class Slots>
auto find_slot(Slots& slots, const std::string& name) {
    return std::find_if(slots.begin(), slots.end(), [&](const auto& s) { return s.name == name; });
}

/// A tensor's data and geometry, set aside while it is made uninitialised again.
struct HeldTensor {
    std::string name;
    TensorImpl* impl;
    std::shared_ptr<Storage> storage;
    Shape shape, strides;
    std::int64_t offset;
    TensorState lazy_state;
};

void make_uninitialized(TensorImpl& impl, TensorState state) {
    impl.storage.reset();
    impl.shape = {0};
    impl.strides = {1};
    impl.offset = 0;
    impl.state = state;
}

void put_back(const HeldTensor& h) {
    h.impl->storage = h.storage;
    h.impl->shape = h.shape;
    h.impl->strides = h.strides;
    h.impl->offset = h.offset;
    h.impl->state = TensorState::Initialized;
}

}  // namespace

LazyModule::LazyModule(Module& self, std::string lazy_name, std::string concrete_name)
    : concrete_name_(std::move(concrete_name)) {
    self.set_name(std::move(lazy_name));
    // The hooks find this object again through the module they are called with, so copies of the
    // module (which copy the hooks) run their own state.
    pre_hook_ = self.register_forward_pre_hook(
                        [](Module& m, const std::vector<Tensor>& inputs) {
                            dynamic_cast<LazyModule&>(m).run_initialization(m, inputs);
                        },
                        /*prepend=*/true)
                    .id();
    load_hook_ = self.register_load_state_dict_pre_hook([](Module& m, const StateDict& sd, const std::string& prefix) {
                         dynamic_cast<LazyModule&>(m).load(m, sd, prefix);
                     })
                     .id();
}

void LazyModule::initialize_parameters(const std::vector<Tensor>&) {
    throw NotImplementedError("initialize_parameters is not implemented for " +
                              dynamic_cast<const Module&>(*this).name());
}

void LazyModule::load(Module& m, const StateDict& sd, const std::string& prefix) {
    if (!pending()) return;
    lazy_load_prepare(sd, prefix);
    // Materialise from the stored shapes; when nothing is left uninitialised, finish the module
    // now (Gen C) instead of waiting for a forward.
    NoGradGuard no_grad;
    // What this hook materialised, so a failed check can make it lazy again.
    std::vector<std::pair<TensorImpl*, TensorState>> fresh;
    const auto undo = [&fresh] {
        for (auto [impl, was] : fresh) make_uninitialized(*impl, was);
    };
    try {
        for (const auto& slot : m.registry_->params) {
            Parameter* p = slot.get();
            const std::string key = prefix + slot.name;
            if (p && lazynn::is_lazy(*p) && sd.contains(key) && sd.at(key).defined() && !lazynn::is_lazy(sd.at(key))) {
                const TensorState was = p->impl().state;
                p->materialize(sd.at(key).shape());
                fresh.emplace_back(&p->impl(), was);
            }
        }
        for (const auto& slot : m.registry_->buffers) {
            Buffer* b = slot.get();
            const std::string key = prefix + slot.name;
            if (b && lazynn::is_lazy(*b) && sd.contains(key) && sd.at(key).defined() && !lazynn::is_lazy(sd.at(key))) {
                const TensorState was = b->impl().state;
                b->materialize(sd.at(key).shape());
                fresh.emplace_back(&b->impl(), was);
            }
        }
        // Each tensor was materialised from its own stored shape; the module checks that they
        // agree (lazy_load_finalize) before it stops being lazy.
        if (!m.has_uninitialized_params()) lazy_load_finalize();
    } catch (...) {
        undo();
        throw;
    }
    if (!m.has_uninitialized_params()) {
        finish(m);
        return;
    }
    // Still lazy: remember what the checkpoint filled, so the first forward keeps it.
    for (const auto& slot : m.registry_->params) {
        for (const auto& [impl, was] : fresh) {
            if (slot.get() && &slot.get()->impl() == impl) loaded_params_.push_back(slot.name);
        }
    }
    for (const auto& slot : m.registry_->buffers) {
        for (const auto& [impl, was] : fresh) {
            if (slot.get() && &slot.get()->impl() == impl) loaded_buffers_.push_back(slot.name);
        }
    }
}

void LazyModule::run_initialization(Module& m, const std::vector<Tensor>& inputs) {
    // Tensors a partial load filled are set aside and made uninitialised for the duration, so
    // initialize_parameters infers and materialises everything as usual; then each loaded tensor
    // must have the shape the input implies, and gets its loaded values back. Only the tensors the
    // checkpoint did not hold keep their fresh initialisation.
    auto& registry = *m.registry_;
    std::vector<HeldTensor> held;
    const auto set_aside = [&](const std::string& name, Tensor* t, TensorState state) {
        if (!t || !t->defined() || t->is_uninitialized()) return;
        TensorImpl& impl = t->impl();
        held.push_back({name, &impl, impl.storage, impl.shape, impl.strides, impl.offset, state});
        make_uninitialized(impl, state);
    };
    for (const auto& name : loaded_params_) {
        auto it = find_slot(registry.params, name);
        if (it != registry.params.end()) set_aside(name, it->get(), TensorState::UninitializedParameter);
    }
    for (const auto& name : loaded_buffers_) {
        auto it = find_slot(registry.buffers, name);
        if (it != registry.buffers.end()) set_aside(name, it->get(), TensorState::UninitializedBuffer);
    }
    // Everything uninitialised now, so a failure can return the module to exactly this state.
    std::vector<std::pair<TensorImpl*, TensorState>> lazy_now;
    for (const auto& s : registry.params) {
        if (s.get() && lazynn::is_lazy(*s.get())) lazy_now.emplace_back(&s.get()->impl(), s.get()->impl().state);
    }
    for (const auto& s : registry.buffers) {
        if (s.get() && lazynn::is_lazy(*s.get())) lazy_now.emplace_back(&s.get()->impl(), s.get()->impl().state);
    }
    const auto restore = [&] {
        for (auto [impl, state] : lazy_now) make_uninitialized(*impl, state);
        for (const auto& h : held) put_back(h);
    };
    try {
        initialize_parameters(inputs);
        if (m.has_uninitialized_params()) throw RuntimeError("module " + m.name() + " has not been fully initialized");
        for (const auto& h : held) {
            if (h.impl->shape != h.shape) {
                std::string input_shapes;
                for (const auto& x : inputs)
                    input_shapes += (input_shapes.empty() ? "" : ", ") + shape_to_list(x.shape());
                throw ShapeError(m.name() + ": the loaded " + h.name + " has shape " + shape_to_list(h.shape) +
                                 ", but the input (" + input_shapes + ") needs " + shape_to_list(h.impl->shape) +
                                 "; load a checkpoint that matches the input, or drop the entry to initialise it");
            }
        }
    } catch (...) {
        restore();
        throw;
    }
    for (const auto& h : held) put_back(h);
    finish(m);
}

void LazyModule::finish(Module& m) {
    if (!pending()) return;
    m.remove_hook(pre_hook_);
    m.remove_hook(load_hook_);
    pre_hook_ = load_hook_ = 0;
    loaded_params_.clear();
    loaded_buffers_.clear();
    m.set_name(concrete_name_);
}

}  // namespace lazynn
