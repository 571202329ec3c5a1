#pragma once
// Tensor: a cheap handle to a shared TensorImpl (storage, shape, strides, dtype, autograd state).
// Copying a Tensor shares data, like PyTorch; clone() makes an independent copy.
//
// Contract:
//   - A default-constructed Tensor is undefined (defined() == false); using it throws.
//   - View ops (reshape of contiguous data, view, transpose, permute, slice, select, narrow,
//     expand, squeeze, unsqueeze, flatten) share storage with their input.
//   - Every differentiable op records a backward node when grad mode is on and an input
//     requires grad (see autograd.hpp).
//   - A tensor in the uninitialised state (an UninitializedParameter, see parameter.hpp) allows
//     only size(), dtype queries, dtype conversions and copy_; everything else throws ValueError.
// Copy/move: both are cheap handle operations (shared ownership of the impl).

#include <lazynn/dtype.hpp>
#include <lazynn/hook_handle.hpp>
#include <lazynn/shape.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace lazynn {

class TensorImpl;
class Node;
class Tensor;

/// Factory options: dtype and requires_grad, with fluent setters.
struct TensorOptions {
    Dtype dtype_ = kFloat32;
    bool requires_grad_ = false;

    TensorOptions() = default;
    TensorOptions(Dtype dtype) : dtype_(dtype) {}  // NOLINT: implicit on purpose, zeros({2}, kFloat64)
    TensorOptions& dtype(Dtype d) {
        dtype_ = d;
        return *this;
    }
    TensorOptions& requires_grad(bool r = true) {
        requires_grad_ = r;
        return *this;
    }
};

/// Result of reductions that also report where the extremum was (max/min over a dim).
struct ValuesIndices;

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    bool defined() const { return impl_ != nullptr; }
    /// True when both handles refer to the same tensor object (PyTorch's `is`).
    bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

    // ---- metadata ----
    /// Throws RuntimeError on an uninitialised parameter (PyTorch's `.shape`).
    const Shape& shape() const;
    /// Allowed on an uninitialised parameter, where it reports [0] (PyTorch's `.size()`).
    Shape sizes() const;
    std::int64_t size(std::int64_t dim) const;
    std::int64_t dim() const;
    std::int64_t numel() const;
    Dtype dtype() const;
    bool is_floating_point() const;
    const Shape& strides() const;
    bool is_contiguous() const;
    /// True while the tensor is an UninitializedParameter/UninitializedBuffer.
    bool is_uninitialized() const;

    // ---- autograd ----
    bool requires_grad() const;
    /// Sets requires_grad on a leaf. Throws on non-leaf tensors asked to stop requiring grad
    /// and on integer dtypes.
    Tensor& requires_grad_(bool requires_grad = true);
    /// The accumulated gradient (undefined until a backward reached this leaf).
    Tensor grad() const;
    void set_grad(const Tensor& grad) const;
    std::shared_ptr<Node> grad_fn() const;
    bool is_leaf() const;
    /// Makes a non-leaf keep its .grad() after backward.
    void retain_grad() const;
    bool retains_grad() const;
    /// Calls hook(leaf) each time a backward has accumulated into this leaf's .grad() (PyTorch's
    /// register_post_accumulate_grad_hook); data-parallel training starts its gradient exchange
    /// here. Returns the handle that removes it (the same HookHandle as every other hook). Throws
    /// on non-leaf tensors.
    HookHandle register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const;
    /// Calls hook(grad) on the gradient computed for this tensor during backward(), before it is
    /// accumulated into .grad() (leaves) or flows on (non-leaves); a defined return value of the
    /// same shape replaces the gradient. Hooks run in registration order; autograd::grad() does not
    /// run them (PyTorch 1.13). Throws on a tensor that does not require grad.
    HookHandle register_hook(std::function<Tensor(const Tensor&)> hook) const;
    /// Runs backprop from this tensor. Without `gradient` the tensor must hold one element.
    /// create_graph records the backward so the gradients can be differentiated again;
    /// retain_graph defaults to create_graph.
    void backward(const Tensor& gradient = Tensor(), std::optional<bool> retain_graph = std::nullopt,
                  bool create_graph = false) const;
    /// How many in-place writes the tensor's storage has seen (shared with its views and
    /// detach()ed aliases), like PyTorch's `_version`.
    std::int64_t _version() const;
    /// A new handle sharing storage, cut from the graph, requires_grad false.
    Tensor detach() const;
    Tensor& detach_();

    // ---- data access ----
    template <class T>
    T item() const;
    template <class T>
    T* data_ptr();
    template <class T>
    const T* data_ptr() const;
    /// The elements in row-major order, converted to T.
    template <class T>
    std::vector<T> to_vector() const;
    /// A copy in `dtype` (this tensor when it has it already), recorded for autograd between
    /// floating types. To bfloat16/float16: PyTorch's rounding (nearest, ties to even; NaN kept;
    /// overflow to infinity; subnormals kept), from float64 through float32 as PyTorch does.
    Tensor to(Dtype dtype) const;
    Tensor clone() const;
    Tensor contiguous() const;
    Tensor& copy_(const Tensor& src);
    Tensor& fill_(double value);
    Tensor& zero_();

    // ---- views and reshaping ----
    Tensor reshape(const Shape& shape) const;
    Tensor view(const Shape& shape) const;
    Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
    Tensor squeeze() const;
    Tensor squeeze(std::int64_t dim) const;
    Tensor unsqueeze(std::int64_t dim) const;
    Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
    Tensor permute(const Shape& dims) const;
    /// Transpose of a 1-D or 2-D tensor.
    Tensor t() const;
    /// Elements start, start+step, ... < end along dim (negative and out-of-range bounds clamp,
    /// as in Python slicing).
    Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
    Tensor select(std::int64_t dim, std::int64_t index) const;
    Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
    /// Broadcasts size-1 dims to `shape`; -1 keeps a dim.
    Tensor expand(const Shape& shape) const;
    Tensor expand_as(const Tensor& other) const;
    Tensor index_select(std::int64_t dim, const Tensor& index) const;
    std::vector<Tensor> split(std::int64_t split_size, std::int64_t dim = 0) const;
    std::vector<Tensor> chunk(std::int64_t chunks, std::int64_t dim = 0) const;

    // ---- elementwise ----
    Tensor neg() const;
    Tensor abs() const;
    Tensor exp() const;
    Tensor log() const;
    Tensor sqrt() const;
    Tensor rsqrt() const;
    Tensor pow(double exponent) const;
    Tensor pow(const Tensor& exponent) const;
    Tensor clamp(double min, double max) const;
    Tensor clamp_min(double min) const;
    Tensor clamp_max(double max) const;
    Tensor sin() const;
    Tensor cos() const;
    Tensor tanh() const;
    Tensor sigmoid() const;
    Tensor relu() const;
    Tensor gelu(bool tanh_approximation = false) const;
    Tensor silu() const;
    Tensor softplus(double beta = 1.0, double threshold = 20.0) const;
    Tensor log1p() const;
    Tensor expm1() const;
    Tensor tan() const;
    Tensor erf() const;
    /// -1, 0 or 1 (NaN stays NaN); the gradient is 0.
    Tensor sign() const;
    Tensor floor() const;
    Tensor ceil() const;
    /// Rounds half to even, like PyTorch.
    Tensor round() const;
    Tensor trunc() const;
    Tensor reciprocal() const;
    /// C's fmod: the remainder has the dividend's sign.
    Tensor fmod(const Tensor& other) const;
    Tensor fmod(double other) const;
    /// Python's modulus: the remainder has the divisor's sign.
    Tensor remainder(const Tensor& other) const;
    Tensor remainder(double other) const;
    Tensor atan2(const Tensor& other) const;

    // ---- in-place arithmetic ----
    Tensor& add_(const Tensor& other, double alpha = 1.0);
    Tensor& add_(double other);
    Tensor& sub_(const Tensor& other);
    Tensor& sub_(double other);
    Tensor& mul_(const Tensor& other);
    Tensor& mul_(double other);
    Tensor& div_(const Tensor& other);
    Tensor& div_(double other);
    Tensor& clamp_(double min, double max);

    // ---- reductions ----
    Tensor sum() const;
    Tensor sum(const Shape& dims, bool keepdim = false) const;
    Tensor mean() const;
    Tensor mean(const Shape& dims, bool keepdim = false) const;
    /// Variance over every element with Bessel's correction (PyTorch's unbiased=True).
    Tensor var() const;
    /// var(false) is the biased variance. Only a real bool binds here: `var({1})` is a dim list.
    template <class Bool, std::enable_if_t<std::is_same_v<Bool, bool>, int> = 0>
    Tensor var(Bool unbiased) const {
        return var(Shape{}, unbiased ? 1.0 : 0.0);
    }
    /// PyTorch's var(dim, correction, keepdim): sum((x - mean)^2) / (N - correction) over `dims`
    /// (every dim when empty). A bool passed as correction means unbiased (1) or not (0).
    Tensor var(const Shape& dims, double correction = 1.0, bool keepdim = false) const;
    Tensor std() const;
    template <class Bool, std::enable_if_t<std::is_same_v<Bool, bool>, int> = 0>
    Tensor std(Bool unbiased) const {
        return std(Shape{}, unbiased ? 1.0 : 0.0);
    }
    /// sqrt of var(dims, correction, keepdim); the gradient is 0 where the result is 0, like PyTorch.
    Tensor std(const Shape& dims, double correction = 1.0, bool keepdim = false) const;
    Tensor max() const;
    ValuesIndices max(std::int64_t dim, bool keepdim = false) const;
    Tensor min() const;
    ValuesIndices min(std::int64_t dim, bool keepdim = false) const;
    /// Index of the maximum over the flattened tensor.
    Tensor argmax() const;
    Tensor argmax(std::int64_t dim, bool keepdim = false) const;
    Tensor argmin() const;
    Tensor argmin(std::int64_t dim, bool keepdim = false) const;
    Tensor logsumexp(const Shape& dims, bool keepdim = false) const;
    Tensor prod() const;
    Tensor prod(std::int64_t dim, bool keepdim = false) const;
    Tensor cumsum(std::int64_t dim) const;

    // ---- shape and masks ----
    /// A copy with the order of elements reversed along `dims`.
    Tensor flip(const Shape& dims) const;
    /// The lower (tril) or upper (triu) triangle of the last two dims, the rest zero; `diagonal`
    /// shifts the boundary up (> 0) or down (< 0).
    Tensor tril(std::int64_t diagonal = 0) const;
    Tensor triu(std::int64_t diagonal = 0) const;
    /// `value` where the bool mask is true (broadcast with self), self elsewhere; DtypeError for a
    /// mask of another dtype.
    Tensor masked_fill(const Tensor& mask, double value) const;

    // ---- indexing (framework/src/ops/indexing.cpp, sort.cpp) ----
    // Index tensors are int64; masks are bool (other dtypes are read as nonzero = true).
    /// out[i][j] = self[index[i][j]][j] for dim 0 (and likewise for other dims); out has index's shape.
    Tensor gather(std::int64_t dim, const Tensor& index) const;
    /// A copy of self with src[i][j] written at [index[i][j]][j] (dim 0); index no larger than src.
    /// Duplicate indices leave one of the values, unspecified which (as in PyTorch).
    Tensor scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const;
    Tensor scatter(std::int64_t dim, const Tensor& index, double value) const;
    /// Like scatter, adding src into the copy (duplicates accumulate).
    Tensor scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const;
    /// The elements where mask (broadcast with self) is true, as a 1-D tensor.
    Tensor masked_select(const Tensor& mask) const;
    /// Indices of the nonzero elements, [count, dim] int64, in row-major order.
    Tensor nonzero() const;
    /// Sorted values and the indices they came from along `dim`; `stable` keeps equal elements in
    /// their order. NaN sorts as the largest value (PyTorch's rule).
    ValuesIndices sort(std::int64_t dim = -1, bool descending = false, bool stable = false) const;
    Tensor argsort(std::int64_t dim = -1, bool descending = false, bool stable = false) const;
    /// The k largest (or smallest) elements along `dim` and their indices, sorted when `sorted`.
    ValuesIndices topk(std::int64_t k, std::int64_t dim = -1, bool largest = true, bool sorted = true) const;

    // ---- more reductions (framework/src/ops/norms.cpp) ----
    /// The vector p-norm over all elements (p = 1, 2, inf, or any p > 0); the gradient is 0 where the
    /// norm is 0.
    Tensor norm(double p = 2.0) const;
    Tensor norm(double p, const Shape& dims, bool keepdim = false) const;
    /// True when every (any) element is nonzero; bool results.
    Tensor all() const;
    Tensor all(std::int64_t dim, bool keepdim = false) const;
    Tensor any() const;
    Tensor any(std::int64_t dim, bool keepdim = false) const;
    /// Running products along `dim`; the gradient is exact where elements are zero.
    Tensor cumprod(std::int64_t dim) const;
    /// max/min over a list of dims (every dim when empty); the gradient is shared evenly among ties.
    Tensor amax(const Shape& dims = {}, bool keepdim = false) const;
    Tensor amin(const Shape& dims = {}, bool keepdim = false) const;

    // ---- more shape ops (framework/src/ops/shape_ops.cpp) ----
    /// Tiles self `repeats[d]` times along each dim (leading repeats add dims).
    Tensor repeat(const Shape& repeats) const;
    /// Elements shifted circularly by `shifts[k]` along `dims[k]`; without dims, over the flattened
    /// tensor (the shape is kept).
    Tensor roll(const Shape& shifts, const Shape& dims = {}) const;
    Tensor roll(std::int64_t shift) const;
    Tensor roll(std::int64_t shift, std::int64_t dim) const;
    /// The slices along `dim`, as views.
    std::vector<Tensor> unbind(std::int64_t dim = 0) const;
    /// Consecutive pieces of the given sizes along `dim` (they must add up to its size). A
    /// one-element braced list binds to split(int64) instead: pass `std::vector<std::int64_t>{n}`.
    std::vector<Tensor> split(const std::vector<std::int64_t>& split_sizes, std::int64_t dim = 0) const;

    // ---- comparisons and logical ops (bool results) ----
    Tensor eq(const Tensor& other) const;
    Tensor ne(const Tensor& other) const;
    Tensor lt(const Tensor& other) const;
    Tensor le(const Tensor& other) const;
    Tensor gt(const Tensor& other) const;
    Tensor ge(const Tensor& other) const;
    Tensor eq(double other) const;
    Tensor ne(double other) const;
    Tensor lt(double other) const;
    Tensor le(double other) const;
    Tensor gt(double other) const;
    Tensor ge(double other) const;
    Tensor logical_and(const Tensor& other) const;
    Tensor logical_or(const Tensor& other) const;
    Tensor logical_xor(const Tensor& other) const;
    Tensor logical_not() const;

    // ---- linear algebra and normalisers ----
    Tensor matmul(const Tensor& other) const;
    /// [n, m] x [m, p] -> [n, p] (2-D only).
    Tensor mm(const Tensor& other) const;
    /// [b, n, m] x [b, m, p] -> [b, n, p] (3-D only, equal batch sizes).
    Tensor bmm(const Tensor& other) const;
    /// [n] x [m] -> [n, m].
    Tensor outer(const Tensor& other) const;
    /// [n] . [n] -> 0-dim.
    Tensor dot(const Tensor& other) const;
    Tensor softmax(std::int64_t dim) const;
    Tensor log_softmax(std::int64_t dim) const;

    /// PyTorch's repr, e.g. "tensor([[1., 2.],\n        [3., 4.]], requires_grad=True)".
    std::string str() const;

    TensorImpl& impl() const;
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

private:
    std::shared_ptr<TensorImpl> impl_;
};

struct ValuesIndices {
    Tensor values;
    Tensor indices;
};

std::ostream& operator<<(std::ostream& os, const Tensor& tensor);

// ---- factories ----
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
/// Values start, start+step, ... < end. The dtype defaults to int64 when every argument is
/// integral is not knowable in C++, so pass kInt64 explicitly for integer ranges.
Tensor arange(double end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options = {});
/// U[0, 1) from the global generator (one draw of it keys the whole tensor; the same values on
/// any number of threads).
Tensor rand(const Shape& shape, TensorOptions options = {});
/// N(0, 1) from the global generator.
Tensor randn(const Shape& shape, TensorOptions options = {});
/// Integers uniform in [low, high), int64 by default.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options = kInt64);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor rand_like(const Tensor& t);
Tensor randn_like(const Tensor& t);
/// PyTorch's torch.bernoulli(t, p): t's shape and floating dtype, each element 1 with probability
/// p and 0 otherwise, drawn like rand() (dropout's mask in one pass).
Tensor bernoulli(const Tensor& t, double p);

/// A tensor holding `values` with the given shape (1-D when shape is empty and values non-empty).
Tensor tensor(const std::vector<float>& values, const Shape& shape = {}, TensorOptions options = {});
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options = kFloat64);
Tensor tensor(const std::vector<std::int64_t>& values, const Shape& shape, TensorOptions options = kInt64);
/// Literals with PyTorch's dtype rule: integers give int64, floating values float32, unless
/// options say otherwise. tensor({1., 2.}), tensor({{1, 2}, {3, 4}}), tensor({0.5}, kFloat64).
template <class T>
constexpr Dtype literal_dtype() {
    return std::is_integral_v<T> ? kInt64 : kFloat32;
}

template <class T, std::size_t N>
Tensor tensor(const T (&values)[N], TensorOptions options = literal_dtype<T>()) {
    if constexpr (std::is_integral_v<T>) {
        return tensor(std::vector<std::int64_t>(values, values + N), Shape{static_cast<std::int64_t>(N)}, options);
    } else {
        return tensor(std::vector<double>(values, values + N), Shape{static_cast<std::int64_t>(N)}, options);
    }
}

template <class T, std::size_t R, std::size_t C>
Tensor tensor(const T (&rows)[R][C], TensorOptions options = literal_dtype<T>()) {
    const Shape shape{static_cast<std::int64_t>(R), static_cast<std::int64_t>(C)};
    // Sized once and filled row by row: growing the vector with insert() makes GCC 12 at -O3 report a
    // false -Wstringop-overflow in users' builds.
    std::vector<std::conditional_t<std::is_integral_v<T>, std::int64_t, double>> flat(R * C);
    for (std::size_t r = 0; r < R; ++r)
        std::copy(rows[r], rows[r] + C, flat.begin() + static_cast<std::ptrdiff_t>(r * C));
    return tensor(flat, shape, options);
}
/// A 0-dim tensor.
Tensor scalar_tensor(double value, TensorOptions options = {});

// ---- arithmetic (NumPy broadcasting; scalars on either side) ----
// Result dtype, PyTorch's rule: tensors with dims promote each other; a 0-dim tensor only raises
// the result to its category (int64 -> floating), never within one (0-dim float64 + float32 [n]
// -> float32); a C++ double is a float32-category scalar.
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, const Tensor& b);
Tensor& operator+=(Tensor& a, double b);
Tensor& operator-=(Tensor& a, double b);
Tensor& operator*=(Tensor& a, double b);
Tensor& operator/=(Tensor& a, double b);

Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor pow(const Tensor& base, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
/// Elementwise choice: a where the bool condition is true, else b (broadcasting all three); a
/// condition of another dtype raises DtypeError, as in PyTorch. The result's dtype comes from a and b.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);

// ---- comparisons and logical ops (not differentiable; bool results, PyTorch's dtype) ----
// Comparisons compare in the operands' promoted dtype; logical ops test each operand against zero.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& t);
/// PyTorch's bitwise ops: on two bools the logical and, or, xor, not (bool result); on int64 (a bool
/// operand counts as 0 or 1) bit by bit, int64 result; floating operands raise DtypeError
/// (TypeError for ~). The operators & | ^ ~ are these.
Tensor bitwise_and(const Tensor& a, const Tensor& b);
Tensor bitwise_or(const Tensor& a, const Tensor& b);
Tensor bitwise_xor(const Tensor& a, const Tensor& b);
Tensor bitwise_not(const Tensor& t);
Tensor operator&(const Tensor& a, const Tensor& b);
Tensor operator|(const Tensor& a, const Tensor& b);
Tensor operator^(const Tensor& a, const Tensor& b);
Tensor operator~(const Tensor& a);

// ---- free-function forms of the methods ----
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor softmax(const Tensor& t, std::int64_t dim);
Tensor log_softmax(const Tensor& t, std::int64_t dim);
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor exp(const Tensor& t);
Tensor log(const Tensor& t);
Tensor sqrt(const Tensor& t);
Tensor tanh(const Tensor& t);
Tensor sigmoid(const Tensor& t);
Tensor relu(const Tensor& t);
Tensor abs(const Tensor& t);
Tensor fmod(const Tensor& a, const Tensor& b);
Tensor remainder(const Tensor& a, const Tensor& b);
Tensor atan2(const Tensor& a, const Tensor& b);

Tensor gather(const Tensor& t, std::int64_t dim, const Tensor& index);
Tensor scatter(const Tensor& t, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& t, std::int64_t dim, const Tensor& index, double value);
Tensor scatter_add(const Tensor& t, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor masked_select(const Tensor& t, const Tensor& mask);
Tensor masked_fill(const Tensor& t, const Tensor& mask, double value);
Tensor nonzero(const Tensor& t);
ValuesIndices sort(const Tensor& t, std::int64_t dim = -1, bool descending = false, bool stable = false);
Tensor argsort(const Tensor& t, std::int64_t dim = -1, bool descending = false, bool stable = false);
ValuesIndices topk(const Tensor& t, std::int64_t k, std::int64_t dim = -1, bool largest = true, bool sorted = true);
/// int64 class indices -> int64 [*, num_classes] with a 1 at each index (num_classes = max + 1
/// when negative), as torch.nn.functional.one_hot.
Tensor one_hot(const Tensor& t, std::int64_t num_classes = -1);
Tensor norm(const Tensor& t, double p = 2.0);
Tensor all(const Tensor& t);
Tensor any(const Tensor& t);
Tensor cumprod(const Tensor& t, std::int64_t dim);
Tensor cumsum(const Tensor& t, std::int64_t dim);
Tensor amax(const Tensor& t, const Shape& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& t, const Shape& dims = {}, bool keepdim = false);
Tensor roll(const Tensor& t, const Shape& shifts, const Shape& dims = {});
std::vector<Tensor> unbind(const Tensor& t, std::int64_t dim = 0);
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);
Tensor dot(const Tensor& a, const Tensor& b);
/// Einstein summation in torch.einsum's syntax: "ij,jk->ik", "bij,bjk->bik", "ii->i" (diagonal),
/// "...ij->...ji", implicit outputs ("ij,jk": the letters used once, A-Z then a-z). Operands share
/// one dtype; a label's sizes agree across operands or are 1 (broadcast). Differentiable, twice.
Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands);

/// |a - b| <= atol + rtol * |b| elementwise, shapes broadcastable.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
/// Same shape and identical values.
bool equal(const Tensor& a, const Tensor& b);

// ---- explicit instantiations live in tensor.cpp ----
extern template float Tensor::item<float>() const;
extern template double Tensor::item<double>() const;
extern template std::int64_t Tensor::item<std::int64_t>() const;
extern template float* Tensor::data_ptr<float>();
extern template double* Tensor::data_ptr<double>();
extern template std::int64_t* Tensor::data_ptr<std::int64_t>();
extern template const float* Tensor::data_ptr<float>() const;
extern template const double* Tensor::data_ptr<double>() const;
extern template const std::int64_t* Tensor::data_ptr<std::int64_t>() const;
extern template std::vector<float> Tensor::to_vector<float>() const;
extern template std::vector<double> Tensor::to_vector<double>() const;
extern template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
extern template bool Tensor::item<bool>() const;
extern template bool* Tensor::data_ptr<bool>();
extern template const bool* Tensor::data_ptr<bool>() const;
extern template std::vector<bool> Tensor::to_vector<bool>() const;
extern template BFloat16 Tensor::item<BFloat16>() const;
extern template Half Tensor::item<Half>() const;
extern template BFloat16* Tensor::data_ptr<BFloat16>();
extern template Half* Tensor::data_ptr<Half>();
extern template const BFloat16* Tensor::data_ptr<BFloat16>() const;
extern template const Half* Tensor::data_ptr<Half>() const;
extern template std::vector<BFloat16> Tensor::to_vector<BFloat16>() const;
extern template std::vector<Half> Tensor::to_vector<Half>() const;

}  // namespace lazynn
