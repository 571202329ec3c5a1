// Finite-difference gradient checking in float64.
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

#include <cmath>
#include <sstream>

namespace lazynn::autograd {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions options) {
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        if (inputs[k].requires_grad() && inputs[k].dtype() != kFloat64) {
            throw DtypeError("gradcheck: input " + std::to_string(k) + " requires grad but is " +
                             dtype_name(inputs[k].dtype()) + "; gradcheck needs float64 inputs for accuracy");
        }
    }
    const Tensor reference = fn(inputs);
    const std::int64_t n_out = reference.numel();

    for (std::size_t k = 0; k < inputs.size(); ++k) {
        const Tensor& input = inputs[k];
        if (!input.requires_grad()) continue;
        if (!input.is_contiguous()) throw ValueError("gradcheck: input " + std::to_string(k) + " must be contiguous");
        const std::int64_t n_in = input.numel();
        // Analytical Jacobian, one output element at a time (vector-Jacobian products).
        std::vector<double> analytical(static_cast<std::size_t>(n_in * n_out), 0.0);
        for (std::int64_t o = 0; o < n_out; ++o) {
            const Tensor out = fn(inputs);
            if (!out.requires_grad()) {
                return {false, "gradcheck: the output does not require grad, so no gradient reaches input " +
                                   std::to_string(k)};
            }
            Tensor seed = zeros(out.shape(), out.dtype());
            seed.reshape({-1}).narrow(0, o, 1).fill_(1.0);
            const std::vector<Tensor> g = grad({out}, {input}, {seed}, false, false, true);
            if (!g[0].defined()) continue;
            const std::vector<double> row = g[0].to_vector<double>();
            for (std::int64_t i = 0; i < n_in; ++i)
                analytical[static_cast<std::size_t>(i * n_out + o)] = row[static_cast<std::size_t>(i)];
        }
        // Numerical Jacobian by central differences, perturbing the input's storage in place.
        double* data = input.impl().data<double>();
        for (std::int64_t i = 0; i < n_in; ++i) {
            const double saved = data[i];
            std::vector<double> plus, minus;
            {
                NoGradGuard no_grad;
                data[i] = saved + options.eps;
                plus = fn(inputs).to_vector<double>();
                data[i] = saved - options.eps;
                minus = fn(inputs).to_vector<double>();
                data[i] = saved;
            }
            for (std::int64_t o = 0; o < n_out; ++o) {
                const double numerical =
                    (plus[static_cast<std::size_t>(o)] - minus[static_cast<std::size_t>(o)]) / (2 * options.eps);
                const double a = analytical[static_cast<std::size_t>(i * n_out + o)];
                if (std::abs(a - numerical) > options.atol + options.rtol * std::abs(numerical)) {
                    std::ostringstream msg;
                    msg << "gradcheck: Jacobian mismatch for output " << o << " with respect to input " << k
                        << " element " << i << ": numerical " << numerical << ", analytical " << a;
                    return {false, msg.str()};
                }
            }
        }
    }
    return {true, ""};
}

GradcheckResult gradgradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                              const std::vector<Tensor>& inputs, GradcheckOptions options) {
    std::vector<std::size_t> differentiable;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        if (inputs[k].requires_grad()) differentiable.push_back(k);
    }
    const Tensor reference = fn(inputs);
    // A fixed upstream gradient with no zeros and mixed signs (deterministic: the global generator is
    // left alone), itself an input of the checked function.
    std::vector<double> values(static_cast<std::size_t>(reference.numel()));
    for (std::size_t i = 0; i < values.size(); ++i) {
        const double u = std::fmod(0.6180339887 * static_cast<double>(i + 1), 1.0);
        values[i] = (i % 2 ? -1.0 : 1.0) * (0.25 + u);
    }
    Tensor v = tensor(values, reference.shape(), kFloat64);
    v.requires_grad_(true);
    std::vector<Tensor> all = inputs;
    all.push_back(v);
    // inputs, v -> the vector-Jacobian product v^T J(inputs), flattened and concatenated; recorded
    // (create_graph) so gradcheck can differentiate it, also when gradcheck evaluates it under
    // NoGradGuard for finite differences.
    auto vjp = [&fn, &differentiable](const std::vector<Tensor>& args) {
        EnableGradGuard enable;
        const std::vector<Tensor> xs(args.begin(), args.end() - 1);
        const Tensor out = fn(xs);
        std::vector<Tensor> wrt;
        wrt.reserve(differentiable.size());
        for (std::size_t k : differentiable) wrt.push_back(xs[k]);
        const std::vector<Tensor> grads = grad({out}, wrt, {args.back()}, true, true, true);
        std::vector<Tensor> flat;
        for (std::size_t i = 0; i < grads.size(); ++i) {
            flat.push_back(grads[i].defined() ? grads[i].reshape({-1}) : zeros({wrt[i].numel()}, kFloat64));
        }
        return cat(flat);
    };
    GradcheckResult result = gradcheck(vjp, all, options);
    if (!result.ok)
        result.message = "gradgradcheck: " + result.message + " (input " + std::to_string(inputs.size()) +
                         " is the upstream gradient)";
    return result;
}

}  // namespace lazynn::autograd
