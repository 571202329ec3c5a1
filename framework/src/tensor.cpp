// Tensor's accessors, autograd state, data access, conversion and copy.
#include "autograd/function_node.hpp"
#include "ops/bfloat16_conversion.hpp"
#include "ops/elementwise.hpp"
#include "ops/strided.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

#include <atomic>
#include <cstring>
#include <mutex>
#include <type_traits>

namespace lazynn {

using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::sum_to;

TensorImpl& Tensor::impl() const {
    if (!impl_) throw RuntimeError("the tensor is undefined (default-constructed); assign a value first");
    return *impl_;
}

const Shape& Tensor::shape() const {
    const TensorImpl& i = impl();
    if (i.uninitialized()) {
        throw RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call `forward` "
            "to initialize the parameters before accessing their attributes.");
    }
    return i.shape;
}

Shape Tensor::sizes() const {
    const TensorImpl& i = impl();
    return i.uninitialized() ? Shape{0} : i.shape;
}

std::int64_t Tensor::size(std::int64_t dim) const {
    const TensorImpl& i = detail::checked(*this, "size");
    const auto rank = static_cast<std::int64_t>(i.shape.size());
    return i.shape[static_cast<std::size_t>(normalize_dim(dim, rank))];
}

std::int64_t Tensor::dim() const { return static_cast<std::int64_t>(detail::checked(*this, "dim").shape.size()); }
std::int64_t Tensor::numel() const { return detail::checked(*this, "numel").numel(); }
Dtype Tensor::dtype() const { return impl().dtype; }
bool Tensor::is_floating_point() const { return is_floating(impl().dtype); }
const Shape& Tensor::strides() const { return detail::checked(*this, "stride").strides; }
bool Tensor::is_contiguous() const { return detail::checked(*this, "is_contiguous").is_contiguous(); }
bool Tensor::is_uninitialized() const { return impl().uninitialized(); }

bool Tensor::requires_grad() const { return impl().requires_grad; }

Tensor& Tensor::requires_grad_(bool requires_grad) {
    TensorImpl& i = detail::checked(*this, "requires_grad_");
    if (!requires_grad && i.grad_fn) {
        throw RuntimeError(
            "you can only change requires_grad flags of leaf variables. If you want to use a computed "
            "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().");
    }
    if (requires_grad && !is_floating(i.dtype)) {
        throw RuntimeError("only Tensors of floating point dtype can require gradients (got " + dtype_name(i.dtype) +
                           ")");
    }
    i.requires_grad = requires_grad;
    return *this;
}

Tensor Tensor::grad() const { return impl().grad; }

void Tensor::set_grad(const Tensor& grad) const {
    TensorImpl& i = impl();
    if (grad.defined() && !i.uninitialized() && grad.shape() != i.shape) {
        throw ShapeError("set_grad: assigned grad has data of a different size: " + shape_to_list(grad.shape()) +
                         " for a tensor of shape " + shape_to_list(i.shape));
    }
    if (grad.defined() && grad.dtype() != i.dtype) {
        throw DtypeError("set_grad: assigned grad has data of a different type: " + dtype_name(grad.dtype()) +
                         " for a tensor of dtype " + dtype_name(i.dtype));
    }
    std::lock_guard<std::mutex> lock(autograd::detail::autograd_mutex(&i));
    i.grad = grad;
}

std::shared_ptr<Node> Tensor::grad_fn() const {
    autograd::detail::refresh_view_history(*this);
    return impl().grad_fn;
}
bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

void Tensor::retain_grad() const {
    TensorImpl& i = detail::checked(*this, "retain_grad");
    if (!i.requires_grad) throw RuntimeError("can't retain_grad on Tensor that has requires_grad=False");
    if (i.grad_fn && !i.retains_grad) {
        i.retains_grad = true;
        i.grad_fn->retain_grad_target = impl_;
        i.grad_fn->pre_hooks.emplace_back(0, nullptr);  // marks where among the hooks .grad() is kept
    }
}

HookHandle Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
    TensorImpl& i = detail::checked(*this, "register_hook");
    if (!i.requires_grad) throw RuntimeError("cannot register a hook on a tensor that doesn't require gradient");
    static std::atomic<std::uint64_t> next_id{1};
    const std::uint64_t id = next_id++;
    const std::shared_ptr<Node> node = grad_fn();
    if (node) {
        // A non-leaf's hooks live on its grad_fn, where its gradient arrives.
        node->pre_hooks.emplace_back(id, std::move(hook));
        return HookHandle(id, [weak = std::weak_ptr<Node>(node), id] {
            if (auto n = weak.lock())
                std::erase_if(n->pre_hooks, [id](const auto& entry) { return entry.first == id; });
        });
    }
    {
        std::lock_guard<std::mutex> lock(autograd::detail::autograd_mutex(&i));
        i.grad_hooks.emplace_back(id, std::move(hook));
    }
    return HookHandle(id, [weak = std::weak_ptr<TensorImpl>(impl_), id] {
        auto leaf = weak.lock();
        if (!leaf) return;
        std::lock_guard<std::mutex> lock(autograd::detail::autograd_mutex(leaf.get()));
        std::erase_if(leaf->grad_hooks, [id](const auto& entry) { return entry.first == id; });
    });
}

std::int64_t Tensor::_version() const {
    const TensorImpl& i = impl();
    return i.storage ? static_cast<std::int64_t>(i.storage->version()) : 0;
}

bool Tensor::retains_grad() const { return impl().retains_grad; }

HookHandle Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const {
    TensorImpl& i = impl();
    if (!i.requires_grad) {
        throw RuntimeError("cannot register a hook on a tensor that doesn't require gradient");
    }
    if (i.grad_fn) throw RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors");
    static std::atomic<std::uint64_t> next_id{1};
    const std::uint64_t id = next_id++;
    i.post_accumulate_hooks.emplace_back(id, std::move(hook));
    return HookHandle(id, [weak = std::weak_ptr<TensorImpl>(impl_), id] {
        if (auto leaf = weak.lock())
            std::erase_if(leaf->post_accumulate_hooks, [id](const auto& entry) { return entry.first == id; });
    });
}

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph, bool create_graph) const {
    detail::checked(*this, "backward");
    autograd::backward({*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{},
                       retain_graph, create_graph);
}

Tensor Tensor::detach() const {
    const TensorImpl& i = detail::checked(*this, "detach");
    auto alias = TensorImpl::alias(i, i.shape, i.strides, i.offset);
    alias->is_view = i.is_view;
    return Tensor(alias);
}

Tensor& Tensor::detach_() {
    TensorImpl& i = detail::checked(*this, "detach_");
    if (i.is_view) {
        throw RuntimeError(
            "detach_: Can't detach views in-place. Use detach() instead (the view shares its base's "
            "autograd history).");
    }
    i.grad_fn.reset();
    i.requires_grad = false;
    return *this;
}

template <class T>
T Tensor::item() const {
    const TensorImpl& i = detail::checked(*this, "item");
    if (i.numel() != 1) {
        throw RuntimeError("a Tensor with " + std::to_string(i.numel()) + " elements cannot be converted to Scalar");
    }
    return visit_storage_dtype(i.dtype, [&](auto tag) {
        using S = typename decltype(tag)::type;
        return element_cast<T>(*i.data<S>());
    });
}

namespace {
template <class T>
void check_data_dtype(const TensorImpl& i) {
    if (i.dtype != dtype_of<T>()) {
        throw DtypeError("data_ptr: the tensor holds " + dtype_name(i.dtype) + ", not " + dtype_name(dtype_of<T>()));
    }
}
}  // namespace

template <class T>
T* Tensor::data_ptr() {
    TensorImpl& i = detail::checked(*this, "data_ptr");
    check_data_dtype<T>(i);
    return i.data<T>();
}

template <class T>
const T* Tensor::data_ptr() const {
    const TensorImpl& i = detail::checked(*this, "data_ptr");
    check_data_dtype<T>(i);
    return i.data<T>();
}

template <class T>
std::vector<T> Tensor::to_vector() const {
    Tensor c = detail::contiguous_data(*this).to(dtype_of<T>());
    const T* p = c.impl().data<T>();
    return std::vector<T>(p, p + c.impl().numel());
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template float* Tensor::data_ptr<float>();
template double* Tensor::data_ptr<double>();
template std::int64_t* Tensor::data_ptr<std::int64_t>();
template const float* Tensor::data_ptr<float>() const;
template const double* Tensor::data_ptr<double>() const;
template const std::int64_t* Tensor::data_ptr<std::int64_t>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template bool Tensor::item<bool>() const;
template BFloat16 Tensor::item<BFloat16>() const;
template Half Tensor::item<Half>() const;
template BFloat16* Tensor::data_ptr<BFloat16>();
template Half* Tensor::data_ptr<Half>();
template const BFloat16* Tensor::data_ptr<BFloat16>() const;
template const Half* Tensor::data_ptr<Half>() const;
template std::vector<BFloat16> Tensor::to_vector<BFloat16>() const;
template std::vector<Half> Tensor::to_vector<Half>() const;
template bool* Tensor::data_ptr<bool>();
template const bool* Tensor::data_ptr<bool>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

namespace kernels {

void copy_strided(TensorImpl& dst, const TensorImpl& src) {
    // An empty tensor's storage may have no buffer: no pointer into it may even be formed.
    if (dst.numel() == 0) return;
    if (dst.dtype == src.dtype && dst.shape == src.shape && dst.is_contiguous() && src.is_contiguous()) {
        const auto bytes = static_cast<std::int64_t>(dtype_size(dst.dtype));
        std::memcpy(static_cast<char*>(dst.storage->raw()) + dst.offset * bytes,
                    static_cast<const char*>(src.storage->raw()) + src.offset * bytes,
                    static_cast<std::size_t>(dst.numel() * bytes));
        return;
    }
    // A conversion between contiguous tensors (autocast's casts, 16-bit ops widening their operands) is
    // one loop split across threads: bfloat16 <-> float32 on the SIMD kernels, the rest vectorised
    // by the compiler.
    const bool contiguous = dst.shape == src.shape && dst.is_contiguous() && src.is_contiguous();
    const std::array<Shape, 2> strides{dst.strides, broadcast_strides(src, dst.shape)};
    visit_storage_dtype(dst.dtype, [&](auto dtag) {
        using D = typename decltype(dtag)::type;
        visit_storage_dtype(src.dtype, [&](auto stag) {
            using S = typename decltype(stag)::type;
            D* out = dst.data<D>();
            const S* in = src.data<S>();
            if (contiguous) {
                elementwise_chunks(dst.numel(), [&](std::int64_t begin, std::int64_t end) {
                    if constexpr (std::is_same_v<D, float> && std::is_same_v<S, BFloat16>) {
                        ops::detail::widen_bfloat16(in + begin, out + begin, end - begin);
                    } else if constexpr (std::is_same_v<D, BFloat16> && std::is_same_v<S, float>) {
                        ops::detail::narrow_bfloat16(in + begin, out + begin, end - begin);
                    } else {
                        for (std::int64_t k = begin; k < end; ++k) out[k] = element_cast<D>(in[k]);
                    }
                });
                return;
            }
            const auto copy_run = [&](const auto& off, std::int64_t n, const auto& inner) {
                D* o = out + off[0];
                const S* s = in + off[1];
                if (inner[0] == 1 && inner[1] == 1) {
                    for (std::int64_t k = 0; k < n; ++k) o[k] = element_cast<D>(s[k]);
                } else if (inner[0] == 1 && inner[1] == 0) {
                    std::fill(o, o + n, element_cast<D>(*s));
                } else {
                    for (std::int64_t k = 0; k < n; ++k) o[k * inner[0]] = element_cast<D>(s[k * inner[1]]);
                }
            };
            if (!dst.is_contiguous()) {  // dst may alias itself (an expanded view): one thread, in order
                for_each_run<2>(dst.shape, strides, copy_run);
                return;
            }
            // Into a contiguous tensor (a broadcast gradient made whole, a transposed copy) the rows
            // write disjoint elements: split over the threads.
            const std::int64_t rows = count_runs<2>(dst.shape, strides);
            row_chunks(rows, dst.numel() / std::max<std::int64_t>(rows, 1), [&](std::int64_t first, std::int64_t last) {
                for_each_run_between<2>(dst.shape, strides, first, last, copy_run);
            });
        });
    });
}

}  // namespace kernels

namespace detail {

Tensor contiguous_data(const Tensor& t) {
    const TensorImpl& i = checked(t, "contiguous");
    if (i.is_contiguous()) return t;
    Tensor out = empty_tensor(i.shape, i.dtype);
    kernels::copy_strided(out.impl(), i);
    return out;
}

}  // namespace detail

Tensor Tensor::to(Dtype dtype) const {
    const TensorImpl& i = impl();
    if (i.uninitialized()) {
        // A conversion of an uninitialised tensor stays uninitialised, with the new dtype.
        auto converted = std::make_shared<TensorImpl>();
        converted->state = i.state;
        converted->dtype = dtype;
        converted->shape = {0};
        converted->strides = {1};
        converted->requires_grad = i.requires_grad && is_floating(dtype);
        return Tensor(converted);
    }
    detail::checked(*this, "to");
    if (i.dtype == dtype) return *this;
    Tensor out = detail::empty_tensor(i.shape, dtype);
    kernels::copy_strided(out.impl(), i);
    if (needs_grad({this}) && is_floating(dtype)) {
        const Dtype from = i.dtype;
        record(
            out, "ToCopyBackward0", {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; }, false,
            autograd::detail::kDifferentiable);
    }
    return out;
}

Tensor Tensor::clone() const {
    const TensorImpl& i = detail::checked(*this, "clone");
    Tensor out = detail::empty_tensor(i.shape, i.dtype);
    kernels::copy_strided(out.impl(), i);
    if (needs_grad({this})) {
        record(
            out, "CloneBackward0", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; }, false,
            autograd::detail::kDifferentiable);
    }
    return out;
}

Tensor Tensor::contiguous() const {
    if (detail::checked(*this, "contiguous").is_contiguous()) return *this;
    return clone();
}

namespace detail {

bool prepare_inplace(const Tensor& self, std::initializer_list<const Tensor*> others, const char* op) {
    TensorImpl& i = self.impl();
    std::vector<const Tensor*> all{&self};
    all.insert(all.end(), others.begin(), others.end());
    bool record_grad = false;
    for (const Tensor* t : all)
        record_grad = record_grad || (is_grad_enabled() && t->defined() && t->impl().requires_grad);
    if (record_grad && i.requires_grad && !i.grad_fn) {
        throw RuntimeError(std::string(op) +
                           ": a leaf Variable that requires grad is being used in an in-place operation.");
    }
    if (record_grad && i.is_view) {
        const std::shared_ptr<ViewMeta> meta = i.view_meta;
        if (!meta) {
            throw RuntimeError(std::string(op) +
                               ": in-place operations on this alias are not differentiable (it was "
                               "not made by a view op); use the out-of-place form or run under NoGradGuard");
        }
        if (meta->multi_output_creator) {
            throw RuntimeError(std::string(op) + ": Output " + std::to_string(meta->output_index) + " of " +
                               meta->multi_output_creator +
                               " is a view and is being modified inplace. This view is the output of a function that "
                               "returns multiple views. Such functions do not allow the output views to be modified "
                               "inplace. You should replace the inplace operation by an out-of-place one.");
        }
        if (!meta->base->grad_fn && meta->base->requires_grad) {
            throw RuntimeError(std::string(op) +
                               ": a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.");
        }
    }
    return record_grad;
}

void commit_inplace(Tensor& self, const Tensor& result) {
    TensorImpl& i = self.impl();
    kernels::copy_strided(i, result.impl());
    i.storage->bump_version();
    if (i.is_view && i.view_meta) {
        autograd::detail::rebase_view_history(self, result);
        return;
    }
    if (result.impl().grad_fn) {
        i.grad_fn = result.impl().grad_fn;
        i.requires_grad = true;
    }
}

}  // namespace detail

Tensor& Tensor::copy_(const Tensor& src) {
    TensorImpl& i = impl();
    detail::checked(src, "copy_");
    const bool record_grad = detail::prepare_inplace(*this, {&src}, "copy_");
    if (i.uninitialized()) detail::throw_uninitialized(i, "copy_ (materialize the parameter before copying into it)");
    broadcast_shapes(i.shape, src.impl().shape, "copy_");
    if (shape_numel(broadcast_shapes(i.shape, src.impl().shape, "copy_")) != i.numel()) {
        throw ShapeError("copy_: the source of shape " + shape_to_list(src.impl().shape) +
                         " cannot be broadcast to the destination shape " + shape_to_list(i.shape));
    }
    if (record_grad && i.is_view) {
        // Through the view into its base: the base's history is rebased (commit_inplace).
        const Shape broadcast = broadcast_shapes(i.shape, src.impl().shape, "copy_");
        Tensor value = src.to(i.dtype).expand(broadcast);
        if (broadcast != i.shape) value = value.reshape(i.shape);  // leading 1s of a longer source
        detail::commit_inplace(*this, value);
        return *this;
    }
    kernels::copy_strided(i, src.impl());
    i.storage->bump_version();
    if (record_grad) {
        const Shape src_shape = src.impl().shape;
        const Dtype src_dtype = src.impl().dtype;
        Tensor self = *this;
        record(
            self, "CopyBackwards", {src},
            [src_shape, src_dtype](const Tensor& g) { return std::vector<Tensor>{sum_to(g, src_shape).to(src_dtype)}; },
            false, autograd::detail::kDifferentiable);
    }
    return *this;
}

Tensor& Tensor::fill_(double value) {
    TensorImpl& i = detail::checked(*this, "fill_");
    const bool record_grad = detail::prepare_inplace(*this, {}, "fill_");
    if (record_grad && i.is_view) {
        detail::commit_inplace(*this, full(i.shape, value, i.dtype));  // the base keeps its history outside
        return *this;
    }
    visit_storage_dtype(i.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const std::array<Shape, 1> strides{i.strides};
        T* p = i.data<T>();
        const T v = static_cast<T>(value);
        kernels::for_each_run<1>(i.shape, strides, [&](const auto& off, std::int64_t n, const auto& inner) {
            for (std::int64_t k = 0; k < n; ++k) p[off[0] + k * inner[0]] = v;
        });
    });
    i.storage->bump_version();
    if (record_grad) {
        // The old history receives a zero gradient from a constant (PyTorch's FillBackward0).
        Tensor self = *this;
        record(
            self, "FillBackward0", {self}, [](const Tensor& g) { return std::vector<Tensor>{zeros_like(g)}; }, false,
            autograd::detail::kDifferentiable);
    }
    return *this;
}

Tensor& Tensor::zero_() { return fill_(0.0); }

}  // namespace lazynn
