// CTC loss (Graves et al., 2006): the forward (alpha) and backward (beta) recursions in log space,
// one sample per task, and the argument checks.
#include <lazynn/extension.hpp>
#include <lazynn/nn/loss.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace lazynn::nn::functional {
namespace {

constexpr const char* kOp = "ctc_loss";

/// log(exp(a) + exp(b) + exp(c)) without overflow; -inf when all are -inf.
template <class T>
T log_add(T a, T b, T c = -std::numeric_limits<T>::infinity()) {
    T m = std::max(a, std::max(b, c));
    if (m == -std::numeric_limits<T>::infinity()) return m;
    return std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m)) + m;
}

/// The lengths as int64 values, one per sample: a [N] tensor, or a 0-dim one for an unbatched call.
std::vector<std::int64_t> lengths_of(const Tensor& lengths, std::int64_t batch, bool batched, const char* which) {
    if (!lengths.defined() || lengths.dtype() != kInt64) {
        throw DtypeError(std::string(kOp) + ": " + which + " must be an int64 tensor, got " +
                         (lengths.defined() ? dtype_name(lengths.dtype()) : std::string("no tensor")));
    }
    if ((batched && (lengths.dim() != 1 || lengths.numel() != batch)) || (!batched && lengths.numel() != 1)) {
        throw ShapeError(std::string(kOp) + ": " + which + " must be of size batch_size (" + std::to_string(batch) +
                         "), got shape " + shape_to_list(lengths.shape()));
    }
    return extension::contiguous_data(lengths).to_vector<std::int64_t>();
}

/// One sample's negative log-likelihood and, when `grad` is given, d nll / d log_probs for its
/// first `steps` time steps (the rest stay 0). `lp(t, c)` reads log_probs; `label(i)` the target.
template <class T, class LogProb, class Label, class Grad>
T sample_nll(std::int64_t steps, std::int64_t length, std::int64_t classes, std::int64_t blank, LogProb lp, Label label,
             Grad* grad) {
    constexpr T inf = std::numeric_limits<T>::infinity();
    if (steps == 0) return length == 0 ? T(0) : inf;  // only the empty alignment exists
    const std::int64_t states = 2 * length + 1;       // blank, l1, blank, l2, ..., blank
    const auto extended = [&](std::int64_t s) { return s % 2 == 0 ? blank : label(s / 2); };
    // Whether state s may also be reached from s - 2 (skipping a blank between different labels).
    const auto can_skip = [&](std::int64_t s) { return s >= 2 && s % 2 == 1 && extended(s) != extended(s - 2); };

    std::vector<T> alpha(static_cast<std::size_t>(steps * states), -inf);
    const auto a = [&](std::int64_t t, std::int64_t s) -> T& {
        return alpha[static_cast<std::size_t>(t * states + s)];
    };
    a(0, 0) = lp(0, blank);
    if (length > 0) a(0, 1) = lp(0, extended(1));
    for (std::int64_t t = 1; t < steps; ++t) {
        for (std::int64_t s = 0; s < states; ++s) {
            const T stay = a(t - 1, s);
            const T advance = s >= 1 ? a(t - 1, s - 1) : -inf;
            const T skip = can_skip(s) ? a(t - 1, s - 2) : -inf;
            const T sum = log_add(stay, advance, skip);
            a(t, s) = sum == -inf ? -inf : sum + lp(t, extended(s));
        }
    }
    const T log_likelihood = length > 0 ? log_add(a(steps - 1, states - 1), a(steps - 1, states - 2)) : a(steps - 1, 0);
    const T nll = -log_likelihood;
    if (!grad) return nll;
    if (std::isinf(nll)) {  // no alignment: the gradient is undefined (NaN, as PyTorch's)
        for (std::int64_t t = 0; t < steps; ++t) {
            for (std::int64_t c = 0; c < classes; ++c) (*grad)(t, c) = std::numeric_limits<T>::quiet_NaN();
        }
        return nll;
    }

    std::vector<T> beta(static_cast<std::size_t>(steps * states), -inf);
    const auto b = [&](std::int64_t t, std::int64_t s) -> T& { return beta[static_cast<std::size_t>(t * states + s)]; };
    b(steps - 1, states - 1) = lp(steps - 1, blank);
    if (length > 0) b(steps - 1, states - 2) = lp(steps - 1, extended(states - 2));
    for (std::int64_t t = steps - 2; t >= 0; --t) {
        for (std::int64_t s = 0; s < states; ++s) {
            const T stay = b(t + 1, s);
            const T advance = s + 1 < states ? b(t + 1, s + 1) : -inf;
            const T skip = s + 2 < states && can_skip(s + 2) ? b(t + 1, s + 2) : -inf;
            const T sum = log_add(stay, advance, skip);
            b(t, s) = sum == -inf ? -inf : sum + lp(t, extended(s));
        }
    }
    // d nll / d lp(t, c) = -sum over states s labelled c of alpha(t, s) beta(t, s) / (p lp(t, c)):
    // alpha and beta both include lp(t, c) once.
    std::vector<T> occupancy(static_cast<std::size_t>(classes));
    for (std::int64_t t = 0; t < steps; ++t) {
        std::fill(occupancy.begin(), occupancy.end(), -inf);
        for (std::int64_t s = 0; s < states; ++s) {
            T& o = occupancy[static_cast<std::size_t>(extended(s))];
            o = log_add(o, a(t, s) + b(t, s));
        }
        for (std::int64_t c = 0; c < classes; ++c) {
            const T o = occupancy[static_cast<std::size_t>(c)];
            (*grad)(t, c) = o == -inf ? T(0) : -std::exp(o + nll - lp(t, c));
        }
    }
    return nll;
}

}  // namespace

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, std::int64_t blank, Reduction reduction, bool zero_infinity) {
    if (!log_probs.defined() || !is_floating(log_probs.dtype())) {
        throw DtypeError(std::string(kOp) + ": log_probs must be a floating-point tensor, got " +
                         (log_probs.defined() ? dtype_name(log_probs.dtype()) : std::string("no tensor")));
    }
    if (is_float16(log_probs.dtype())) {  // computed in float32, as PyTorch's autocast lists it
        return ctc_loss(log_probs.to(kFloat32), targets, input_lengths, target_lengths, blank, reduction,
                        zero_infinity);
    }
    const bool batched = log_probs.dim() == 3;
    if (log_probs.dim() != 2 && !batched) {
        throw ShapeError(std::string(kOp) + ": log_probs must be [T, N, C] (or [T, C] unbatched), got shape " +
                         shape_to_list(log_probs.shape()));
    }
    const Tensor lp3 = batched ? log_probs : log_probs.unsqueeze(1);
    const std::int64_t max_steps = lp3.shape()[0];
    const std::int64_t batch = lp3.shape()[1];
    const std::int64_t classes = lp3.shape()[2];
    if (blank < 0 || blank >= classes) {
        throw ValueError(std::string(kOp) + ": blank must be in label range [0, " + std::to_string(classes) +
                         "), got " + std::to_string(blank));
    }
    if (!targets.defined() || targets.dtype() != kInt64) {
        throw DtypeError(std::string(kOp) + ": targets must be int64 class indices, got " +
                         (targets.defined() ? dtype_name(targets.dtype()) : std::string("no tensor")));
    }
    const std::vector<std::int64_t> steps = lengths_of(input_lengths, batch, batched, "input_lengths");
    const std::vector<std::int64_t> lengths = lengths_of(target_lengths, batch, batched, "target_lengths");

    // Where each sample's labels start: padded rows [N, S] (or [S] unbatched), or one concatenation.
    const bool padded = batched ? targets.dim() == 2 : true;
    if (batched && targets.dim() != 1 && targets.dim() != 2) {
        throw ShapeError(std::string(kOp) + ": targets must be [N, S] (padded) or [sum(target_lengths)], got shape " +
                         shape_to_list(targets.shape()));
    }
    if (!batched && targets.dim() != 1) {
        throw ShapeError(std::string(kOp) + ": unbatched targets must be [S], got shape " +
                         shape_to_list(targets.shape()));
    }
    std::vector<std::int64_t> offsets(static_cast<std::size_t>(batch));
    std::int64_t total = 0;
    for (std::int64_t n = 0; n < batch; ++n) {
        const std::int64_t steps_n = steps[static_cast<std::size_t>(n)];
        const std::int64_t length_n = lengths[static_cast<std::size_t>(n)];
        if (steps_n < 0 || steps_n > max_steps) {
            throw ValueError(std::string(kOp) + ": input_lengths[" + std::to_string(n) + "] is " +
                             std::to_string(steps_n) + ", expected a value in [0, " + std::to_string(max_steps) +
                             "] (log_probs has " + std::to_string(max_steps) + " time steps)");
        }
        if (length_n < 0) {
            throw ValueError(std::string(kOp) + ": target_lengths[" + std::to_string(n) + "] is " +
                             std::to_string(length_n) + ", expected a non-negative length");
        }
        offsets[static_cast<std::size_t>(n)] = padded ? (batched ? n * targets.shape()[1] : 0) : total;
        if (padded && batched && length_n > targets.shape()[1]) {
            throw ShapeError(std::string(kOp) + ": target_lengths[" + std::to_string(n) + "] is " +
                             std::to_string(length_n) + ", but the padded targets hold " +
                             std::to_string(targets.shape()[1]) + " labels per sample");
        }
        if (padded && !batched && length_n > targets.numel()) {
            throw ShapeError(std::string(kOp) + ": target_lengths is " + std::to_string(length_n) +
                             ", but the targets hold " + std::to_string(targets.numel()) + " labels");
        }
        total += length_n;
    }
    if (!padded && targets.numel() != total) {
        throw ShapeError(std::string(kOp) + ": concatenated targets must hold sum(target_lengths) = " +
                         std::to_string(total) + " labels, got " + std::to_string(targets.numel()));
    }
    const Tensor labels = extension::contiguous_data(targets);
    const std::int64_t* label_data = labels.data_ptr<std::int64_t>();
    for (std::int64_t n = 0; n < batch; ++n) {
        const std::int64_t* row = label_data + offsets[static_cast<std::size_t>(n)];
        for (std::int64_t i = 0; i < lengths[static_cast<std::size_t>(n)]; ++i) {
            if (row[i] < 0 || row[i] >= classes) {
                throw IndexError(std::string(kOp) + ": target " + std::to_string(row[i]) + " of sample " +
                                 std::to_string(n) + " is out of the label range [0, " + std::to_string(classes) + ")");
            }
            if (row[i] == blank) {
                throw ValueError(std::string(kOp) + ": sample " + std::to_string(n) + " has the blank label " +
                                 std::to_string(blank) + " among its targets; targets cannot be blank");
            }
        }
    }

    const Tensor input = extension::contiguous_data(lp3);
    const bool needs_grad = extension::needs_grad({&log_probs});
    Tensor nll = empty({batch}, input.dtype());
    Tensor gradient = needs_grad ? zeros(input.shape(), input.dtype()) : Tensor();
    visit_floating(input.dtype(), kOp, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* x = input.data_ptr<T>();
        T* out = nll.data_ptr<T>();
        T* g = needs_grad ? gradient.data_ptr<T>() : nullptr;
        extension::parallel_for(batch, 1, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t n = begin; n < end; ++n) {
                const auto lp = [&](std::int64_t t, std::int64_t c) { return x[(t * batch + n) * classes + c]; };
                const std::int64_t* row = label_data + offsets[static_cast<std::size_t>(n)];
                const auto label = [row](std::int64_t i) { return row[i]; };
                const auto grad_at = [&](std::int64_t t, std::int64_t c) -> T& {
                    return g[(t * batch + n) * classes + c];
                };
                using GradRef = decltype(grad_at);
                const GradRef* grad = g ? &grad_at : nullptr;
                T value = sample_nll<T>(steps[static_cast<std::size_t>(n)], lengths[static_cast<std::size_t>(n)],
                                        classes, blank, lp, label, grad);
                if (zero_infinity && std::isinf(value)) {
                    value = 0;  // and no gradient from this sample
                    if (g) {
                        for (std::int64_t t = 0; t < max_steps; ++t) std::fill_n(&grad_at(t, 0), classes, T(0));
                    }
                }
                out[n] = value;
            }
        });
    });
    if (needs_grad) {
        // d loss_n / d log_probs is saved per sample; backward scales it by each sample's gradient.
        extension::record_backward(nll, "CtcLossBackward", {log_probs},
                                   [saved = extension::SavedTensor(gradient), batch, batched](const Tensor& grad_nll) {
                                       Tensor g = saved.unpack() * grad_nll.reshape({1, batch, 1});
                                       return std::vector<Tensor>{batched ? g : g.squeeze(1)};
                                   });
    }
    Tensor per_sample = batched ? nll : nll.squeeze(0);
    switch (reduction) {
        case Reduction::None:
            return per_sample;
        case Reduction::Sum:
            return per_sample.sum();
        case Reduction::Mean: {
            // Each loss divided by its target length (at least 1), then the batch mean: PyTorch's.
            const Tensor divisor = target_lengths.to(per_sample.dtype()).clamp_min(1.0);
            return (per_sample / divisor).mean();
        }
    }
    return per_sample;
}

}  // namespace lazynn::nn::functional
