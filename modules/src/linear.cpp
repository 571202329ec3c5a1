#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/functional.hpp>
#include <lazynn/nn/linear.hpp>

#include <cmath>

namespace lazynn::nn {

Linear::Linear(LinearOptions options) : options_(options) {
    set_name("Linear");
    if (options.in_features_ < 0 || options.out_features_ < 0) {
        throw ValueError("Linear: in_features and out_features must be non-negative, got " +
                         std::to_string(options.in_features_) + " and " + std::to_string(options.out_features_));
    }
    weight = Parameter(empty({options.out_features_, options.in_features_}));
    if (options.bias_) bias = Parameter(empty({options.out_features_}));
    reset_parameters();
}

Linear::Linear(LinearOptions options, Uninitialized) : options_(options) {
    weight = UninitializedParameter();
    if (options.bias_) bias = UninitializedParameter();
}

void Linear::reset_parameters() {
    Generator gen = init_generator();
    init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, gen);
    if (bias.defined()) {
        const double bound = options_.in_features_ > 0 ? 1.0 / std::sqrt(static_cast<double>(options_.in_features_)) : 0.0;
        init::uniform_(bias, -bound, bound, gen);
    }
}

Tensor Linear::forward_then(const Tensor& input, bool relu) {
    check_input_dtype(input, weight, "mat1 and mat2 must have the same dtype");
    if (input.dim() == 0 || input.size(-1) != options_.in_features_) {
        const Shape& s = input.shape();
        Shape rows = s.size() >= 2 ? Shape{shape_numel(Shape(s.begin(), s.end() - 1)), s.back()} : Shape{1, s.empty() ? 1 : s[0]};
        throw ShapeError(name() + "(in_features=" + std::to_string(options_.in_features_) + ", out_features=" +
                         std::to_string(options_.out_features_) + "): expected input of shape [*, " +
                         std::to_string(options_.in_features_) + "], got " + shape_to_list(s) +
                         " (mat1 and mat2 shapes cannot be multiplied (" + shape_to_string(rows) + " and " +
                         std::to_string(options_.in_features_) + "x" + std::to_string(options_.out_features_) + "))");
    }
    return relu ? functional::linear_relu(input, weight, bias) : functional::linear(input, weight, bias);
}

std::string Linear::extra_repr() const {
    return "in_features=" + std::to_string(options_.in_features_) + ", out_features=" + std::to_string(options_.out_features_) +
           ", bias=" + (bias.defined() ? "True" : "False");
}

LazyLinear::LazyLinear(std::int64_t out_features, bool bias) : Linear(LinearOptions(0, out_features).bias(bias), Uninitialized{}) {
    set_name("LazyLinear");
    make_lazy("Linear");
}

void LazyLinear::initialize_parameters(const std::vector<Tensor>& inputs) {
    if (inputs.empty()) throw TypeError("LazyLinear.initialize_parameters() missing 1 required positional argument: 'input'");
    initialize_parameters(inputs[0]);
}

void LazyLinear::initialize_parameters(const Tensor& input) {
    if (!has_uninitialized_params()) return;
    if (input.dim() == 0) throw ShapeError("LazyLinear: cannot infer in_features from a 0-dim input; pass [*, in_features]");
    const std::int64_t inferred = input.size(-1);
    // A partial load may have materialised the weight already: it must agree with the input.
    if (!is_lazy(weight) && weight.size(1) != inferred) {
        throw AssertionError("The in_features inferred from input: " + std::to_string(inferred) +
                             " is not equal to in_features from self.weight: " + std::to_string(weight.size(1)));
    }
    NoGradGuard no_grad;
    options_.in_features_ = inferred;
    if (is_lazy(weight)) weight.materialize({options_.out_features_, inferred});
    if (is_lazy(bias)) bias.materialize({options_.out_features_});
    reset_parameters();
}

void LazyLinear::reset_parameters() {
    if (!has_uninitialized_params() && options_.in_features_ != 0) Linear::reset_parameters();
}

void LazyLinear::lazy_load_finalize() {
    // Materialised from the checkpoint's own shapes: check them before in_features comes from them.
    if (weight.dim() != 2 || weight.size(0) != options_.out_features_ || weight.size(1) == 0) {
        throw RuntimeError("LazyLinear: the loaded weight has shape " + shape_to_list(weight.shape()) + ", expected [" +
                           std::to_string(options_.out_features_) + ", in_features]");
    }
    if (bias.defined() && !is_lazy(bias) && bias.shape() != Shape{options_.out_features_}) {
        throw RuntimeError("LazyLinear: the loaded bias has shape " + shape_to_list(bias.shape()) + ", expected [" +
                           std::to_string(options_.out_features_) + "]");
    }
    options_.in_features_ = weight.size(1);
}

Identity::Identity() { set_name("Identity"); }

}  // namespace lazynn::nn
