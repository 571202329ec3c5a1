// Tensor factories: constant fills, ranges, random draws and literals.
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/random.hpp>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace lazynn {
namespace {

Tensor finish(Tensor t, const TensorOptions& options) {
    if (options.requires_grad_) t.requires_grad_(true);
    return t;
}

template <class Fill>
Tensor generate(const Shape& shape, const TensorOptions& options, Fill&& fill) {
    Tensor t = detail::empty_tensor(shape, options.dtype_);
    visit_storage_dtype(options.dtype_, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* p = t.impl().data<T>();
        const std::int64_t n = t.impl().numel();
        for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(fill(i));
    });
    return finish(t, options);
}

}  // namespace

Tensor empty(const Shape& shape, TensorOptions options) {
    return finish(detail::empty_tensor(shape, options.dtype_), options);
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
    Tensor t = detail::empty_tensor(shape, options.dtype_);
    t.fill_(value);
    t.impl().storage->reset_version();  // a new tensor is at version 0, as in PyTorch
    return finish(t, options);
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }

Tensor arange(double end, TensorOptions options) { return arange(0.0, end, 1.0, options); }

Tensor arange(double start, double end, double step, TensorOptions options) {
    if (step == 0.0) throw ValueError("arange: step must be nonzero");
    if ((end - start) / step < 0) {
        throw ValueError("arange: upper bound and larger bound inconsistent with step sign (start " +
                         std::to_string(start) + ", end " + std::to_string(end) + ", step " + std::to_string(step) +
                         ")");
    }
    const auto n = static_cast<std::int64_t>(std::ceil((end - start) / step));
    return generate({n}, options, [&](std::int64_t i) { return start + static_cast<double>(i) * step; });
}

Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options) {
    if (steps < 0) throw ValueError("linspace: number of steps must be non-negative, got " + std::to_string(steps));
    const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
    // Fill symmetrically from both ends, as PyTorch does, so the last value is exactly `end`.
    const std::int64_t half = steps / 2;
    return generate({steps}, options, [&](std::int64_t i) {
        return i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - 1 - i);
    });
}

namespace {

/// Fills a new tensor of `shape` and floating `dtype` from a counter-based random stream keyed by
/// one draw from the default generator: element i's bits are SplitMix64's output function of
/// key + (i + 1) * golden ratio, so the elements are independent of each other and the fill runs
/// on every thread, giving the same tensor whatever their number (a dropout mask drawn one element
/// at a time from the Mersenne Twister took a sixth of a Transformer step). The generator moves by
/// exactly one draw. make_value(digits) returns the map from `digits` random bits (the dtype's
/// significant digits, so values built from them are exact in it) to an element.
template <class MakeValue>
Tensor counter_random(const Shape& shape, Dtype dtype, MakeValue make_value) {
    const std::uint64_t key = default_generator().next_u64();
    Tensor t = detail::empty_tensor(shape, dtype);
    visit_storage_dtype(dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        constexpr int digits = std::is_same_v<T, double>  ? 53
                               : std::is_same_v<T, float> ? 24
                               : std::is_same_v<T, Half>  ? 11
                                                          : 8;
        const auto value = make_value(digits);
        T* p = t.impl().data<T>();
        detail::parallel_for(t.impl().numel(), 1 << 14, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) {
                std::uint64_t z = key + static_cast<std::uint64_t>(i + 1) * 0x9E3779B97F4A7C15ULL;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
                z ^= z >> 31;
                p[i] = static_cast<T>(value(z >> (64 - digits)));
            }
        });
    });
    return t;
}

}  // namespace

Tensor rand(const Shape& shape, TensorOptions options) {
    if (!is_floating(options.dtype_)) throw_needs_floating("rand", options.dtype_);
    // bits / 2^digits: below 1 (53 bits rounded to float could round up to 1).
    return finish(counter_random(shape, options.dtype_,
                                 [](int digits) {
                                     const double unit = std::ldexp(1.0, -digits);
                                     return [unit](std::uint64_t bits) { return static_cast<double>(bits) * unit; };
                                 }),
                  options);
}

Tensor bernoulli(const Tensor& t, double p) {
    const TensorImpl& i = detail::checked(t, "bernoulli");
    if (!is_floating(i.dtype)) throw_needs_floating("bernoulli", i.dtype);
    if (!(p >= 0.0 && p <= 1.0)) throw ValueError("bernoulli: expected 0 <= p <= 1, got p=" + std::to_string(p));
    // u < p for u = bits / 2^digits, as the sign of bits - ceil(p * 2^digits) (both below 2^53):
    // no branch to mispredict, and the loop vectorises as rand's does (a branch made the fill 2.7
    // times slower than rand at p = 0.9).
    return counter_random(i.shape, i.dtype, [p](int digits) {
        const auto threshold = static_cast<std::uint64_t>(std::ceil(std::ldexp(p, digits)));
        return [threshold](std::uint64_t bits) { return static_cast<double>((bits - threshold) >> 63); };
    });
}

Tensor randn(const Shape& shape, TensorOptions options) {
    if (!is_floating(options.dtype_)) throw_needs_floating("randn", options.dtype_);
    Generator& gen = default_generator();
    return generate(shape, options, [&](std::int64_t) { return gen.normal(); });
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options) {
    if (high <= low) {
        throw ValueError("randint: expected low < high, got low=" + std::to_string(low) +
                         ", high=" + std::to_string(high));
    }
    Generator& gen = default_generator();
    const auto range = static_cast<std::uint64_t>(high - low);
    return generate(shape, options, [&](std::int64_t) {
        return static_cast<double>(low + static_cast<std::int64_t>(gen.next_u64() % range));
    });
}

// The *_like factories read t's shape, so an uninitialised parameter gets the same ValueError
// every other op gives (PyTorch's torch.empty_like(u) does), not shape()'s RuntimeError.
Tensor empty_like(const Tensor& t) {
    const TensorImpl& i = detail::checked(t, "empty_like");
    return empty(i.shape, i.dtype);
}
Tensor zeros_like(const Tensor& t) {
    const TensorImpl& i = detail::checked(t, "zeros_like");
    return zeros(i.shape, i.dtype);
}
Tensor ones_like(const Tensor& t) {
    const TensorImpl& i = detail::checked(t, "ones_like");
    return ones(i.shape, i.dtype);
}
Tensor full_like(const Tensor& t, double value) {
    const TensorImpl& i = detail::checked(t, "full_like");
    return full(i.shape, value, i.dtype);
}
Tensor rand_like(const Tensor& t) {
    const TensorImpl& i = detail::checked(t, "rand_like");
    return rand(i.shape, i.dtype);
}
Tensor randn_like(const Tensor& t) {
    const TensorImpl& i = detail::checked(t, "randn_like");
    return randn(i.shape, i.dtype);
}

namespace {

template <class T>
Tensor from_values(const std::vector<T>& values, const Shape& shape_given, const TensorOptions& options) {
    const Shape shape =
        shape_given.empty() && values.size() != 1 ? Shape{static_cast<std::int64_t>(values.size())} : shape_given;
    if (shape_numel(shape) != static_cast<std::int64_t>(values.size())) {
        throw ShapeError("tensor: " + std::to_string(values.size()) + " values do not fill shape " +
                         shape_to_list(shape) + " (" + std::to_string(shape_numel(shape)) + " elements)");
    }
    return generate(shape, options, [&](std::int64_t i) { return values[static_cast<std::size_t>(i)]; });
}

}  // namespace

Tensor tensor(const std::vector<float>& values, const Shape& shape, TensorOptions options) {
    return from_values(values, shape, options);
}
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
    return from_values(values, shape, options);
}
Tensor tensor(const std::vector<std::int64_t>& values, const Shape& shape, TensorOptions options) {
    return from_values(values, shape, options);
}

Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

}  // namespace lazynn
