// Broadcasting binary arithmetic, comparisons, where, and their backward.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

#include <algorithm>

namespace lazynn {

using autograd::detail::BackwardInputs;
using autograd::detail::kDifferentiable;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;
using autograd::detail::sum_to;

namespace kernels {

Dtype result_type(const TensorImpl& a, const TensorImpl& b) {
    const bool a_dims = !a.shape.empty(), b_dims = !b.shape.empty();
    if (a_dims == b_dims) return promote_types(a.dtype, b.dtype);
    const Dtype with_dims = a_dims ? a.dtype : b.dtype;
    const Dtype zero_dim = a_dims ? b.dtype : a.dtype;
    return is_floating(with_dims) ? with_dims : promote_types(with_dims, zero_dim);
}

Tensor converted(const Tensor& t, Dtype dtype) {
    const TensorImpl& i = lazynn::detail::checked(t, "to");
    if (i.dtype == dtype) return t;
    Tensor out = lazynn::detail::empty_tensor(i.shape, dtype);
    copy_strided(out.impl(), i);
    return out;
}

void throw_bool_unsupported(const char* op) {
    throw DtypeError(std::string(op) +
                     ": not implemented for 'Bool' tensors; convert with .to(kInt64) or .to(kFloat32)");
}

Tensor scalar_like(const Tensor& like, double value) {
    Dtype dtype = lazynn::detail::checked(like, "scalar").dtype;
    // A C++ number is an integer- or float-category scalar: bool tensors take integers as int64.
    // Beside a 16-bit tensor it stays a float32 number (it does not decide the result's dtype, and
    // PyTorch's kernels read it in float32 rather than rounded to 16 bits).
    const bool fractional_for_integers = (dtype == kInt64 || dtype == kBool) && std::floor(value) != value;
    if (is_float16(dtype) || fractional_for_integers)
        dtype = kFloat32;
    else if (dtype == kBool)
        dtype = kInt64;
    return full({}, value, dtype);
}

}  // namespace kernels

namespace {

/// The gradient for an input of `shape`/`dtype` from a gradient of the broadcast output.
Tensor input_grad(const Tensor& g, const Shape& shape, Dtype dtype) { return sum_to(g, shape).to(dtype); }

struct InputInfo {
    Shape shape;
    Dtype dtype;
    bool needed;
};

InputInfo info(const Tensor& t) { return {t.shape(), t.dtype(), t.requires_grad()}; }

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
    Tensor out = alpha == 1.0 ? kernels::binary(a, b, "add", [](auto x, auto y) { return x + y; })
                              : kernels::binary(a, b, "add", [alpha](auto x, auto y) { return x + alpha * y; });
    if (needs_grad({&a, &b})) {
        record(
            out, "AddBackward0", {a, b},
            [ia = info(a), ib = info(b), alpha](const Tensor& g) {
                return std::vector<Tensor>{
                    ia.needed ? input_grad(g, ia.shape, ia.dtype) : Tensor(),
                    ib.needed ? input_grad(alpha == 1.0 ? g : g * alpha, ib.shape, ib.dtype) : Tensor()};
            },
            false, kDifferentiable);
    }
    return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
    if (kernels::result_type(detail::checked(a, "sub"), detail::checked(b, "sub")) == kBool) {
        throw RuntimeError(
            "sub: Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
            "`logical_xor()` operator instead.");
    }
    Tensor out = kernels::binary(a, b, "sub", [](auto x, auto y) { return x - y; });
    if (needs_grad({&a, &b})) {
        record(
            out, "SubBackward0", {a, b},
            [ia = info(a), ib = info(b)](const Tensor& g) {
                return std::vector<Tensor>{ia.needed ? input_grad(g, ia.shape, ia.dtype) : Tensor(),
                                           ib.needed ? input_grad(-g, ib.shape, ib.dtype) : Tensor()};
            },
            false, kDifferentiable);
    }
    return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
    Tensor out = kernels::binary(a, b, "mul", [](auto x, auto y) { return x * y; });
    if (needs_grad({&a, &b})) {
        record(
            out, "MulBackward0", {a, b},
            [ia = info(a), ib = info(b), sa = SavedTensor(a), sb = SavedTensor(b)](const Tensor& g) {
                return std::vector<Tensor>{ia.needed ? input_grad(g * sb.unpack(), ia.shape, ia.dtype) : Tensor(),
                                           ib.needed ? input_grad(g * sa.unpack(), ib.shape, ib.dtype) : Tensor()};
            },
            true,
            [ia = info(a), ib = info(b)](const Tensor& g, const BackwardInputs& in) {
                return std::vector<Tensor>{ia.needed ? input_grad(g * in[1], ia.shape, ia.dtype) : Tensor(),
                                           ib.needed ? input_grad(g * in[0], ib.shape, ib.dtype) : Tensor()};
            });
    }
    return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
    // Integer (and bool) division in PyTorch is true division: promote to float32 first.
    const bool integral = !is_floating(kernels::result_type(detail::checked(a, "div"), detail::checked(b, "div")));
    const Tensor fa = integral ? kernels::converted(a, kFloat32) : a;
    Tensor out = kernels::binary(fa, b, "div", [](auto x, auto y) { return x / y; });
    if (needs_grad({&a, &b})) {
        record(
            out, "DivBackward0", {a, b},
            [ia = info(a), ib = info(b), sa = SavedTensor(a), sb = SavedTensor(b)](const Tensor& g) {
                const Tensor bv = sb.unpack();
                return std::vector<Tensor>{
                    ia.needed ? input_grad(g / bv, ia.shape, ia.dtype) : Tensor(),
                    ib.needed ? input_grad(-g * sa.unpack() / (bv * bv), ib.shape, ib.dtype) : Tensor()};
            },
            true,
            [ia = info(a), ib = info(b)](const Tensor& g, const BackwardInputs& in) {
                const Tensor bv = in[1];
                return std::vector<Tensor>{
                    ia.needed ? input_grad(g / bv, ia.shape, ia.dtype) : Tensor(),
                    ib.needed ? input_grad(-g * in[0] / (bv * bv), ib.shape, ib.dtype) : Tensor()};
            });
    }
    return out;
}

Tensor pow(const Tensor& base, const Tensor& exponent) {
    Tensor out = kernels::binary(base, exponent, "pow", [](auto x, auto y) { return std::pow(x, y); });
    if (needs_grad({&base, &exponent})) {
        record(
            out, "PowBackward1", {base, exponent},
            [ia = info(base), ib = info(exponent), sa = SavedTensor(base),
             sb = SavedTensor(exponent)](const Tensor& g) {
                const Tensor a = sa.unpack();
                const Tensor e = sb.unpack();
                Tensor ga, gb;
                if (ia.needed) {
                    ga = input_grad(
                        g * kernels::pointwise_gradient(
                                a, e, [](auto x, auto y) { return y == 0 ? decltype(x)(0) : y * std::pow(x, y - 1); }),
                        ia.shape, ia.dtype);
                }
                if (ib.needed) {
                    // d/de a^e = a^e log a, taken as 0 where a == 0 and e >= 0 (PyTorch's convention).
                    const Tensor dlog = kernels::pointwise_gradient(a, e, [](auto x, auto y) {
                        return (x == 0 && y >= 0) ? decltype(x)(0) : std::pow(x, y) * std::log(x);
                    });
                    gb = input_grad(g * dlog, ib.shape, ib.dtype);
                }
                return std::vector<Tensor>{ga, gb};
            },
            true,
            [ia = info(base), ib = info(exponent)](const Tensor& g, const BackwardInputs& in) {
                // The same conventions, with masks that are constant for autograd.
                const Tensor a = in[0], e = in[1];
                const Tensor zero = zeros({}, g.dtype());
                Tensor ga, gb;
                if (ia.needed) ga = input_grad(where(e == 0.0, zero, g * e * a.pow(e - 1.0)), ia.shape, ia.dtype);
                if (ib.needed) {
                    const Tensor skip = kernels::pointwise_gradient(
                        a, e, [](auto x, auto y) { return (x == 0 && y >= 0) ? decltype(x)(1) : decltype(x)(0); });
                    gb = input_grad(where(skip != 0.0, zero, g * a.pow(e) * a.log()), ib.shape, ib.dtype);
                }
                return std::vector<Tensor>{ga, gb};
            });
    }
    return out;
}

namespace {

/// maximum/minimum: NaN wins; the gradient goes to the winner, split evenly on ties. A NaN pair
/// gives the gradient to both sides (PyTorch's formula: g, halved where equal, zeroed where the
/// other side is strictly better).
Tensor extremum(const Tensor& a, const Tensor& b, bool is_max) {
    const char* name = is_max ? "maximum" : "minimum";
    Tensor out =
        is_max ? kernels::binary(a, b, name, [](auto x, auto y) { return x != x ? x : (y != y || y > x ? y : x); })
               : kernels::binary(a, b, name, [](auto x, auto y) { return x != x ? x : (y != y || y < x ? y : x); });
    if (needs_grad({&a, &b})) {
        record(
            out, is_max ? "MaximumBackward0" : "MinimumBackward0", {a, b},
            [ia = info(a), ib = info(b), sa = SavedTensor(a), sb = SavedTensor(b), is_max](const Tensor& g) {
                const Tensor x = sa.unpack();
                const Tensor y = sb.unpack();
                auto share = [is_max](auto p, auto q) {
                    using T = decltype(p);
                    if (p == q) return T(0.5);
                    return (is_max ? p < q : p > q) ? T(0) : T(1);
                };
                return std::vector<Tensor>{
                    ia.needed ? input_grad(g * kernels::pointwise_gradient(x, y, share), ia.shape, ia.dtype) : Tensor(),
                    ib.needed ? input_grad(g * kernels::pointwise_gradient(y, x, share), ib.shape, ib.dtype)
                              : Tensor()};
            },
            true, kDifferentiable);
    }
    return out;
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(a, b, false); }

namespace {

/// int64 fmod/remainder by zero is an error in PyTorch (ZeroDivisionError), not UB.
void check_integer_divisor(const Tensor& a, const Tensor& b, const char* name) {
    if (kernels::result_type(a.impl(), b.impl()) != kInt64) return;
    const std::vector<std::int64_t> divisors = b.to_vector<std::int64_t>();
    if (std::find(divisors.begin(), divisors.end(), 0) != divisors.end()) {
        throw RuntimeError(std::string(name) + ": ZeroDivisionError (integer division by zero)");
    }
}

/// The gradient of a - b * q(a / b) with q piecewise constant (trunc for fmod, floor for remainder).
template <class Quotient>
void record_modulo(Tensor& out, const Tensor& a, const Tensor& b, const char* node, Quotient quotient) {
    if (!needs_grad({&a, &b})) return;
    auto backward = [ia = info(a), ib = info(b), sa = SavedTensor(a), sb = SavedTensor(b), quotient](const Tensor& g) {
        Tensor gb;
        if (ib.needed) {
            const Tensor q = kernels::pointwise_gradient(sa.unpack(), sb.unpack(),
                                                         [quotient](auto x, auto y) { return quotient(x / y); });
            gb = input_grad(-g * q, ib.shape, ib.dtype);
        }
        return std::vector<Tensor>{ia.needed ? input_grad(g, ia.shape, ia.dtype) : Tensor(), gb};
    };
    record(out, node, {a, b}, backward, true, kDifferentiable);  // the quotient is locally constant
}

}  // namespace

Tensor fmod(const Tensor& a, const Tensor& b) {
    check_integer_divisor(a, b, "fmod");
    Tensor out = kernels::binary(a, b, "fmod", [](auto x, auto y) {
        if constexpr (std::is_integral_v<decltype(x)>)
            return x % y;
        else
            return std::fmod(x, y);
    });
    record_modulo(out, a, b, "FmodBackward1", [](auto q) { return std::trunc(q); });
    return out;
}

Tensor remainder(const Tensor& a, const Tensor& b) {
    check_integer_divisor(a, b, "remainder");
    Tensor out = kernels::binary(a, b, "remainder", [](auto x, auto y) {
        using T = decltype(x);
        T r;
        if constexpr (std::is_integral_v<T>)
            r = x % y;
        else
            r = std::fmod(x, y);
        // Python's modulus: a nonzero remainder takes the divisor's sign.
        return (r != 0 && ((r < 0) != (y < 0))) ? T(r + y) : r;
    });
    record_modulo(out, a, b, "RemainderBackward1", [](auto q) { return std::floor(q); });
    return out;
}

Tensor atan2(const Tensor& a, const Tensor& b) {
    // Integer inputs give float32, like PyTorch.
    const bool integral = kernels::result_type(a.impl(), b.impl()) == kInt64;
    const Tensor fa = integral ? kernels::converted(a, kFloat32) : a;
    Tensor out = kernels::binary(
        fa, b, "atan2", [](auto y, auto x) { return std::atan2(y, x); }, kernels::kTranscendentalGrain);
    if (needs_grad({&a, &b})) {
        auto backward = [ia = info(a), ib = info(b), sa = SavedTensor(a), sb = SavedTensor(b)](const Tensor& g) {
            const Tensor y = sa.unpack(), x = sb.unpack();
            const Tensor scale = g / (x * x + y * y);
            return std::vector<Tensor>{ia.needed ? input_grad(scale * x, ia.shape, ia.dtype) : Tensor(),
                                       ib.needed ? input_grad(-scale * y, ib.shape, ib.dtype) : Tensor()};
        };
        record(out, "Atan2Backward0", {a, b}, backward, true,
               [ia = info(a), ib = info(b)](const Tensor& g, const BackwardInputs& in) {
                   const Tensor y = in[0], x = in[1];
                   const Tensor scale = g / (x * x + y * y);
                   return std::vector<Tensor>{ia.needed ? input_grad(scale * x, ia.shape, ia.dtype) : Tensor(),
                                              ib.needed ? input_grad(-scale * y, ib.shape, ib.dtype) : Tensor()};
               });
    }
    return out;
}

Tensor Tensor::fmod(const Tensor& other) const { return lazynn::fmod(*this, other); }
Tensor Tensor::fmod(double other) const { return lazynn::fmod(*this, kernels::scalar_like(*this, other)); }
Tensor Tensor::remainder(const Tensor& other) const { return lazynn::remainder(*this, other); }
Tensor Tensor::remainder(double other) const { return lazynn::remainder(*this, kernels::scalar_like(*this, other)); }
Tensor Tensor::atan2(const Tensor& other) const { return lazynn::atan2(*this, other); }

namespace {

/// PyTorch's name of a dtype in "not implemented for 'Float'" messages.
std::string scalar_type_name(Dtype dtype) {
    if (dtype == kFloat32) return "Float";
    if (dtype == kFloat64) return "Double";
    return dtype_name(dtype);
}

}  // namespace

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
    const TensorImpl& ic = detail::checked(condition, "where");
    if (ic.dtype != kBool) {
        throw DtypeError("where expected condition to be a boolean tensor, but got a tensor with dtype " +
                         scalar_type_name(ic.dtype) + " (compare it, e.g. mask != 0, or convert it with .to(kBool))");
    }
    const TensorImpl& ia = detail::checked(a, "where");
    const TensorImpl& ib = detail::checked(b, "where");
    const Shape shape = broadcast_shapes(broadcast_shapes(ic.shape, ia.shape, "where"), ib.shape, "where");
    // The values alone decide the dtype.
    const Dtype dtype = kernels::result_type(ia, ib);
    const Tensor ca = kernels::converted(a, dtype), cb = kernels::converted(b, dtype);
    Tensor out = detail::empty_tensor(shape, dtype);
    visit_storage_dtype(dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const std::array<Shape, 4> strides{out.impl().strides, kernels::broadcast_strides(ic, shape),
                                           kernels::broadcast_strides(ca.impl(), shape),
                                           kernels::broadcast_strides(cb.impl(), shape)};
        T* po = out.impl().data<T>();
        const bool* pc = ic.data<bool>();
        const T* pa = ca.impl().data<T>();
        const T* pb = cb.impl().data<T>();
        kernels::for_each_run<4>(shape, strides, [&](const auto& off, std::int64_t count, const auto& inner) {
            for (std::int64_t k = 0; k < count; ++k) {
                po[off[0] + k * inner[0]] =
                    pc[off[1] + k * inner[1]] ? pa[off[2] + k * inner[2]] : pb[off[3] + k * inner[3]];
            }
        });
    });
    if (needs_grad({&a, &b})) {
        auto backward = [ia = info(a), ib = info(b), sc = SavedTensor(condition)](const Tensor& g) {
            const Tensor zero = zeros({}, g.dtype()), c = sc.unpack();
            return std::vector<Tensor>{ia.needed ? input_grad(where(c, g, zero), ia.shape, ia.dtype) : Tensor(),
                                       ib.needed ? input_grad(where(c, zero, g), ib.shape, ib.dtype) : Tensor()};
        };
        record(out, "WhereBackward0", {a, b}, backward, true, kDifferentiable);
    }
    return out;
}

namespace {

/// A comparison computed in the operands' promoted dtype, returning bool.
template <class F>
Tensor compare(const Tensor& a, const Tensor& b, const char* name, F f) {
    const Dtype dtype = kernels::result_type(detail::checked(a, name), detail::checked(b, name));
    return kernels::binary_in<true>(a, b, dtype == kBool ? kInt64 : dtype, name, f);
}

/// A logical op on the truth of each operand (nonzero is true), returning bool.
template <class F>
Tensor logical(const Tensor& a, const Tensor& b, const char* name, F f) {
    const Dtype dtype = promote_types(detail::checked(a, name).dtype, detail::checked(b, name).dtype);
    return kernels::binary_in<true>(a, b, dtype == kBool ? kInt64 : dtype, name, [f](auto x, auto y) {
        using T = decltype(x);
        return f(x != T(0), y != T(0));
    });
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) {
    return compare(a, b, "eq", [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
    return compare(a, b, "ne", [](auto x, auto y) { return x != y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
    return compare(a, b, "lt", [](auto x, auto y) { return x < y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
    return compare(a, b, "le", [](auto x, auto y) { return x <= y; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
    return compare(a, b, "gt", [](auto x, auto y) { return x > y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
    return compare(a, b, "ge", [](auto x, auto y) { return x >= y; });
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
    return logical(a, b, "logical_and", [](bool x, bool y) { return x && y; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
    return logical(a, b, "logical_or", [](bool x, bool y) { return x || y; });
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
    return logical(a, b, "logical_xor", [](bool x, bool y) { return x != y; });
}
Tensor logical_not(const Tensor& t) {
    // Shapes: out has t's shape, dtype bool.
    const TensorImpl& i = detail::checked(t, "logical_not");
    return compare(t, zeros({}, i.dtype), "logical_not", [](auto x, auto zero) { return x == zero; });
}

Tensor Tensor::eq(const Tensor& other) const { return lazynn::eq(*this, other); }
Tensor Tensor::ne(const Tensor& other) const { return lazynn::ne(*this, other); }
Tensor Tensor::lt(const Tensor& other) const { return lazynn::lt(*this, other); }
Tensor Tensor::le(const Tensor& other) const { return lazynn::le(*this, other); }
Tensor Tensor::gt(const Tensor& other) const { return lazynn::gt(*this, other); }
Tensor Tensor::ge(const Tensor& other) const { return lazynn::ge(*this, other); }
Tensor Tensor::eq(double other) const { return lazynn::eq(*this, kernels::scalar_like(*this, other)); }
Tensor Tensor::ne(double other) const { return lazynn::ne(*this, kernels::scalar_like(*this, other)); }
Tensor Tensor::lt(double other) const { return lazynn::lt(*this, kernels::scalar_like(*this, other)); }
Tensor Tensor::le(double other) const { return lazynn::le(*this, kernels::scalar_like(*this, other)); }
Tensor Tensor::gt(double other) const { return lazynn::gt(*this, kernels::scalar_like(*this, other)); }
Tensor Tensor::ge(double other) const { return lazynn::ge(*this, kernels::scalar_like(*this, other)); }
Tensor Tensor::logical_and(const Tensor& other) const { return lazynn::logical_and(*this, other); }
Tensor Tensor::logical_or(const Tensor& other) const { return lazynn::logical_or(*this, other); }
Tensor Tensor::logical_xor(const Tensor& other) const { return lazynn::logical_xor(*this, other); }
Tensor Tensor::logical_not() const { return lazynn::logical_not(*this); }

namespace {

/// A bitwise op as PyTorch runs it: two bools stay bool (the logical op), integers are combined
/// bit by bit in int64 (a bool operand counts as 0 or 1), floating operands have no bitwise form.
/// Shapes: broadcast(a, b).
template <class Bits>
Tensor bitwise(const Tensor& a, const Tensor& b, const char* name, Tensor (*on_bools)(const Tensor&, const Tensor&),
               Bits bits) {
    const TensorImpl& ia = detail::checked(a, name);
    const TensorImpl& ib = detail::checked(b, name);
    for (const TensorImpl* t : {&ia, &ib}) {
        if (is_floating(t->dtype)) {
            throw DtypeError("\"" + std::string(name) + "_cpu\" not implemented for '" + scalar_type_name(t->dtype) +
                             "'");
        }
    }
    if (ia.dtype == kBool && ib.dtype == kBool) return on_bools(a, b);
    const Shape shape = broadcast_shapes(ia.shape, ib.shape, name);
    // One int64 loop over contiguous operands: bitwise ops are rare enough not to need the
    // broadcasting loops of binary_in (each would be compiled once more per op).
    const Tensor x = detail::contiguous_data(kernels::converted(a, kInt64).expand(shape));
    const Tensor y = detail::contiguous_data(kernels::converted(b, kInt64).expand(shape));
    Tensor out = detail::empty_tensor(shape, kInt64);
    const std::int64_t* px = x.impl().data<std::int64_t>();
    const std::int64_t* py = y.impl().data<std::int64_t>();
    std::int64_t* po = out.impl().data<std::int64_t>();
    kernels::elementwise_chunks(out.numel(), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) po[i] = bits(px[i], py[i]);
    });
    return out;
}

}  // namespace

Tensor bitwise_and(const Tensor& a, const Tensor& b) {
    return bitwise(a, b, "bitwise_and", logical_and, [](std::int64_t x, std::int64_t y) { return x & y; });
}
Tensor bitwise_or(const Tensor& a, const Tensor& b) {
    return bitwise(a, b, "bitwise_or", logical_or, [](std::int64_t x, std::int64_t y) { return x | y; });
}
Tensor bitwise_xor(const Tensor& a, const Tensor& b) {
    return bitwise(a, b, "bitwise_xor", logical_xor, [](std::int64_t x, std::int64_t y) { return x ^ y; });
}
Tensor bitwise_not(const Tensor& t) {
    // Shapes: out has t's shape; bool stays bool (logical not), int64 flips every bit.
    const TensorImpl& i = detail::checked(t, "bitwise_not");
    if (i.dtype == kBool) return logical_not(t);
    if (is_floating(i.dtype)) {
        throw TypeError("~ (bitwise_not) is only implemented on integer and Boolean-type tensors, got " +
                        dtype_name(i.dtype));
    }
    return -t - 1.0;
}

Tensor operator&(const Tensor& a, const Tensor& b) { return bitwise_and(a, b); }
Tensor operator|(const Tensor& a, const Tensor& b) { return bitwise_or(a, b); }
Tensor operator^(const Tensor& a, const Tensor& b) { return bitwise_xor(a, b); }
Tensor operator~(const Tensor& a) { return bitwise_not(a); }

Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, double b) { return eq(a, kernels::scalar_like(a, b)); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, kernels::scalar_like(a, b)); }
Tensor operator<(const Tensor& a, double b) { return lt(a, kernels::scalar_like(a, b)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, kernels::scalar_like(a, b)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, kernels::scalar_like(a, b)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, kernels::scalar_like(a, b)); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, kernels::scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, kernels::scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, kernels::scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, kernels::scalar_like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(kernels::scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(kernels::scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(kernels::scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(kernels::scalar_like(b, a), b); }
Tensor operator-(const Tensor& a) { return a.neg(); }

Tensor pow(const Tensor& base, double exponent) { return base.pow(exponent); }
Tensor Tensor::pow(const Tensor& exponent) const { return lazynn::pow(*this, exponent); }

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
    const Tensor close = kernels::binary(kernels::converted(a, kFloat64), kernels::converted(b, kFloat64), "allclose",
                                         [rtol, atol](double x, double y) {
                                             if (x == y) return 1.0;
                                             return std::abs(x - y) <= atol + rtol * std::abs(y) ? 1.0 : 0.0;
                                         });
    const std::vector<double> v = close.to_vector<double>();
    return std::all_of(v.begin(), v.end(), [](double c) { return c != 0.0; });
}

bool equal(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return false;
    const Tensor same = eq(a, b);
    const std::vector<double> v = same.to_vector<double>();
    return std::all_of(v.begin(), v.end(), [](double c) { return c != 0.0; });
}

}  // namespace lazynn
