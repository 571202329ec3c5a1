#pragma once
// TensorImpl and Storage: the shared state behind every Tensor handle (internal header).

#include <lazynn/error.hpp>
#include <lazynn/tensor.hpp>

#include "caching_allocator.hpp"

#include <xtensor/xstorage.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <utility>
#include <variant>
#include <vector>

namespace lazynn {

/// xtensor's uninitialised vector over the caching allocator.
template <class T>
using StorageBuffer = xt::uvector<T, detail::CachingAllocator<T>>;

/// A flat, aligned buffer of one dtype, shared by a tensor and all its views. `version` counts
/// in-place writes so saved tensors can detect that they were modified after being saved.
class Storage {
public:
    Storage(Dtype dtype, std::int64_t size);
    Dtype dtype() const { return dtype_; }
    std::int64_t size() const { return size_; }
    void* raw() { return raw_; }
    const void* raw() const { return raw_; }
    std::uint64_t version() const { return version_; }
    void bump_version() { ++version_; }
    /// Only for a factory's fresh storage that nobody else has seen (its fill is not a user write).
    void reset_version() { version_ = 0; }

private:
    Dtype dtype_;
    std::int64_t size_;
    std::variant<StorageBuffer<float>, StorageBuffer<double>, StorageBuffer<std::int64_t>, StorageBuffer<bool>,
                 StorageBuffer<BFloat16>, StorageBuffer<Half>>
        buffer_;
    void* raw_ = nullptr;
    std::uint64_t version_ = 0;
};

enum class TensorState : std::uint8_t { Initialized, UninitializedParameter, UninitializedBuffer };

/// What autograd knows about a view (PyTorch's view + in-place semantics, docs/tensors-and-autograd.md):
/// its root base and the storage version its grad_fn was made at. When any alias of the storage
/// was modified in place since, the view's grad_fn is rebuilt from the base's current history.
struct ViewMeta {
    std::shared_ptr<TensorImpl> base;            // the root (non-view) tensor
    std::uint64_t version = 0;                   // storage version the view's grad_fn reflects
    const char* multi_output_creator = nullptr;  // "SplitBackward0" for split/chunk outputs, else null
    std::int64_t output_index = 0;               // which output of the multi-output op
};

class TensorImpl {
public:
    std::shared_ptr<Storage> storage;  // null while uninitialised
    Shape shape;
    Shape strides;
    std::int64_t offset = 0;
    Dtype dtype = kFloat32;
    TensorState state = TensorState::Initialized;
    bool requires_grad = false;
    bool retains_grad = false;
    bool is_view = false;
    /// Set on views made by the view ops (views.cpp, join.cpp); null on other aliases.
    std::shared_ptr<ViewMeta> view_meta;
    Tensor grad;
    std::shared_ptr<Node> grad_fn;
    std::weak_ptr<Node> grad_accumulator;
    /// A leaf's register_hook hooks, run on the incoming gradient before it is accumulated.
    std::vector<std::pair<std::uint64_t, std::function<Tensor(const Tensor&)>>> grad_hooks;
    /// Run after backward accumulated into a leaf's grad (register_post_accumulate_grad_hook).
    std::vector<std::pair<std::uint64_t, std::function<void(const Tensor&)>>> post_accumulate_hooks;

    /// A fresh contiguous tensor with uninitialised memory.
    static std::shared_ptr<TensorImpl> allocate(const Shape& shape, Dtype dtype);
    /// A new impl over the same storage with the given geometry (no autograd state).
    static std::shared_ptr<TensorImpl> alias(const TensorImpl& base, Shape shape, Shape strides, std::int64_t offset);

    std::int64_t numel() const { return shape_numel(shape); }
    bool is_contiguous() const;
    bool uninitialized() const { return state != TensorState::Initialized; }

    // An empty tensor's storage may have no buffer: then no pointer is formed from its offset.
    template <class T>
    T* data() {
        T* base = static_cast<T*>(storage->raw());
        return base ? base + offset : nullptr;
    }
    template <class T>
    const T* data() const {
        const T* base = static_cast<const T*>(storage->raw());
        return base ? base + offset : nullptr;
    }
};

namespace detail {

/// The impl of a defined, initialised tensor; throws naming `op` otherwise. Every op starts here,
/// which is what makes uninitialised parameters refuse all but the allowed operations.
TensorImpl& checked(const Tensor& t, const char* op);

/// Throws PyTorch's "Attempted to use an uninitialized parameter in {op}" ValueError.
[[noreturn]] void throw_uninitialized(const TensorImpl& impl, const char* op);

/// A contiguous copy of `t` (or `t` itself when already contiguous), without autograd.
Tensor contiguous_data(const Tensor& t);

/// Checks shared by every in-place op (leaf requiring grad, differentiable write into a view);
/// returns true when the op must record autograd history.
bool prepare_inplace(const Tensor& self, std::initializer_list<const Tensor*> others, const char* op);
/// Writes `result` into self's storage and, when it carries history, makes it self's history.
void commit_inplace(Tensor& self, const Tensor& result);

/// Wraps an impl in a Tensor handle.
inline Tensor wrap(std::shared_ptr<TensorImpl> impl) { return Tensor(std::move(impl)); }

/// A tensor of `shape`/`dtype` with uninitialised memory.
inline Tensor empty_tensor(const Shape& shape, Dtype dtype) { return wrap(TensorImpl::allocate(shape, dtype)); }

/// op(t) for a bfloat16/float16 `t`: run on t in float32 and rounded back to t's dtype once, as
/// PyTorch's CPU kernels load 16-bit values, compute in float and round the result. Both
/// conversions are recorded, so the gradient arrives in t's dtype.
template <class Op>
Tensor through_float32(const Tensor& t, Op op) {
    return op(t.to(kFloat32)).to(t.dtype());
}

/// The 16-bit dtype every defined tensor of `tensors` has (the first must be defined), or kFloat32
/// when they are not all of one 16-bit dtype: GEMM-like ops then run in float32 on `widened` copies
/// and round their result to it once.
inline Dtype shared_float16(std::initializer_list<const Tensor*> tensors) {
    const Dtype first = (*tensors.begin())->dtype();
    if (!is_float16(first)) return kFloat32;
    for (const Tensor* t : tensors) {
        if (t->defined() && t->dtype() != first) return kFloat32;
    }
    return first;
}
/// `t` in float32 (recorded for autograd); an undefined tensor stays undefined.
inline Tensor widened(const Tensor& t) { return t.defined() ? t.to(kFloat32) : t; }

}  // namespace detail
}  // namespace lazynn
