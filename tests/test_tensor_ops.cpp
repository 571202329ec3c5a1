// Every differentiable tensor op against PyTorch (values and gradients from
// tests/fixtures/tensor_ops.json, made by tools/fixtures/gen_tensor_ops.py) and against finite
// differences (gradcheck in float64).
#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>

using namespace lazynn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

const std::map<std::string, Fn>& cases() {
    static const std::map<std::string, Fn> table = {
        {"add_broadcast", [](const auto& x) { return x[0] + x[1]; }},
        {"add_broadcast_both", [](const auto& x) { return x[0] + x[1]; }},
        {"sub_broadcast", [](const auto& x) { return x[0] - x[1]; }},
        {"mul_broadcast", [](const auto& x) { return x[0] * x[1]; }},
        {"div_broadcast", [](const auto& x) { return x[0] / x[1]; }},
        {"scalar_ops", [](const auto& x) { return (2.5 - x[0]) * 3 / 4 + 1; }},
        {"scalar_rdiv", [](const auto& x) { return 2 / x[0]; }},
        {"neg", [](const auto& x) { return -x[0]; }},
        {"abs", [](const auto& x) { return x[0].abs(); }},
        {"exp", [](const auto& x) { return x[0].exp(); }},
        {"log", [](const auto& x) { return x[0].log(); }},
        {"sqrt", [](const auto& x) { return x[0].sqrt(); }},
        {"rsqrt", [](const auto& x) { return x[0].rsqrt(); }},
        {"pow_scalar", [](const auto& x) { return x[0].pow(2.5); }},
        {"pow_int", [](const auto& x) { return x[0].pow(3); }},
        {"pow_tensor", [](const auto& x) { return pow(x[0], x[1]); }},
        {"clamp", [](const auto& x) { return x[0].clamp(-0.5, 0.7); }},
        {"sin", [](const auto& x) { return x[0].sin(); }},
        {"cos", [](const auto& x) { return x[0].cos(); }},
        {"tanh", [](const auto& x) { return x[0].tanh(); }},
        {"sigmoid", [](const auto& x) { return x[0].sigmoid(); }},
        {"relu", [](const auto& x) { return x[0].relu(); }},
        {"gelu", [](const auto& x) { return x[0].gelu(); }},
        {"gelu_tanh", [](const auto& x) { return x[0].gelu(true); }},
        {"silu", [](const auto& x) { return x[0].silu(); }},
        {"softplus", [](const auto& x) { return x[0].softplus(2.0, 5.0); }},
        {"maximum", [](const auto& x) { return maximum(x[0], x[1]); }},
        {"minimum", [](const auto& x) { return minimum(x[0], x[1]); }},
        {"where", [](const auto& x) { return where(x[0] > 0.0, x[0], x[1]); }},
        {"sum_all", [](const auto& x) { return x[0].sum(); }},
        {"sum_dim", [](const auto& x) { return x[0].sum({1}); }},
        {"sum_dims_keepdim", [](const auto& x) { return x[0].sum({0, 2}, true); }},
        {"mean_all", [](const auto& x) { return x[0].mean(); }},
        {"mean_dim", [](const auto& x) { return x[0].mean({-1}); }},
        {"var_all", [](const auto& x) { return x[0].var(); }},
        {"var_dim_biased", [](const auto& x) { return x[0].var({1}, false); }},
        {"std_dim_keepdim", [](const auto& x) { return x[0].std({0}, true, true); }},
        {"max_all", [](const auto& x) { return x[0].max(); }},
        {"max_dim", [](const auto& x) { return x[0].max(1).values; }},
        {"min_dim_keepdim", [](const auto& x) { return x[0].min(1, true).values; }},
        {"logsumexp", [](const auto& x) { return x[0].logsumexp({1}); }},
        {"logsumexp_keepdim", [](const auto& x) { return x[0].logsumexp({0, 1}, true); }},
        {"matmul_1d_1d", [](const auto& x) { return x[0].matmul(x[1]); }},
        {"matmul_2d_1d", [](const auto& x) { return x[0].matmul(x[1]); }},
        {"matmul_1d_2d", [](const auto& x) { return x[0].matmul(x[1]); }},
        {"matmul_2d_2d", [](const auto& x) { return x[0].matmul(x[1]); }},
        {"matmul_3d_2d", [](const auto& x) { return x[0].matmul(x[1]); }},
        {"matmul_2d_3d", [](const auto& x) { return x[0].matmul(x[1]); }},
        {"matmul_batched_broadcast", [](const auto& x) { return x[0].matmul(x[1]); }},
        {"matmul_transposed", [](const auto& x) { return x[0].t().matmul(x[1].t()); }},
        {"softmax", [](const auto& x) { return x[0].softmax(1); }},
        {"softmax_dim0", [](const auto& x) { return x[0].softmax(0); }},
        {"log_softmax", [](const auto& x) { return x[0].log_softmax(-1); }},
        {"reshape_transpose", [](const auto& x) { return x[0].transpose(0, 2).reshape({4, 6}) * 2; }},
        {"permute_contiguous", [](const auto& x) { return x[0].permute({2, 0, 1}).contiguous() * 3; }},
        {"slice_step", [](const auto& x) { return x[0].slice(0, 1, 6, 2) * 2; }},
        {"select", [](const auto& x) { return x[0].select(1, 2) * 2; }},
        {"narrow", [](const auto& x) { return x[0].narrow(1, 1, 2) * 2; }},
        {"expand", [](const auto& x) { return x[0].expand({2, 3, 4}) * 1.5; }},
        {"squeeze_unsqueeze", [](const auto& x) { return x[0].squeeze(1).unsqueeze(0) * 2; }},
        {"flatten", [](const auto& x) { return x[0].flatten(1) * 2; }},
        {"index_select", [](const auto& x) { return x[0].index_select(0, tensor(std::vector<std::int64_t>{4, 0, 4, 2}, {4})); }},
        {"cat", [](const auto& x) { return cat({x[0], x[1]}, 0); }},
        {"cat_dim1", [](const auto& x) { return cat({x[0], x[1]}, 1); }},
        {"stack", [](const auto& x) { return stack({x[0], x[1]}, 1); }},
        {"composite_mlp", [](const auto& x) { return (x[0].matmul(x[1].t()) + x[2]).tanh().pow(2).mean({0}); }},
    };
    return table;
}

std::vector<Tensor> fixture_inputs(const nlohmann::json& c, Dtype dtype, bool requires_grad) {
    std::vector<Tensor> inputs;
    for (const auto& in : c.at("inputs")) {
        Tensor t = fixture_tensor(in, dtype);
        if (requires_grad) t.requires_grad_(true);
        inputs.push_back(t);
    }
    return inputs;
}

}  // namespace

TEST_SUITE("tensor ops vs PyTorch") {
    TEST_CASE("every fixture case has an implementation and vice versa") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops.json");
        CHECK(fixture.at("cases").size() == cases().size());
        for (const auto& entry : cases()) CHECK_MESSAGE(fixture.at("cases").contains(entry.first), entry.first);
    }

    TEST_CASE("float64 values and gradients match PyTorch") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops.json");
        for (const auto& [name_entry, fn] : cases()) {
            const auto& name = name_entry;   // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            std::vector<Tensor> inputs = fixture_inputs(c, kFloat64, true);
            const Tensor out = fn(inputs);
            check_close(out, fixture_tensor(c.at("output")), 1e-10, 1e-12);
            (out * fixture_tensor(c.at("weight"))).sum().backward();
            for (std::size_t k = 0; k < inputs.size(); ++k) {
                CAPTURE(k);
                if (c.at("grads")[k].is_null()) continue;
                REQUIRE(inputs[k].grad().defined());
                check_close(inputs[k].grad(), fixture_tensor(c.at("grads")[k]), 1e-9, 1e-12);
            }
        }
    }

    TEST_CASE("float32 values match PyTorch to 1e-5 relative") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops.json");
        for (const auto& [name_entry, fn] : cases()) {
            const auto& name = name_entry;   // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            const Tensor out = fn(fixture_inputs(c, kFloat32, false));
            CHECK(out.dtype() == kFloat32);
            check_close(out, fixture_tensor(c.at("output")), 1e-5, 1e-5);
        }
    }

    TEST_CASE("gradcheck passes for every op") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops.json");
        for (const auto& [name_entry, fn] : cases()) {
            const auto& name = name_entry;   // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            const auto result = autograd::gradcheck(fn, fixture_inputs(c, kFloat64, true));
            CHECK_MESSAGE(result.ok, result.message);
        }
    }
}

namespace {

/// An activation's values and gradients (of the sum) on `grid`, in float32 and in float64; the
/// float64 run takes the float32-rounded inputs, so the comparison is of the kernels alone.
struct Float32AndFloat64 {
    std::vector<double> v32, v64, g32, g64;
};

Float32AndFloat64 run_in_both(const std::function<Tensor(const Tensor&)>& op, const std::vector<double>& grid) {
    const auto n = static_cast<std::int64_t>(grid.size());
    const Tensor x32 = tensor(grid, {n}, kFloat64).to(kFloat32).requires_grad_(true);
    const Tensor x64 = x32.detach().to(kFloat64).requires_grad_(true);
    const Tensor y32 = op(x32), y64 = op(x64);
    y32.sum().backward();
    y64.sum().backward();
    return {y32.to_vector<double>(), y64.to_vector<double>(), x32.grad().to_vector<double>(), x64.grad().to_vector<double>()};
}

}  // namespace

TEST_SUITE("vectorised float32 kernels") {
    TEST_CASE("float32 tanh, sigmoid and SiLU follow the float64 libm results in value and gradient, and PyTorch at the edges") {
        std::vector<double> grid;
        for (int i = -4000; i <= 4000; ++i) grid.push_back(i * 0.005);
        for (double v : {-100.0, -88.5, -87.5, -50.0, -9.0, 9.0, 50.0, 100.0, 1e-30, -1e-30, 1e-6, -1e-6, 0.5499, 0.5501, -0.5501}) grid.push_back(v);
        const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops{
            {"tanh", [](const Tensor& t) { return t.tanh(); }},
            {"sigmoid", [](const Tensor& t) { return t.sigmoid(); }},
            {"silu", [](const Tensor& t) { return t.silu(); }}};
        for (const auto& [name_entry, op] : ops) {
            const auto& name = name_entry;   // clang 14 cannot capture structured bindings
            CAPTURE(std::string(name));
            const auto [v32, v64, g32, g64] = run_in_both(op, grid);
            for (std::size_t i = 0; i < grid.size(); ++i) {
                CAPTURE(grid[i]);
                // A few float32 ulps of the result (where sigmoid falls below the float range:
                // within 1e-38, times |x| for SiLU). The
                // gradients of tanh and sigmoid come from the float32 output (1 - y^2, y (1 - y)),
                // so near saturation they are quantised to float32's spacing just below 1.
                CHECK(std::abs(v32[i] - v64[i]) <= 4e-7 * std::abs(v64[i]) + 1e-38 * (1 + std::abs(grid[i])));
                CHECK(std::abs(g32[i] - g64[i]) <= 1e-6 * std::abs(g64[i]) + 2.5e-7);
            }
        }
        // PyTorch 1.13 at the edges (measured): tanh(±inf) = ±1, tanh(-0.0) = -0.0, sigmoid(-inf) = 0,
        // silu(-inf) = NaN, silu(-100) = -0.0; NaN passes through.
        const float inf = std::numeric_limits<float>::infinity();
        const Tensor edges = tensor(std::vector<float>{-inf, inf, NAN, -0.0f, -100.0f}, {5});
        const std::vector<float> t = edges.tanh().to_vector<float>(), s = edges.sigmoid().to_vector<float>(), u = edges.silu().to_vector<float>();
        CHECK(t[0] == -1.0f);
        CHECK(t[1] == 1.0f);
        CHECK(std::isnan(t[2]));
        CHECK((t[3] == 0.0f && std::signbit(t[3])));
        CHECK(s[0] == 0.0f);
        CHECK(s[1] == 1.0f);
        CHECK(std::isnan(s[2]));
        CHECK(s[3] == 0.5f);
        CHECK(std::isnan(u[0]));
        CHECK(u[1] == inf);
        CHECK(std::isnan(u[2]));
        CHECK((u[4] == 0.0f && std::signbit(u[4])));
    }

    TEST_CASE("float32 GELU (both forms) follows the float64 formulas in value and gradient, and PyTorch at infinities and NaN") {
        // A dense grid over the range where GELU bends, plus the tails; float64 runs the libm
        // formulas that the float64 fixtures check against PyTorch.
        std::vector<double> grid;
        for (int i = -3000; i <= 3000; ++i) grid.push_back(i * 0.004);
        for (double v : {-80.0, -30.0, -9.5, 9.5, 30.0, 80.0, 1e-30, -1e-30, 0.0}) grid.push_back(v);
        for (const bool tanh_form : {false, true}) {
            CAPTURE(tanh_form);
            // Values: a few float32 ulps of the result, or 2e-7 of |x| where 1 + erf cancels
            // (x far below zero, the error PyTorch's vectorised float erf has too).
            const auto [v32, v64, g32, g64] = run_in_both([&](const Tensor& t) { return t.gelu(tanh_form); }, grid);
            for (std::size_t i = 0; i < grid.size(); ++i) {
                CAPTURE(grid[i]);
                CHECK(std::abs(v32[i] - v64[i]) <= 5e-7 * std::abs(v64[i]) + 2e-7 * std::abs(grid[i]) + 1e-30);
                CHECK(std::abs(g32[i] - g64[i]) <= 1e-6 * (1 + std::abs(grid[i])));
            }
            const float inf = std::numeric_limits<float>::infinity();
            const std::vector<float> special = tensor(std::vector<float>{-inf, inf, NAN}, {3}).gelu(tanh_form).to_vector<float>();
            CHECK(std::isnan(special[0]));
            CHECK(special[1] == inf);
            CHECK(std::isnan(special[2]));
        }
    }
}
