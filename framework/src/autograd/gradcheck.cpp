// Finite-difference gradient checking in float64.
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

#include <cmath>
#include <sstream>

namespace lazynn::autograd {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions options) {
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
                return {false, "gradcheck: the output does not require grad, so no gradient reaches input " + std::to_string(k)};
            }
            Tensor seed = zeros(out.shape(), out.dtype());
            seed.reshape({-1}).narrow(0, o, 1).fill_(1.0);
            const std::vector<Tensor> g = grad({out}, {input}, {seed}, false, true);
            if (!g[0].defined()) continue;
            const std::vector<double> row = g[0].to_vector<double>();
            for (std::int64_t i = 0; i < n_in; ++i) analytical[static_cast<std::size_t>(i * n_out + o)] = row[static_cast<std::size_t>(i)];
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
                const double numerical = (plus[static_cast<std::size_t>(o)] - minus[static_cast<std::size_t>(o)]) / (2 * options.eps);
                const double a = analytical[static_cast<std::size_t>(i * n_out + o)];
                if (std::abs(a - numerical) > options.atol + options.rtol * std::abs(numerical)) {
                    std::ostringstream msg;
                    msg << "gradcheck: Jacobian mismatch for output " << o << " with respect to input " << k << " element " << i
                        << ": numerical " << numerical << ", analytical " << a;
                    return {false, msg.str()};
                }
            }
        }
    }
    return {true, ""};
}

}  // namespace lazynn::autograd
