// Dtype and shape helpers, Storage and TensorImpl.
#include "tensor_impl.hpp"

#include <algorithm>
#include <limits>
#include <sstream>

namespace lazynn {

std::string dtype_name(Dtype dtype) {
    switch (dtype) {
        case Dtype::Float32:
            return "float32";
        case Dtype::Float64:
            return "float64";
        case Dtype::Int64:
            return "int64";
        case Dtype::Bool:
            return "bool";
        case Dtype::BFloat16:
            return "bfloat16";
        case Dtype::Float16:
            return "float16";
    }
    return "unknown";
}

std::size_t dtype_size(Dtype dtype) {
    switch (dtype) {
        case Dtype::Float32:
            return 4;
        case Dtype::Bool:
            return 1;
        case Dtype::BFloat16:
        case Dtype::Float16:
            return 2;
        case Dtype::Float64:
        case Dtype::Int64:
            break;
    }
    return 8;
}

Dtype promote_types(Dtype a, Dtype b) {
    if (a == Dtype::Float64 || b == Dtype::Float64) return Dtype::Float64;
    if (a == Dtype::Float32 || b == Dtype::Float32) return Dtype::Float32;
    if (is_float16(a) && is_float16(b)) return a == b ? a : Dtype::Float32;
    if (is_float16(a)) return a;
    if (is_float16(b)) return b;
    if (a == Dtype::Int64 || b == Dtype::Int64) return Dtype::Int64;
    return Dtype::Bool;
}

void throw_needs_floating(const char* op, Dtype got) {
    throw DtypeError(std::string(op) + ": expected a floating point tensor (float32 or float64), got " +
                     dtype_name(got) + "; convert with .to(kFloat32)");
}

void throw_float16_unsupported(const char* op, Dtype got) {
    throw DtypeError(std::string(op) + " does not take " + dtype_name(got) +
                     " tensors yet (it computes in float32 or float64 only); convert the input with .to(kFloat32)");
}

std::int64_t shape_numel(const Shape& shape) {
    // Checked: a shape read from a file ([2^62 + 1, 4], [65536]^4) must not wrap into a small count.
    std::int64_t n = 1;
    bool overflow = false;
    for (auto d : shape) overflow = __builtin_mul_overflow(n, d, &n) || overflow;
    // A zero extent makes the product 0 whatever overflowed before it.
    if (overflow && std::find(shape.begin(), shape.end(), 0) == shape.end()) {
        throw RuntimeError("the shape " + shape_to_list(shape) + " has more elements than a 64-bit count can hold");
    }
    return overflow ? 0 : n;
}

std::string shape_to_string(const Shape& shape) {
    std::ostringstream out;
    for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? "x" : "") << shape[i];
    return out.str();
}

std::string shape_to_list(const Shape& shape) {
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    std::int64_t s = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        strides[i] = s;
        // The outermost stride is never multiplied again, so only products still needed are checked.
        if (i > 0 && __builtin_mul_overflow(s, std::max<std::int64_t>(shape[i], 1), &s)) {
            throw RuntimeError("the shape " + shape_to_list(shape) +
                               " is too large: its strides overflow a 64-bit count");
        }
    }
    return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    const std::size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (std::size_t i = 0; i < rank; ++i) {
        const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (da != db && da != 1 && db != 1) {
            throw ShapeError(std::string(op) + ": shapes " + shape_to_list(a) + " and " + shape_to_list(b) +
                             " cannot be broadcast (dimension " + std::to_string(i) + ": " + std::to_string(da) +
                             " vs " + std::to_string(db) + ")");
        }
        out[i] = da == 1 ? db : da;
    }
    return out;
}

std::int64_t normalize_dim(std::int64_t dim, std::int64_t rank) {
    const std::int64_t r = std::max<std::int64_t>(rank, 1);
    if (dim < -r || dim >= r) {
        throw IndexError("Dimension out of range (expected to be in range of [" + std::to_string(-r) + ", " +
                         std::to_string(r - 1) + "], but got " + std::to_string(dim) + ")");
    }
    return dim < 0 ? dim + r : dim;
}

Storage::Storage(Dtype dtype, std::int64_t size) : dtype_(dtype), size_(size) {
    const auto n = static_cast<std::size_t>(size);
    switch (dtype) {
        case Dtype::Float32:
            raw_ = buffer_.emplace<StorageBuffer<float>>(n).data();
            break;
        case Dtype::Float64:
            raw_ = buffer_.emplace<StorageBuffer<double>>(n).data();
            break;
        case Dtype::Int64:
            raw_ = buffer_.emplace<StorageBuffer<std::int64_t>>(n).data();
            break;
        case Dtype::Bool:
            raw_ = buffer_.emplace<StorageBuffer<bool>>(n).data();
            break;
        case Dtype::BFloat16:
            raw_ = buffer_.emplace<StorageBuffer<BFloat16>>(n).data();
            break;
        case Dtype::Float16:
            raw_ = buffer_.emplace<StorageBuffer<Half>>(n).data();
            break;
    }
}

std::shared_ptr<TensorImpl> TensorImpl::allocate(const Shape& shape, Dtype dtype) {
    for (auto d : shape) {
        if (d < 0)
            throw ValueError("Trying to create tensor with negative dimension " + std::to_string(d) + ": " +
                             shape_to_list(shape));
    }
    auto impl = std::make_shared<TensorImpl>();
    const std::int64_t numel = shape_numel(shape);
    if (static_cast<std::uint64_t>(numel) > std::numeric_limits<std::uint64_t>::max() / 2 / dtype_size(dtype)) {
        throw RuntimeError("cannot allocate a " + dtype_name(dtype) + " tensor of shape " + shape_to_list(shape) +
                           ": " + std::to_string(numel) + " elements of " + std::to_string(dtype_size(dtype)) +
                           " bytes overflow the addressable size");
    }
    impl->storage = std::make_shared<Storage>(dtype, numel);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dtype;
    return impl;
}

std::shared_ptr<TensorImpl> TensorImpl::alias(const TensorImpl& base, Shape shape, Shape strides, std::int64_t offset) {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = base.storage;
    impl->shape = std::move(shape);
    impl->strides = std::move(strides);
    impl->offset = offset;
    impl->dtype = base.dtype;
    impl->is_view = true;
    return impl;
}

bool TensorImpl::is_contiguous() const {
    std::int64_t expected = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        if (shape[i] == 1) continue;
        if (strides[i] != expected) return false;
        expected *= shape[i];
    }
    return true;
}

namespace detail {

void throw_uninitialized(const TensorImpl& impl, const char* op) {
    const char* kind =
        impl.state == TensorState::UninitializedBuffer ? "UninitializedBuffer" : "UninitializedParameter";
    throw ValueError(
        std::string("Attempted to use an uninitialized parameter in ") + op +
        ". This error happens when you are using a `LazyModule` or explicitly manipulating `lazynn::" + kind +
        "` objects. When using LazyModules Call `forward` with a dummy batch to initialize the parameters "
        "before calling tensor functions");
}

TensorImpl& checked(const Tensor& t, const char* op) {
    if (!t.defined())
        throw RuntimeError(std::string(op) + ": the tensor is undefined (default-constructed); assign a value first");
    TensorImpl& impl = t.impl();
    if (impl.uninitialized()) throw_uninitialized(impl, op);
    return impl;
}

}  // namespace detail
}  // namespace lazynn
