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

Bilinear::Bilinear(BilinearOptions options) : options_(options) {
    set_name("Bilinear");
    if (options.in1_features() < 0 || options.in2_features() < 0 || options.out_features() < 0) {
        throw ValueError("Bilinear: in1_features, in2_features and out_features must be non-negative, got " +
                         std::to_string(options.in1_features()) + ", " + std::to_string(options.in2_features()) +
                         " and " + std::to_string(options.out_features()));
    }
    weight = Parameter(empty({options.out_features(), options.in1_features(), options.in2_features()}));
    if (options.bias()) bias = Parameter(empty({options.out_features()}));
    reset_parameters();
}

Bilinear::Bilinear(BilinearOptions options, Uninitialized) : options_(options) {
    set_name("Bilinear");
    weight = UninitializedParameter();
    if (options.bias()) bias = UninitializedParameter();
}

void Bilinear::materialize_from_options() {
    if (is_lazy(weight))
        weight.materialize({options_.out_features(), options_.in1_features(), options_.in2_features()});
    if (is_lazy(bias)) bias.materialize({options_.out_features()});
}

void Bilinear::reset_parameters() {
    Generator gen = init_generator();
    const double bound =
        options_.in1_features() > 0 ? 1.0 / std::sqrt(static_cast<double>(options_.in1_features())) : 0.0;
    init::uniform_(weight, -bound, bound, gen);
    if (bias.defined()) init::uniform_(bias, -bound, bound, gen);
}

Tensor Bilinear::operator()(const Tensor& input1, const Tensor& input2) {
    return call_with_hooks({input1, input2}, [&](const std::vector<Tensor>& in) { return bilinear(in[0], in[1]); });
}

Tensor Bilinear::bilinear(const Tensor& x1, const Tensor& x2) {
    check_input_dtype(x1, weight);
    check_input_dtype(x2, weight);
    const std::int64_t in1 = options_.in1_features(), in2 = options_.in2_features(), out = options_.out_features();
    const std::string layer = name() + "(in1_features=" + std::to_string(in1) +
                              ", in2_features=" + std::to_string(in2) + ", out_features=" + std::to_string(out) + "): ";
    // PyTorch's checks and wording (bilinear()), after the layer's name.
    if (x1.dim() != x2.dim()) {
        throw ShapeError(layer + "input dimensions do not match: got " + std::to_string(x1.dim()) + " and " +
                         std::to_string(x2.dim()));
    }
    if (x1.dim() == 0)
        throw ShapeError(layer + "expected inputs [*, " + std::to_string(in1) + "] and [*, " + std::to_string(in2) +
                         "], got 0-dim tensors");
    for (std::int64_t d = 0; d + 1 < x1.dim(); ++d) {
        if (x1.size(d) != x2.size(d)) {
            throw ShapeError(layer + "input batch dimensions do not match at dim " + std::to_string(d) + ": got " +
                             std::to_string(x1.size(d)) + " and " + std::to_string(x2.size(d)));
        }
    }
    if (x1.size(-1) != in1) {
        throw ShapeError(layer + "input1 size does not match weight size: got " + std::to_string(x1.size(-1)) +
                         " but expected " + std::to_string(in1));
    }
    if (x2.size(-1) != in2) {
        throw ShapeError(layer + "input2 size does not match weight size: got " + std::to_string(x2.size(-1)) +
                         " but expected " + std::to_string(in2));
    }
    Shape lead(x1.shape().begin(), x1.shape().end() - 1);
    const std::int64_t rows = shape_numel(lead);
    // x1 [B, in1] @ W viewed as [in1, out * in2] -> [B, out, in2]; then contract in2 with x2.
    const Tensor mixed = x1.reshape({rows, in1}).matmul(weight.permute({1, 0, 2}).reshape({in1, out * in2}));
    Tensor y = (mixed.reshape({rows, out, in2}) * x2.reshape({rows, 1, in2})).sum({2});
    if (bias.defined()) y = y + bias;
    lead.push_back(out);
    return y.reshape(lead);
}

std::string Bilinear::extra_repr() const {
    return "in1_features=" + std::to_string(options_.in1_features()) +
           ", in2_features=" + std::to_string(options_.in2_features()) +
           ", out_features=" + std::to_string(options_.out_features()) +
           ", bias=" + (bias.defined() ? "True" : "False");
}

void LazyBilinear::infer_options(const std::vector<Tensor>& inputs) {
    if (inputs.size() != 2 || inputs[0].dim() == 0 || inputs[1].dim() == 0) {
        throw ShapeError(
            "LazyBilinear: cannot infer in1_features and in2_features; call it with two inputs "
            "[*, in1_features] and [*, in2_features]");
    }
    const std::int64_t in1 = inputs[0].size(-1), in2 = inputs[1].size(-1);
    if (!is_lazy(weight) && (weight.size(1) != in1 || weight.size(2) != in2)) {
        throw AssertionError("LazyBilinear: the input sizes " + std::to_string(in1) + " and " + std::to_string(in2) +
                             " do not match the loaded weight " + shape_to_list(weight.shape()));
    }
    options_.in1_features(in1).in2_features(in2);
}

void LazyBilinear::lazy_load_finalize() {
    if (weight.dim() != 3 || weight.size(0) != options_.out_features() || weight.size(1) == 0 || weight.size(2) == 0) {
        throw RuntimeError("LazyBilinear: the loaded weight has shape " + shape_to_list(weight.shape()) +
                           ", expected [" + std::to_string(options_.out_features()) + ", in1_features, in2_features]");
    }
    if (bias.defined() && !is_lazy(bias) && bias.shape() != Shape{options_.out_features()}) {
        throw RuntimeError("LazyBilinear: the loaded bias has shape " + shape_to_list(bias.shape()) + ", expected [" +
                           std::to_string(options_.out_features()) + "]");
    }
    options_.in1_features(weight.size(1)).in2_features(weight.size(2));
}

Identity::Identity() { set_name("Identity"); }

}  // namespace lazynn::nn
