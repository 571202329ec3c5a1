#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/functional.hpp>
#include <lazynn/nn/linear.hpp>

#include <cmath>

namespace lazynn::nn {

Linear::Linear(LinearOptions options) : options_(options) {
    set_name("Linear");
    if (options.in_features() < 0 || options.out_features() < 0) {
        throw ValueError("Linear: in_features and out_features must be non-negative, got " +
                         std::to_string(options.in_features()) + " and " + std::to_string(options.out_features()));
    }
    weight = Parameter(empty({options.out_features(), options.in_features()}));
    if (options.bias()) bias = Parameter(empty({options.out_features()}));
    reset_parameters();
}

Linear::Linear(LinearOptions options, Uninitialized) : options_(options) {
    set_name("Linear");
    weight = UninitializedParameter();
    if (options.bias()) bias = UninitializedParameter();
}

void Linear::materialize_from_options() {
    if (is_lazy(weight)) weight.materialize({options_.out_features(), options_.in_features()});
    if (is_lazy(bias)) bias.materialize({options_.out_features()});
}

void Linear::reset_parameters() {
    Generator gen = init_generator();
    init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, gen);
    if (bias.defined()) {
        const double bound =
            options_.in_features() > 0 ? 1.0 / std::sqrt(static_cast<double>(options_.in_features())) : 0.0;
        init::uniform_(bias, -bound, bound, gen);
    }
}

Tensor Linear::forward_then(const Tensor& input, bool relu) {
    check_input_dtype(input, weight, "mat1 and mat2 must have the same dtype");
    if (input.dim() == 0 || input.size(-1) != options_.in_features()) {
        const Shape& s = input.shape();
        Shape rows = s.size() >= 2 ? Shape{shape_numel(Shape(s.begin(), s.end() - 1)), s.back()}
                                   : Shape{1, s.empty() ? 1 : s[0]};
        throw ShapeError(name() + "(in_features=" + std::to_string(options_.in_features()) + ", out_features=" +
                         std::to_string(options_.out_features()) + "): expected input of shape [*, " +
                         std::to_string(options_.in_features()) + "], got " + shape_to_list(s) +
                         " (mat1 and mat2 shapes cannot be multiplied (" + shape_to_string(rows) + " and " +
                         std::to_string(options_.in_features()) + "x" + std::to_string(options_.out_features()) + "))");
    }
    return relu ? functional::linear_relu(input, weight, bias) : functional::linear(input, weight, bias);
}

std::string Linear::extra_repr() const {
    return "in_features=" + std::to_string(options_.in_features()) +
           ", out_features=" + std::to_string(options_.out_features()) +
           ", bias=" + (bias.defined() ? "True" : "False");
}

void LazyLinear::infer_options(const std::vector<Tensor>& inputs) {
    const Tensor& input = inputs[0];
    if (input.dim() == 0)
        throw ShapeError("LazyLinear: cannot infer in_features from a 0-dim input; pass [*, in_features]");
    const std::int64_t inferred = input.size(-1);
    // A manual call after a partial load: the loaded weight must agree (PyTorch 2.8's check).
    if (!is_lazy(weight) && weight.size(1) != inferred) {
        throw AssertionError("The in_features inferred from input: " + std::to_string(inferred) +
                             " is not equal to in_features from self.weight: " + std::to_string(weight.size(1)));
    }
    options_.in_features(inferred);
}

void LazyLinear::lazy_load_finalize() {
    // Materialised from the checkpoint's own shapes: check them before in_features comes from them.
    if (weight.dim() != 2 || weight.size(0) != options_.out_features() || weight.size(1) == 0) {
        throw RuntimeError("LazyLinear: the loaded weight has shape " + shape_to_list(weight.shape()) + ", expected [" +
                           std::to_string(options_.out_features()) + ", in_features]");
    }
    if (bias.defined() && !is_lazy(bias) && bias.shape() != Shape{options_.out_features()}) {
        throw RuntimeError("LazyLinear: the loaded bias has shape " + shape_to_list(bias.shape()) + ", expected [" +
                           std::to_string(options_.out_features()) + "]");
    }
    options_.in_features(weight.size(1));
}

Identity::Identity() { set_name("Identity"); }

}  // namespace lazynn::nn
