#pragma once
// HookHandle: what registering a hook returns, for module hooks (Module::register_forward_hook & co.)
// and tensor hooks (Tensor::register_hook) alike.

#include <cstdint>
#include <functional>
#include <utility>

namespace lazynn {

/// Removes its hook when remove() is called (PyTorch's RemovableHandle). Idempotent, and harmless
/// once the module or tensor the hook was registered on is gone. Copies share nothing: the first
/// remove() through any copy removes the hook, the others then do nothing.
class HookHandle {
public:
    HookHandle() = default;
    /// `remover` unregisters hook `id` from its owner (and must itself check the owner still lives).
    HookHandle(std::uint64_t id, std::function<void()> remover) : id_(id), remover_(std::move(remover)) {}
    void remove() {
        if (remover_) std::exchange(remover_, nullptr)();
    }
    /// The hook's id within its owner (0 for a default-constructed handle).
    std::uint64_t id() const { return id_; }

private:
    std::uint64_t id_ = 0;
    std::function<void()> remover_;
};

/// PyTorch's name for the same handle.
using RemovableHandle = HookHandle;

}  // namespace lazynn
