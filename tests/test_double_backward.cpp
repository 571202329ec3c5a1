// Higher-order autograd: create_graph in backward/grad, gradgradcheck over every op with a
// differentiable backward formula, a gradient penalty and Hessian-vector products against PyTorch
// 1.13 (tests/fixtures/double_backward.json, tools/fixtures/gen_double_backward.py), through
// convolutions and cross-entropy too, the clear error of layer kernels without one, tensor hooks,
// EnableGradGuard and the version counter.
#include "test_support.hpp"

#include <lazynn/extension.hpp>
#include <lazynn/nn.hpp>

#include <cmath>
#include <functional>
#include <thread>
#include <string>
#include <utility>
#include <vector>

using namespace lazynn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor input(const Shape& shape, double shift = 0.0, double scale = 1.0) {
    // Deterministic, distinct, no kinks hit (values away from 0 and from each other).
    const std::int64_t n = shape_numel(shape);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] =
            shift + scale * (0.37 * static_cast<double>(i % 7) - 0.9 + 0.11 * static_cast<double>(i));
    Tensor t = tensor(v, shape, kFloat64);
    t.requires_grad_(true);
    return t;
}

Tensor positive(const Shape& shape) { return input(shape, 2.0, 0.5).detach().abs().add_(0.3).requires_grad_(true); }

void check_second_order(const std::string& name, const Fn& fn, const std::vector<Tensor>& inputs) {
    CAPTURE(name);
    const auto first = autograd::gradcheck(fn, inputs);
    CHECK_MESSAGE(first.ok, first.message);
    const auto second = autograd::gradgradcheck(fn, inputs);
    CHECK_MESSAGE(second.ok, second.message);
}

}  // namespace

TEST_SUITE("double backward") {
    TEST_CASE("gradgradcheck: elementwise unary ops and activations") {
        const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> ops = {
            {"neg", [](const Tensor& x) { return x.neg(); }},
            {"abs", [](const Tensor& x) { return x.abs() * x; }},
            {"exp", [](const Tensor& x) { return x.exp(); }},
            {"sin", [](const Tensor& x) { return x.sin(); }},
            {"cos", [](const Tensor& x) { return x.cos(); }},
            {"tanh", [](const Tensor& x) { return x.tanh(); }},
            {"sigmoid", [](const Tensor& x) { return x.sigmoid(); }},
            {"relu", [](const Tensor& x) { return x.relu() * x; }},
            {"gelu", [](const Tensor& x) { return x.gelu(); }},
            {"gelu_tanh", [](const Tensor& x) { return x.gelu(true); }},
            {"silu", [](const Tensor& x) { return x.silu(); }},
            {"softplus", [](const Tensor& x) { return x.softplus(2.0, 1.0); }},
            {"tan", [](const Tensor& x) { return (x * 0.3).tan(); }},
            {"erf", [](const Tensor& x) { return x.erf(); }},
            {"expm1", [](const Tensor& x) { return x.expm1(); }},
            {"pow3", [](const Tensor& x) { return x.pow(3.0); }},
            {"pow0", [](const Tensor& x) { return x.pow(0.0) * x; }},
            {"clamp", [](const Tensor& x) { return x.clamp(-0.5, 0.7) * x; }},
            {"clamp_min", [](const Tensor& x) { return x.clamp_min(0.1) * x; }},
            {"clamp_max", [](const Tensor& x) { return x.clamp_max(0.1) * x; }},
            {"steps",
             [](const Tensor& x) { return x.sign() * x + x.floor() + (x + 0.013).round() * x.ceil() + x.trunc(); }},
        };
        for (const auto& [name, op] : ops)
            check_second_order(name, [&op = op](const auto& in) { return op(in[0]); }, {input({2, 3})});
        const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> positive_ops = {
            {"log", [](const Tensor& x) { return x.log(); }},
            {"sqrt", [](const Tensor& x) { return x.sqrt(); }},
            {"rsqrt", [](const Tensor& x) { return x.rsqrt(); }},
            {"log1p", [](const Tensor& x) { return x.log1p(); }},
            {"reciprocal", [](const Tensor& x) { return x.reciprocal(); }},
            {"pow_frac", [](const Tensor& x) { return x.pow(-1.7); }},
        };
        for (const auto& [name, op] : positive_ops)
            check_second_order(name, [&op = op](const auto& in) { return op(in[0]); }, {positive({2, 3})});
    }

    TEST_CASE("gradgradcheck: float32 activation kernels have a graph formula too") {
        // The vectorised float32 gelu/silu backward is raw; their create_graph formula is checked here
        // against the float64 one.
        for (bool tanh_approx : {false, true}) {
            const Tensor x32 = tensor({-1.5, -0.2, 0.3, 2.0}).requires_grad_();
            const Tensor g32 = autograd::grad({x32.gelu(tanh_approx).sum()}, {x32}, {}, std::nullopt, true)[0];
            REQUIRE(g32.requires_grad());
            const Tensor h32 = autograd::grad({g32.sum()}, {x32})[0];
            const Tensor x64 = x32.detach().to(kFloat64).requires_grad_();
            const Tensor g64 = autograd::grad({x64.gelu(tanh_approx).sum()}, {x64}, {}, std::nullopt, true)[0];
            check_close(h32.to(kFloat64), autograd::grad({g64.sum()}, {x64})[0], 1e-4, 1e-5);
        }
        const Tensor x32 = tensor({-1.5, -0.2, 0.3, 2.0}).requires_grad_();
        const Tensor g32 = autograd::grad({x32.silu().sum()}, {x32}, {}, std::nullopt, true)[0];
        const Tensor x64 = x32.detach().to(kFloat64).requires_grad_();
        const Tensor g64 = autograd::grad({x64.silu().sum()}, {x64}, {}, std::nullopt, true)[0];
        check_close(autograd::grad({g32.sum()}, {x32})[0].to(kFloat64), autograd::grad({g64.sum()}, {x64})[0], 1e-4,
                    1e-5);
    }

    TEST_CASE("gradgradcheck: binary ops with broadcasting") {
        check_second_order("add", [](const auto& in) { return add(in[0], in[1], 0.5) * in[0]; },
                           {input({2, 3}), input({3}, 0.4)});
        check_second_order("sub", [](const auto& in) { return (in[0] - in[1]) * in[1]; },
                           {input({2, 3}), input({3}, 0.4)});
        check_second_order("mul", [](const auto& in) { return in[0] * in[1]; }, {input({2, 3}), input({2, 1}, 0.4)});
        check_second_order("div", [](const auto& in) { return in[0] / in[1]; }, {input({2, 3}), positive({3})});
        check_second_order("pow_tensor", [](const auto& in) { return pow(in[0], in[1]); },
                           {positive({2, 3}), input({3}, 0.2)});
        check_second_order("maximum", [](const auto& in) { return maximum(in[0], in[1]) * in[0]; },
                           {input({2, 3}), input({3}, 0.05)});
        check_second_order("minimum", [](const auto& in) { return minimum(in[0], in[1]) * in[1]; },
                           {input({2, 3}), input({3}, 0.05)});
        check_second_order("atan2", [](const auto& in) { return atan2(in[0], in[1]); },
                           {input({2, 3}), positive({2, 3})});
        check_second_order("fmod", [](const auto& in) { return fmod(in[0] * in[0], in[1]); },
                           {input({2, 3}), positive({3})});
        check_second_order("remainder", [](const auto& in) { return remainder(in[0] * in[1], in[1]); },
                           {input({2, 3}), positive({3})});
        check_second_order("where",
                           [](const auto& in) { return where(in[0].detach() > 0.0, in[0] * in[1], in[1] * in[1]); },
                           {input({2, 3}), input({3}, 0.3)});
        check_second_order("scalar_ops",
                           [](const auto& in) { return (2.0 - in[0]) * (in[0] / 3.0) + 1.0 / (in[0] * in[0] + 1.0); },
                           {input({4})});
    }

    TEST_CASE("gradgradcheck: reductions") {
        check_second_order("sum", [](const auto& in) { return (in[0] * in[0]).sum(); }, {input({2, 3})});
        check_second_order("sum_dims", [](const auto& in) { return (in[0] * in[0]).sum({0}, true); }, {input({2, 3})});
        check_second_order("mean", [](const auto& in) { return (in[0] * in[0]).mean({1}); }, {input({2, 3})});
        check_second_order("prod", [](const auto& in) { return in[0].prod(); }, {input({2, 3}, 0.1)});
        check_second_order("prod_dim", [](const auto& in) { return in[0].prod(1, true); }, {input({2, 3}, 0.1)});
        check_second_order("var", [](const auto& in) { return in[0].var({1}); }, {input({2, 3})});
        check_second_order("var_all", [](const auto& in) { return in[0].var(); }, {input({2, 3})});
        check_second_order("std", [](const auto& in) { return in[0].std({0}, 0.0, true); }, {input({3, 2})});
        check_second_order("max_all", [](const auto& in) { return in[0].max() * in[0]; }, {input({2, 3})});
        check_second_order("min_dim", [](const auto& in) { return in[0].min(1).values * in[0].sum({1}); },
                           {input({2, 3})});
        check_second_order("max_dim", [](const auto& in) { return in[0].max(0, true).values.pow(2.0); },
                           {input({2, 3})});
        check_second_order("logsumexp", [](const auto& in) { return in[0].logsumexp({1}); }, {input({2, 3})});
        check_second_order("cumsum", [](const auto& in) { return (in[0] * in[0]).cumsum(1); }, {input({2, 3})});
    }

    TEST_CASE("gradgradcheck: softmax, matmul, shape ops") {
        check_second_order("softmax", [](const auto& in) { return in[0].softmax(1); }, {input({2, 3})});
        check_second_order("log_softmax", [](const auto& in) { return in[0].log_softmax(0); }, {input({2, 3})});
        check_second_order("matmul_2d", [](const auto& in) { return matmul(in[0], in[1]); },
                           {input({2, 3}), input({3, 2}, 0.2)});
        check_second_order("matmul_batched", [](const auto& in) { return matmul(in[0], in[1]); },
                           {input({2, 2, 3}), input({3, 2}, 0.2)});
        check_second_order("matmul_vector", [](const auto& in) { return matmul(in[0], in[1]).pow(2.0); },
                           {input({3}), input({3, 2}, 0.2)});
        check_second_order("views",
                           [](const auto& in) {
                               const Tensor y = in[0] * in[0];
                               return y.reshape({3, 2})
                                   .t()
                                   .unsqueeze(0)
                                   .squeeze(0)
                                   .permute({1, 0})
                                   .flatten()
                                   .view({2, 3})
                                   .transpose(0, 1)
                                   .expand({2, 3, 2});
                           },
                           {input({2, 3})});
        check_second_order("slice_select_narrow",
                           [](const auto& in) {
                               const Tensor y = in[0] * in[0];
                               return y.slice(1, 0, 3, 2) * y.select(0, 1).narrow(0, 1, 2).unsqueeze(0);
                           },
                           {input({2, 3})});
        check_second_order("index_select",
                           [](const auto& in) {
                               return (in[0] * in[0]).index_select(1, tensor({2, 0, 2}));
                           },
                           {input({2, 3})});
        check_second_order("cat_stack",
                           [](const auto& in) {
                               return cat({in[0] * in[1], stack({in[1], in[1] * in[1]}, 0).sum({0}).unsqueeze(0)}, 0);
                           },
                           {input({2, 3}), input({3}, 0.2)});
        check_second_order("flip_tril_triu",
                           [](const auto& in) {
                               const Tensor y = in[0] * in[0];
                               return y.flip({0}).tril() + y.triu(1) * in[0];
                           },
                           {input({3, 3})});
        check_second_order(
            "clone_to_contiguous",
            [](const auto& in) { return (in[0] * in[0]).t().contiguous().clone().to(kFloat64) * in[0].t(); },
            {input({2, 3})});
        check_second_order("masked_fill",
                           [](const auto& in) {
                               return (in[0] * in[0]).masked_fill(tensor({1.0, 0.0, 1.0}) > 0.5, 2.0);
                           },
                           {input({2, 3})});
    }

    TEST_CASE("gradgradcheck: indexing, sorting, norms and linear algebra") {
        const Tensor index = tensor(std::vector<std::int64_t>{2, 0, 1, 1, 2, 0}, Shape{2, 3});
        check_second_order("gather", [&](const auto& in) { return (in[0] * in[0]).gather(1, index); }, {input({2, 3})});
        check_second_order(
            "scatter", [&](const auto& in) { return (in[0] * in[0]).scatter(1, index.narrow(1, 0, 2), in[1] * in[1]); },
            {input({2, 3}), input({2, 2}, 0.4)});
        check_second_order("scatter_add",
                           [&](const auto& in) { return (in[0] * in[0]).scatter_add(1, index, in[1] * in[1]); },
                           {input({2, 3}), input({2, 3}, 0.4)});
        check_second_order("masked_select",
                           [](const auto& in) {
                               return (in[0] * in[0]).masked_select(tensor({1.0, 0.0, 1.0}) > 0.5);
                           },
                           {input({2, 3})});
        check_second_order("sort", [](const auto& in) { return (in[0] * in[0]).sort(1).values * in[0]; },
                           {input({2, 3})});
        check_second_order("topk", [](const auto& in) { return (in[0] * in[0]).topk(2, 0).values; }, {input({3, 2})});
        check_second_order("norm2", [](const auto& in) { return (in[0] * in[0]).norm(2.0, {1}); }, {input({2, 3})});
        check_second_order("norm1", [](const auto& in) { return in[0].norm(1.0) * in[0]; }, {input({2, 3})});
        check_second_order("norm_inf", [](const auto& in) { return in[0].norm(INFINITY, {0}) * in[0]; },
                           {input({2, 3})});
        check_second_order("norm3", [](const auto& in) { return in[0].norm(3.0, {0}); }, {input({2, 3})});
        check_second_order("cumprod", [](const auto& in) { return in[0].cumprod(1); }, {input({2, 3})});
        check_second_order(
            "cumprod_through_zero", [](const auto& in) { return in[0].cumprod(1); },
            {tensor(std::vector<double>{0.5, 0.0, 1.5, -0.7, 1.2, 0.0}, Shape{2, 3}, kFloat64).requires_grad_()});
        check_second_order("amax_amin",
                           [](const auto& in) { return (in[0] * in[0]).amax({1}) + in[0].amin({0}).sum(); },
                           {input({2, 3})});
        check_second_order("repeat_roll",
                           [](const auto& in) {
                               return (in[0] * in[0]).repeat({2, 1}).roll(1, 1) * in[1];
                           },
                           {input({2, 3}), input({4, 3}, 0.3)});
        check_second_order("mm_bmm",
                           [](const auto& in) { return in[0].mm(in[1]).unsqueeze(0).bmm(in[1].t().unsqueeze(0)); },
                           {input({2, 3}), input({3, 2}, 0.2)});
        check_second_order("outer_dot", [](const auto& in) { return in[0].outer(in[1]) * in[0].dot(in[0]); },
                           {input({3}), input({2}, 0.2)});
    }

    TEST_CASE("gradgradcheck: linear layers and composite losses") {
        check_second_order("linear", [](const auto& in) { return nn::functional::linear(in[0], in[1], in[2]).tanh(); },
                           {input({2, 3}), input({4, 3}, 0.1, 0.3), input({4}, 0.2)});
        check_second_order("linear_relu",
                           [](const auto& in) { return nn::functional::linear_relu(in[0], in[1], in[2]).pow(2.0); },
                           {input({2, 3}), input({4, 3}, 0.1, 0.3), input({4}, 0.3)});
        check_second_order("mse_loss", [](const auto& in) { return nn::functional::mse_loss(in[0].tanh(), in[1]); },
                           {input({2, 3}), input({2, 3}, 0.3)});
    }

    TEST_CASE("gradient penalty matches PyTorch") {
        const auto c = lazynn::testing::load_fixture("double_backward.json").at("gradient_penalty");
        Tensor x = fixture_tensor(c.at("x")).requires_grad_();
        Tensor w1 = fixture_tensor(c.at("w1")).requires_grad_();
        Tensor b1 = fixture_tensor(c.at("b1")).requires_grad_();
        Tensor w2 = fixture_tensor(c.at("w2")).requires_grad_();
        const Tensor critic = matmul((matmul(x, w1) + b1).tanh(), w2).sum();
        const Tensor g = autograd::grad({critic}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
        REQUIRE(g.requires_grad());
        const Tensor penalty = (((g * g).sum({1}) + 1e-12).sqrt() - 1.0).pow(2.0).mean();
        penalty.backward();
        CHECK(penalty.item<double>() == doctest::Approx(c.at("penalty").get<double>()).epsilon(1e-10));
        check_close(x.grad(), fixture_tensor(c.at("grad_x")), 1e-9, 1e-12);
        check_close(w1.grad(), fixture_tensor(c.at("grad_w1")), 1e-9, 1e-12);
        check_close(b1.grad(), fixture_tensor(c.at("grad_b1")), 1e-9, 1e-12);
        check_close(w2.grad(), fixture_tensor(c.at("grad_w2")), 1e-9, 1e-12);
    }

    TEST_CASE("Hessian-vector products match PyTorch") {
        const auto c = lazynn::testing::load_fixture("double_backward.json").at("hvp");
        const Tensor a = fixture_tensor(c.at("a")), v = fixture_tensor(c.at("v"));
        auto f = [&a](const Tensor& x) {
            return matmul(a, x).sigmoid().sum() + (x.pow(3.0) * 0.5).sum() + x.log_softmax(0).select(0, 1) +
                   (x.exp() * x.sin()).prod();
        };
        Tensor x = fixture_tensor(c.at("x")).requires_grad_();
        const Tensor g = autograd::grad({f(x)}, {x}, {}, std::nullopt, true)[0];
        check_close(g, fixture_tensor(c.at("grad")), 1e-10, 1e-12);
        check_close(autograd::grad({g}, {x}, {v})[0], fixture_tensor(c.at("hvp")), 1e-9, 1e-12);
        // The full Hessian row by row.
        const Tensor hessian = fixture_tensor(c.at("hessian"));
        const Tensor g2 = autograd::grad({f(x)}, {x}, {}, std::nullopt, true)[0];
        for (std::int64_t i = 0; i < 4; ++i) {
            const Tensor row = autograd::grad({g2.select(0, i)}, {x}, {}, true)[0];
            check_close(row, hessian.select(0, i), 1e-9, 1e-12);
        }
        // Through backward(create_graph): .grad() carries a history and the second backward accumulates.
        Tensor xb = fixture_tensor(c.at("x")).requires_grad_();
        f(xb).backward(Tensor(), std::nullopt, /*create_graph=*/true);
        REQUIRE(xb.grad().requires_grad());
        check_close(xb.grad(), fixture_tensor(c.at("backward_grad")), 1e-10, 1e-12);
        (xb.grad() * v).sum().backward();
        check_close(xb.grad(), fixture_tensor(c.at("backward_accumulated")), 1e-9, 1e-12);
        // A leaf's .grad with a history references the leaf through its graph (as in PyTorch, which
        // warns about this cycle): clearing it frees both.
        xb.set_grad(Tensor());
    }

    TEST_CASE("index_select's create_graph backward keeps a NaN or inf gradient in its own row, as index_add does") {
        // PyTorch's backward is index_add: row s of the input's gradient sums only the output rows
        // that selected s. A product with a one-hot matrix would spread 0 * NaN over every row.
        const Tensor x = randn({4, 3}).requires_grad_();
        const Tensor index = tensor(std::vector<std::int64_t>{2, 0, 2}, {3});
        std::vector<double> values = randn({3, 3}).to_vector<double>();
        values[1 * 3 + 1] = std::numeric_limits<double>::quiet_NaN();  // output row 1 selected input row 0
        values[0 * 3 + 2] = std::numeric_limits<double>::infinity();   // output row 0 selected input row 2
        const Tensor gy = tensor(values, {3, 3}, kFloat32).requires_grad_();
        const Tensor plain = autograd::grad({x.index_select(0, index)}, {x}, {gy.detach()})[0];
        const Tensor recorded = autograd::grad({x.index_select(0, index)}, {x}, {gy}, std::nullopt, true)[0];
        CHECK(recorded.requires_grad());
        testing::check_same(recorded.detach(), plain, true, 0.0);
        CHECK(recorded.select(0, 1).eq(0.0).all().item<bool>());  // rows nobody selected stay zero
        CHECK(recorded.select(0, 3).eq(0.0).all().item<bool>());
    }

    TEST_CASE("create_graph keeps the graph by default; without it gradients have no history") {
        Tensor x = tensor({1.0, 2.0}, kFloat64).requires_grad_();
        const Tensor y = (x * x * x).sum();
        const Tensor g = autograd::grad({y}, {x}, {}, std::nullopt, true)[0];
        CHECK(g.requires_grad());
        CHECK(autograd::grad({y}, {x})[0].to_vector<double>() == std::vector<double>{3, 12});  // retained
        const Tensor z = (x * x).sum();
        CHECK_FALSE(autograd::grad({z}, {x})[0].requires_grad());
        CHECK_THROWS_AS(autograd::grad({z}, {x}), RuntimeError);  // freed: retain_graph defaults to false
        CHECK_FALSE(is_grad_enabled() == false);                  // the backward restored grad mode
    }

    TEST_CASE("gradgradcheck: convolutions, pooling, normalisation, cross-entropy and NLL") {
        namespace F = nn::functional;
        check_second_order("conv2d strided, padded, grouped, dilated",
                           [](const auto& in) {
                               return F::conv2d(in[0], in[1], in[2], {2, 1}, {1, 0, 2, 1}, {1, 2}, 2).tanh();
                           },
                           {input({2, 4, 4, 5}, 0.0, 0.3), input({4, 2, 2, 2}, 0.1, 0.4), input({4}, 0.2)});
        check_second_order(
            "conv2d_relu",
            [](const auto& in) {
                return F::conv2d_relu(in[0], in[1], in[2], {1, 1}, {1, 1, 1, 1}, {1, 1}, 1) * in[0].sum();
            },
            {input({1, 2, 3, 3}, 0.0, 0.3), input({2, 2, 2, 2}, 0.1, 0.4), input({2}, 0.2)});
        check_second_order(
            "conv_transpose2d",
            [](const auto& in) {
                return F::conv_transpose2d(in[0], in[1], in[2], {2, 2}, {1, 0}, {1, 0}, {1, 1}, 2).tanh();
            },
            {input({1, 4, 3, 2}, 0.0, 0.3), input({4, 1, 3, 2}, 0.1, 0.4), input({2}, 0.2)});
        check_second_order(
            "conv3d",
            [](const auto& in) {
                return F::conv3d(in[0], in[1], in[2], {1, 2, 1}, {1, 0, 0, 1, 1, 0}, {1, 1, 1}, 1).tanh();
            },
            {input({1, 2, 3, 3, 2}, 0.0, 0.3), input({2, 2, 2, 2, 2}, 0.1, 0.4), input({2}, 0.2)});
        // Pooling: the 2x2 kernel without indices, the general one, and averages with clipped windows.
        check_second_order("max_pool2d 2x2",
                           [](const auto& in) {
                               return F::max_pool2d((in[0] * in[0]), {2, 2}, {2, 2});
                           },
                           {input({1, 2, 4, 4})});
        check_second_order("max_pool2d padded",
                           [](const auto& in) {
                               return F::max_pool2d(in[0].tanh() * in[0], {3, 3}, {2, 2}, {1, 1}, {1, 1}, true);
                           },
                           {input({1, 2, 5, 4})});
        check_second_order("avg_pool2d",
                           [](const auto& in) {
                               return F::avg_pool2d(in[0] * in[0], {3, 2}, {2, 2}, {1, 1}, true, false).tanh();
                           },
                           {input({1, 2, 5, 4})});
        // Normalisation: batch statistics (with and without the fused ReLU), running statistics,
        // layer and group norm.
        const Tensor running_mean = tensor({0.1, -0.2, 0.3}, kFloat64), running_var = tensor({0.5, 1.5, 2.0}, kFloat64);
        for (const bool use_batch : {true, false}) {
            for (const bool relu : {false, true}) {
                CAPTURE(use_batch);
                CAPTURE(relu);
                check_second_order("batch_norm",
                                   [&](const auto& in) {
                                       std::vector<double> mean, var;
                                       return ops::batch_norm(in[0], in[1], in[2], running_mean, running_var, use_batch,
                                                              1e-5, relu, mean, var)
                                                  .pow(2.0) *
                                              in[0];
                                   },
                                   {input({3, 3, 2}, 0.0, 0.7), input({3}, 1.0, 0.2), input({3}, 0.2)});
            }
        }
        check_second_order("layer_norm",
                           [](const auto& in) {
                               return F::layer_norm(in[0], {2, 3}, in[1], in[2]).pow(2.0) * in[0];
                           },
                           {input({2, 2, 3}, 0.0, 0.7), input({2, 3}, 1.0, 0.2), input({2, 3}, 0.2)});
        check_second_order("group_norm",
                           [](const auto& in) { return F::group_norm(in[0], 2, in[1], in[2]).pow(2.0) * in[0]; },
                           {input({2, 4, 3}, 0.0, 0.7), input({4}, 1.0, 0.2), input({4}, 0.2)});
        const Tensor target = tensor({0, 3, -100, 2, 1});
        const Tensor weight = tensor({0.5, 1.0, 2.0, 1.5}, kFloat64);
        for (auto reduction : {nn::Reduction::Mean, nn::Reduction::Sum, nn::Reduction::None}) {
            CAPTURE(nn::reduction_name(reduction));
            check_second_order(
                "cross_entropy",
                [&](const auto& in) {
                    return F::cross_entropy(
                        in[0], target,
                        nn::CrossEntropyLossOptions().weight(weight).label_smoothing(0.2).reduction(reduction));
                },
                {input({5, 4}, 0.0, 0.5)});
            check_second_order(
                "nll_loss",
                [&](const auto& in) { return F::nll_loss(in[0].log_softmax(1), target, weight, -100, reduction); },
                {input({5, 4}, 0.0, 0.5)});
        }
    }

    TEST_CASE("gradient penalty through convolutions matches PyTorch, float64 and float32") {
        namespace F = nn::functional;
        for (const char* key : {"conv_gradient_penalty", "conv_gradient_penalty_f32"}) {
            CAPTURE(key);
            const bool f32 = std::string(key).find("f32") != std::string::npos;
            const Dtype dtype = f32 ? kFloat32 : kFloat64;
            const auto c = lazynn::testing::load_fixture("double_backward.json").at(key);
            auto leaf = [&](const char* name) { return fixture_tensor(c.at(name)).to(dtype).requires_grad_(); };
            Tensor x = leaf("x"), w1 = leaf("w1"), b1 = leaf("b1"), w2 = leaf("w2"), w3 = leaf("w3");
            // float32 runs on oneDNN's nodes, float64 on the im2col kernels: both graph formulas.
            Tensor h = F::conv2d(x, w1, b1, {2, 2}, {1, 1, 1, 1}, {1, 1}, 2).tanh();
            h = F::conv_transpose2d(h, w2, Tensor(), {2, 2}, {0, 0}, {1, 1}, {1, 1}, 1).tanh();
            const Tensor critic =
                F::conv2d(h, w3.transpose(0, 1).contiguous(), Tensor(), {1, 1}, {0, 0, 0, 0}, {2, 2}, 1).sum();
            const Tensor g = autograd::grad({critic}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
            const Tensor penalty = (g.flatten(1).norm(2.0, {1}) - 1.0).pow(2.0).mean();
            penalty.backward();
            const double rtol = f32 ? 1e-4 : 1e-9, atol = f32 ? 1e-5 : 1e-12;
            CHECK(penalty.item<double>() == doctest::Approx(c.at("penalty").get<double>()).epsilon(rtol));
            check_close(x.grad().to(kFloat64), fixture_tensor(c.at("grad_x")), rtol, atol);
            check_close(w1.grad().to(kFloat64), fixture_tensor(c.at("grad_w1")), rtol, atol);
            check_close(b1.grad().to(kFloat64), fixture_tensor(c.at("grad_b1")), rtol, atol);
            check_close(w2.grad().to(kFloat64), fixture_tensor(c.at("grad_w2")), rtol, atol);
            check_close(w3.grad().to(kFloat64), fixture_tensor(c.at("grad_w3")), rtol, atol);
        }
    }

    TEST_CASE("the gradient of cross-entropy's gradient matches PyTorch") {
        namespace F = nn::functional;
        const auto c = lazynn::testing::load_fixture("double_backward.json").at("cross_entropy_gradient_norm");
        const Tensor logits = fixture_tensor(c.at("logits")), weight = fixture_tensor(c.at("weight"));
        const Tensor target = tensor(c.at("target").get<std::vector<std::int64_t>>(), Shape{5});
        const Tensor per_sample = arange(1.0, 6.0, 1.0, kFloat64);
        for (auto reduction : {nn::Reduction::Mean, nn::Reduction::Sum, nn::Reduction::None}) {
            const std::string name = nn::reduction_name(reduction);
            CAPTURE(name);
            auto finish = [&](Tensor loss) {
                return reduction == nn::Reduction::None ? (loss * per_sample).sum() : loss;
            };
            Tensor proj = fixture_tensor(c.at("proj")).requires_grad_();
            const Tensor loss = finish(F::cross_entropy(
                matmul(logits, proj), target,
                nn::CrossEntropyLossOptions().weight(weight).label_smoothing(0.1).reduction(reduction)));
            Tensor g = autograd::grad({loss}, {proj}, {}, std::nullopt, true)[0];
            (g * g).sum().backward();
            check_close(proj.grad(), fixture_tensor(c.at("grad_proj_" + name)), 1e-9, 1e-12);
            Tensor proj2 = fixture_tensor(c.at("proj")).requires_grad_();
            const Tensor nll =
                finish(F::nll_loss(matmul(logits, proj2).log_softmax(1), target, weight, -100, reduction));
            g = autograd::grad({nll}, {proj2}, {}, std::nullopt, true)[0];
            (g * g).sum().backward();
            check_close(proj2.grad(), fixture_tensor(c.at("nll_grad_proj_" + name)), 1e-9, 1e-12);
        }
    }

    TEST_CASE("gradgradcheck: in-place writes into views (CopySlices, AsStridedBackward0)") {
        // The base's history becomes CopySlices over the write; a view taken before the write gets
        // AsStridedBackward0 over the base. Both are differentiated twice.
        check_second_order("write into a slice",
                           [](const auto& in) {
                               Tensor b = in[0] * in[0];
                               b.slice(1, 0, 2).mul_(in[1]);
                               return b.pow(2.0);
                           },
                           {input({2, 3}), input({2, 2}, 0.3)});
        check_second_order("view read after its base is written",
                           [](const auto& in) {
                               Tensor b = in[0] * 3.0;  // (exp would save b, which the write then invalidates)
                               const Tensor v = b.t().select(0, 1);  // a strided view: b[:, 1]
                               b.add_(in[0] * in[0]);
                               return v * v;
                           },
                           {input({2, 3})});
    }

    TEST_CASE("an op whose backward is not differentiable raises a clear error in double backward") {
        // A custom op recorded without `differentiable` (extension.hpp): its backward may use raw
        // kernels, so a second derivative through it must not be silently zero.
        auto square = [](const Tensor& x) {
            Tensor out = (x * x).detach();
            extension::record_backward(out, "SquareBackward", {x},
                                       [saved = extension::SavedTensor(x)](const Tensor& g) {
                                           return std::vector<Tensor>{g * saved.unpack() * 2.0};
                                       });
            return out;
        };
        Tensor x = input({4});
        const Tensor g = autograd::grad({square(x).sum()}, {x}, {}, std::nullopt, true)[0];
        check_close(g.detach(), (x * 2.0).detach());  // a first derivative is fine
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(autograd::grad({g.sum()}, {x}), NotImplementedError,
                                        "double backward through SquareBackward is not supported");
        // A gradient not depending on that node's backward differentiates fine.
        Tensor y = input({3});
        const Tensor gy = autograd::grad({(y * y).sum() + square(x).sum()}, {y}, {}, std::nullopt, true)[0];
        check_close(autograd::grad({gy.sum()}, {y})[0], full({3}, 2.0, kFloat64));
    }

    TEST_CASE("tensor hooks behave like PyTorch 1.13") {
        const auto c = lazynn::testing::load_fixture("double_backward.json").at("hooks");
        auto expect = [&c](const Tensor& t, const char* key) {
            check_close(t.to(kFloat64), fixture_tensor(c.at(key)));
        };
        Tensor x = tensor({1.0, 2.0}).requires_grad_();
        x.register_hook([](const Tensor& g) { return g * 10; });
        expect(autograd::grad({(x * x).sum()}, {x})[0], "leaf_hook_autograd_grad");  // grad() runs no hooks
        (x * x).sum().backward();
        expect(x.grad(), "leaf_hook_backward");  // before accumulation
        x.set_grad(ones({2}));
        Tensor seen;
        x.register_hook([&seen](const Tensor& g) {
            seen = g.clone();
            return Tensor();
        });
        (x * 2).sum().backward();
        expect(seen, "leaf_second_hook_sees");  // hooks chain in order
        expect(x.grad(), "leaf_accumulated");

        Tensor y = tensor({1.0, 2.0}).requires_grad_();
        Tensor h = y * 1;
        h.retain_grad();
        h.register_hook([](const Tensor& g) { return g * 3; });
        (h * h).sum().backward();
        expect(h.grad(), "retain_then_hook_h_grad");
        expect(y.grad(), "retain_then_hook_y_grad");  // the hooked value flows on
        y.set_grad(Tensor());
        h = y * 1;
        h.register_hook([](const Tensor& g) { return g * 3; });
        h.retain_grad();
        (h * h).sum().backward();
        expect(h.grad(), "hook_then_retain_h_grad");
        y.set_grad(Tensor());
        h = y * 1;
        RemovableHandle handle = h.register_hook([](const Tensor& g) { return g * 3; });
        handle.remove();
        handle.remove();  // idempotent
        (h * h).sum().backward();
        expect(y.grad(), "removed_y_grad");
        h = y * 1;
        h.register_hook([](const Tensor& g) { return g * 3; });
        expect(autograd::grad({(h * h).sum()}, {h})[0], "nonleaf_autograd_grad");

        // Errors: no grad, and a hook that changes the shape.
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ones({2}).register_hook([](const Tensor& g) { return g; }), RuntimeError,
                                        "doesn't require gradient");
        Tensor z = ones({2}).requires_grad_();
        z.register_hook([](const Tensor&) { return ones({3}); });
        LAZYNN_CHECK_THROWS_WITH_SUBSTR((z * 2).sum().backward(), RuntimeError, "hook has changed the size of value");
        // A removed leaf hook stops running; a handle outliving its tensor is harmless.
        Tensor w = ones({2}).requires_grad_();
        int calls = 0;
        RemovableHandle leaf_handle = w.register_hook([&calls](const Tensor&) {
            ++calls;
            return Tensor();
        });
        (w * 2).sum().backward();
        leaf_handle.remove();
        (w * 2).sum().backward();
        CHECK(calls == 1);
        RemovableHandle dangling;
        {
            Tensor tmp = ones({1}).requires_grad_();
            dangling = tmp.register_hook([](const Tensor& g) { return g; });
        }
        dangling.remove();
    }

    TEST_CASE("a hook may record a graph under create_graph") {
        Tensor x = tensor({1.0, 2.0}, kFloat64).requires_grad_();
        Tensor h = x * x;
        h.register_hook([&x](const Tensor& g) { return g * x; });  // d/dx of sum(x^2) becomes 2x * x
        h.sum().backward(Tensor(), std::nullopt, true);
        check_close(x.grad(), tensor({2.0, 8.0}, kFloat64));
        const Tensor second = autograd::grad({x.grad().sum()}, {x})[0];  // d/dx 2x^2 = 4x
        check_close(second, tensor({4.0, 8.0}, kFloat64));
        x.set_grad(Tensor());  // breaks the leaf -> grad -> graph -> leaf cycle (see above)
    }

    TEST_CASE("EnableGradGuard re-enables recording inside NoGradGuard, per thread") {
        Tensor x = ones({2}).requires_grad_();
        NoGradGuard no_grad;
        CHECK_FALSE((x * 2).requires_grad());
        {
            EnableGradGuard enable;
            CHECK(is_grad_enabled());
            CHECK((x * 2).requires_grad());
            bool other_thread = true;
            std::thread([&other_thread] {
                NoGradGuard inner;
                other_thread = is_grad_enabled();
            }).join();
            CHECK_FALSE(other_thread);
            {
                NoGradGuard nested;
                CHECK_FALSE(is_grad_enabled());
            }
            CHECK(is_grad_enabled());
        }
        CHECK_FALSE(is_grad_enabled());
    }

    TEST_CASE("_version counts in-place writes, shared by views, like PyTorch") {
        const auto expected =
            lazynn::testing::load_fixture("double_backward.json").at("version").get<std::vector<std::int64_t>>();
        Tensor t = zeros({3});
        std::vector<std::int64_t> versions{t._version()};
        t.add_(1.0);
        versions.push_back(t._version());
        Tensor v = t.slice(0, 1, 3);
        v.mul_(2.0);
        versions.push_back(t._version());
        versions.push_back(v._version());
        t.zero_();
        versions.push_back(v._version());
        versions.push_back((t + 1.0)._version());
        for (std::size_t i = 0; i < expected.size(); ++i) CHECK_MESSAGE(versions.at(i) == expected[i], "step " << i);
        // A saved tensor modified in place is detected (PyTorch's error).
        Tensor a = ones({2}).requires_grad_();
        Tensor b = a * 2;
        Tensor c = b.exp();  // saves its output
        c.add_(1.0);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            c.sum().backward(), RuntimeError,
            "one of the variables needed for gradient computation has been modified by an inplace operation");
    }
}
