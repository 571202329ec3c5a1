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
using lazynn::testing::check_same;
using lazynn::testing::fixture_tensor;
using lazynn::testing::typed_fixture_tensor;

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
        {"sum_dims_keepdim",
         [](const auto& x) {
             return x[0].sum({0, 2}, true);
         }},
        {"mean_all", [](const auto& x) { return x[0].mean(); }},
        {"mean_dim", [](const auto& x) { return x[0].mean({-1}); }},
        {"var_all", [](const auto& x) { return x[0].var(); }},
        {"var_dim_biased", [](const auto& x) { return x[0].var({1}, false); }},
        {"std_dim_keepdim", [](const auto& x) { return x[0].std({0}, true, true); }},
        {"max_all", [](const auto& x) { return x[0].max(); }},
        {"max_dim", [](const auto& x) { return x[0].max(1).values; }},
        {"min_dim_keepdim", [](const auto& x) { return x[0].min(1, true).values; }},
        {"logsumexp", [](const auto& x) { return x[0].logsumexp({1}); }},
        {"logsumexp_keepdim",
         [](const auto& x) {
             return x[0].logsumexp({0, 1}, true);
         }},
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
        {"reshape_transpose",
         [](const auto& x) {
             return x[0].transpose(0, 2).reshape({4, 6}) * 2;
         }},
        {"permute_contiguous",
         [](const auto& x) {
             return x[0].permute({2, 0, 1}).contiguous() * 3;
         }},
        {"slice_step", [](const auto& x) { return x[0].slice(0, 1, 6, 2) * 2; }},
        {"select", [](const auto& x) { return x[0].select(1, 2) * 2; }},
        {"narrow", [](const auto& x) { return x[0].narrow(1, 1, 2) * 2; }},
        {"expand",
         [](const auto& x) {
             return x[0].expand({2, 3, 4}) * 1.5;
         }},
        {"squeeze_unsqueeze", [](const auto& x) { return x[0].squeeze(1).unsqueeze(0) * 2; }},
        {"flatten", [](const auto& x) { return x[0].flatten(1) * 2; }},
        {"index_select",
         [](const auto& x) {
             return x[0].index_select(0, tensor(std::vector<std::int64_t>{4, 0, 4, 2}, {4}));
         }},
        {"cat",
         [](const auto& x) {
             return cat({x[0], x[1]}, 0);
         }},
        {"cat_dim1",
         [](const auto& x) {
             return cat({x[0], x[1]}, 1);
         }},
        {"stack",
         [](const auto& x) {
             return stack({x[0], x[1]}, 1);
         }},
        {"composite_mlp", [](const auto& x) { return (x[0].matmul(x[1].t()) + x[2]).tanh().pow(2).mean({0}); }},
        {"log1p", [](const auto& x) { return x[0].log1p(); }},
        {"expm1", [](const auto& x) { return x[0].expm1(); }},
        {"tan", [](const auto& x) { return x[0].tan(); }},
        {"erf", [](const auto& x) { return x[0].erf(); }},
        {"sign", [](const auto& x) { return x[0].sign() * x[0]; }},
        {"floor", [](const auto& x) { return x[0].floor() + x[0]; }},
        {"ceil", [](const auto& x) { return x[0].ceil() + x[0]; }},
        {"round", [](const auto& x) { return x[0].round() + x[0]; }},
        {"trunc", [](const auto& x) { return x[0].trunc() + x[0]; }},
        {"reciprocal", [](const auto& x) { return x[0].reciprocal(); }},
        {"fmod", [](const auto& x) { return fmod(x[0], x[1]); }},
        {"fmod_scalar", [](const auto& x) { return x[0].fmod(1.5); }},
        {"remainder", [](const auto& x) { return remainder(x[0], x[1]); }},
        {"remainder_scalar", [](const auto& x) { return x[0].remainder(-1.5); }},
        {"atan2", [](const auto& x) { return atan2(x[0], x[1]); }},
        {"prod_all", [](const auto& x) { return x[0].prod(); }},
        {"prod_dim", [](const auto& x) { return x[0].prod(1); }},
        {"prod_dim_keepdim_with_zero", [](const auto& x) { return x[0].prod(0, true); }},
        {"prod_all_with_zero", [](const auto& x) { return x[0].prod(); }},
        {"cumsum", [](const auto& x) { return x[0].cumsum(1); }},
        {"cumsum_dim0_transposed", [](const auto& x) { return x[0].t().cumsum(-1); }},
        {"flip",
         [](const auto& x) {
             return x[0].flip({0, 2});
         }},
        {"tril", [](const auto& x) { return x[0].tril(1); }},
        {"triu_batched", [](const auto& x) { return x[0].triu(-1); }},
        {"masked_fill", [](const auto& x) { return x[0].masked_fill(x[0] > 0.0, 2.5); }},
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
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
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
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
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
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
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
    return {y32.to_vector<double>(), y64.to_vector<double>(), x32.grad().to_vector<double>(),
            x64.grad().to_vector<double>()};
}

}  // namespace

TEST_SUITE("vectorised float32 kernels") {
    TEST_CASE("softmax and log_softmax on tensors split over threads follow float64, along every dim") {
        // Lanes of 33, 70 and 129 values (contiguous for the last dim: the SIMD exp with a partial
        // register; strided for the others), enough of them to run on every thread; one thread
        // gives the same values. A row of -inf gives NaN, as in PyTorch (0 / 0).
        manual_seed(40);
        const Tensor x = randn({33, 70, 129}, kFloat64) * 4.0;
        const int threads = get_num_threads();
        for (const bool log : {false, true}) {
            for (const std::int64_t dim : {0, 1, 2}) {
                CAPTURE(log);
                CAPTURE(dim);
                const auto op = [&](const Tensor& t) { return log ? t.log_softmax(dim) : t.softmax(dim); };
                set_num_threads(2);
                const Tensor y32 = op(x.to(kFloat32)), y64 = op(x);
                set_num_threads(1);
                const Tensor serial = op(x.to(kFloat32));
                set_num_threads(threads);
                check_close(y32, y64, 1e-5, log ? 1e-5 : 1e-7);
                CHECK(equal(serial, y32));
            }
        }
        const double inf = std::numeric_limits<double>::infinity();
        const Tensor rows = tensor(std::vector<double>{-inf, -inf, -inf, 1.0, -inf, 2.0}, {2, 3});
        const std::vector<double> y = rows.softmax(1).to_vector<double>();
        CHECK(std::isnan(y[0]));
        CHECK(y[3] == doctest::Approx(1.0 / (1.0 + std::exp(1.0))));
        CHECK(y[4] == 0.0);
        CHECK(y[5] == doctest::Approx(std::exp(1.0) / (1.0 + std::exp(1.0))));
    }

    TEST_CASE(
        "float32 tanh, sigmoid and SiLU follow the float64 libm results in value and gradient, and PyTorch at the "
        "edges") {
        std::vector<double> grid;
        for (int i = -4000; i <= 4000; ++i) grid.push_back(i * 0.005);
        for (double v :
             {-100.0, -88.5, -87.5, -50.0, -9.0, 9.0, 50.0, 100.0, 1e-30, -1e-30, 1e-6, -1e-6, 0.5499, 0.5501, -0.5501})
            grid.push_back(v);
        const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops{
            {"tanh", [](const Tensor& t) { return t.tanh(); }},
            {"sigmoid", [](const Tensor& t) { return t.sigmoid(); }},
            {"silu", [](const Tensor& t) { return t.silu(); }}};
        for (const auto& [name_entry, op] : ops) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
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
        const std::vector<float> t = edges.tanh().to_vector<float>(), s = edges.sigmoid().to_vector<float>(),
                                 u = edges.silu().to_vector<float>();
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

    TEST_CASE(
        "float32 GELU (both forms) follows the float64 formulas in value and gradient, and PyTorch at infinities and "
        "NaN") {
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
            const std::vector<float> special =
                tensor(std::vector<float>{-inf, inf, NAN}, {3}).gelu(tanh_form).to_vector<float>();
            CHECK(std::isnan(special[0]));
            CHECK(special[1] == inf);
            CHECK(std::isnan(special[2]));
        }
    }
}

namespace {

/// Edge cases of issue 21 (tests/fixtures/tensor_ops_edge.json, tools/fixtures/gen_tensor_edge_cases.py):
/// each case returns its outputs (values, then indices for max/min over a dim).
using MultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

struct EdgeCase {
    MultiFn fn;
    bool signed_zeros = false;  // -0.0 and 0.0 must be told apart
};

MultiFn one(Fn fn) {
    return [fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x)}; };
}

MultiFn both(std::function<ValuesIndices(const std::vector<Tensor>&)> fn) {
    return [fn](const std::vector<Tensor>& x) {
        const ValuesIndices r = fn(x);
        return std::vector<Tensor>{r.values, r.indices};
    };
}

const std::map<std::string, EdgeCase>& edge_cases() {
    static const std::map<std::string, EdgeCase> table = {
        {"sum_0dim_dim0", {one([](const auto& x) { return x[0].sum({0}); })}},
        {"sum_0dim_neg_keepdim", {one([](const auto& x) { return x[0].sum({-1}, true); })}},
        {"mean_0dim_dim0", {one([](const auto& x) { return x[0].mean({0}); })}},
        {"logsumexp_0dim", {one([](const auto& x) { return x[0].logsumexp({0}); })}},
        {"max_0dim_dim0", {both([](const auto& x) { return x[0].max(0); })}},
        {"argmax_0dim_dim0", {one([](const auto& x) { return x[0].argmax(0); })}},
        {"clamp_min_int64", {one([](const auto& x) { return x[0].clamp_min(0); })}},
        {"clamp_max_int64", {one([](const auto& x) { return x[0].clamp_max(1); })}},
        {"clamp_int64", {one([](const auto& x) { return x[0].clamp(-1, 4); })}},
        {"clamp_min_int64_fractional", {one([](const auto& x) { return x[0].clamp_min(0.5); })}},
        {"maximum_nan", {one([](const auto& x) { return maximum(x[0], x[1]); })}},
        {"minimum_nan", {one([](const auto& x) { return minimum(x[0], x[1]); })}},
        {"max_all_nan", {one([](const auto& x) { return x[0].max(); })}},
        {"min_all_nan", {one([](const auto& x) { return x[0].min(); })}},
        {"max_all_two_nans", {one([](const auto& x) { return x[0].max(); })}},
        {"max_dim_nan", {both([](const auto& x) { return x[0].max(1); })}},
        {"promote_0dim_f64_plus_f32", {one([](const auto& x) { return x[0] + x[1]; })}},
        {"promote_f32_times_0dim_f64", {one([](const auto& x) { return x[0] * x[1]; })}},
        {"promote_int64_plus_0dim_f64", {one([](const auto& x) { return x[0] + x[1]; })}},
        {"promote_int64_plus_0dim_f32", {one([](const auto& x) { return x[0] + x[1]; })}},
        {"promote_f32_plus_0dim_int64", {one([](const auto& x) { return x[0] + x[1]; })}},
        {"promote_both_0dim", {one([](const auto& x) { return x[0] * x[1]; })}},
        {"promote_maximum_0dim", {one([](const auto& x) { return maximum(x[0], x[1]); })}},
        {"where_cond_f64_keeps_f32", {one([](const auto& x) { return where(x[0] > 0.0, x[1], x[2]); })}},
        {"where_mixed_values", {one([](const auto& x) { return where(x[0] > 0.0, x[1], x[2]); })}},
        {"max_dim_size0", {both([](const auto& x) { return x[0].max(1); })}},
        {"min_dim_size0", {both([](const auto& x) { return x[0].min(1); })}},
        {"argmax_dim_size0", {one([](const auto& x) { return x[0].argmax(1); })}},
        {"argmin_dim_size0", {one([](const auto& x) { return x[0].argmin(1); })}},
        {"view_split_transposed_dim0", {one([](const auto& x) {
             return x[0].t().view({2, 3, 4}) * 2;
         })}},
        {"view_split_transposed_dim1", {one([](const auto& x) {
             return x[0].t().view({6, 2, 2}) * 2;
         })}},
        {"view_merge_size1_transposed", {one([](const auto& x) { return x[0].t().view({6}) * 2; })}},
        {"clamp_min_above_max", {one([](const auto& x) { return x[0].clamp(0.7, -0.5); })}},
        {"pow_half_at_neg_zero", {one([](const auto& x) { return x[0].pow(0.5); }), true}},
        {"pow_neg_half_at_neg_zero", {one([](const auto& x) { return x[0].pow(-0.5); }), true}},
        {"pow_three_halves_at_neg_zero", {one([](const auto& x) { return x[0].pow(1.5); }), true}},
        {"std_constant", {one([](const auto& x) { return x[0].std(); })}},
        {"std_dim_constant_row", {one([](const auto& x) { return x[0].std({1}); })}},
        // The API trap: a one-element initializer list is a dim list, never the bool `unbiased`.
        {"var_dims_default", {one([](const auto& x) { return x[0].var({1}); })}},
        {"matmul_batched_size0_rows", {one([](const auto& x) {
             return (x[0].transpose(0, 1) * 0.5).matmul(x[1].transpose(0, 1).transpose(1, 2));
         })}},
        {"matmul_batched_size0_inner", {one([](const auto& x) { return x[0].matmul(x[1]); })}},
        {"std_dims_default", {one([](const auto& x) { return x[0].std({1}); })}},
        {"var_dims_correction0", {one([](const auto& x) { return x[0].var({1}, 0); })}},
        {"var_dims_correction2_keepdim", {one([](const auto& x) { return x[0].var({1}, 2, true); })}},
    };
    return table;
}

}  // namespace

TEST_SUITE("tensor edge cases vs PyTorch (issue 21)") {
    TEST_CASE("every edge fixture case has an implementation and vice versa") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops_edge.json");
        CHECK(fixture.at("cases").size() == edge_cases().size());
        for (const auto& entry : edge_cases()) {
            const auto& name = entry.first;  // named: clang 14 cannot capture a structured binding
            CHECK_MESSAGE(fixture.at("cases").contains(name), name);
        }
    }

    TEST_CASE("values, dtypes and gradients match PyTorch, in the fixture's dtypes") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops_edge.json");
        for (const auto& [name_, edge] : edge_cases()) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            const bool differentiable = c.at("differentiable").get<bool>();
            std::vector<Tensor> inputs;
            for (const auto& in : c.at("inputs")) {
                Tensor t = typed_fixture_tensor(in);
                if (differentiable && t.is_floating_point()) t.requires_grad_();
                inputs.push_back(t);
            }
            const std::vector<Tensor> outs = edge.fn(inputs);
            REQUIRE(outs.size() == c.at("outputs").size());
            for (std::size_t k = 0; k < outs.size(); ++k) {
                CAPTURE(k);
                const Tensor expected = typed_fixture_tensor(c.at("outputs")[k]);
                check_same(outs[k], expected, edge.signed_zeros, expected.dtype() == kFloat32 ? 1e-6 : 1e-12);
            }
            if (!differentiable) continue;
            (outs[0] * typed_fixture_tensor(c.at("weight"))).sum().backward();
            for (std::size_t k = 0; k < inputs.size(); ++k) {
                CAPTURE(k);
                if (c.at("grads")[k].is_null()) continue;
                REQUIRE(inputs[k].grad().defined());
                const Tensor expected = typed_fixture_tensor(c.at("grads")[k]);
                check_same(inputs[k].grad(), expected, edge.signed_zeros, expected.dtype() == kFloat32 ? 1e-6 : 1e-10);
            }
        }
    }

    TEST_CASE("the fixed ops pass gradcheck in float64 away from their kinks") {
        const Tensor x = tensor({{0.3, -1.2, 2.0, 0.7}, {1.1, 1.5, 0.8, 1.3}, {-0.4, 0.9, -2.2, 0.1}}, kFloat64);
        const std::vector<std::pair<const char*, Fn>> ops{
            {"std over a dim", [](const auto& v) { return v[0].std({1}); }},
            {"std over all", [](const auto& v) { return v[0].std(); }},
            {"var with correction 2", [](const auto& v) { return v[0].var({1}, 2, true); }},
            {"pow 0.5", [](const auto& v) { return (v[0] * v[0] + 0.1).pow(0.5); }},
            {"pow -0.5", [](const auto& v) { return (v[0] * v[0] + 0.1).pow(-0.5); }},
            {"clamp_min", [](const auto& v) { return v[0].clamp_min(0.5); }},
            {"clamp_max", [](const auto& v) { return v[0].clamp_max(0.5); }},
            {"maximum",
             [](const auto& v) {
                 return maximum(v[0], v[0].t().contiguous().view({3, 4}) * 0.9);
             }},
            {"where", [](const auto& v) { return where(v[0] > 0.0, v[0] * 2, v[0].exp()); }},
            {"view of a transpose",
             [](const auto& v) {
                 return v[0].t().view({2, 2, 3}) * v[0].t().view({2, 2, 3});
             }},
        };
        for (const auto& [name_, fn] : ops) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            CAPTURE(std::string(name));
            const auto result = autograd::gradcheck(fn, {x.clone().requires_grad_()});
            CHECK_MESSAGE(result.ok, result.message);
        }
    }

    TEST_CASE("an initializer list never binds to var/std's bool overload") {
        const Tensor x = tensor({{1.0, 2.0, 4.0}, {0.0, 3.0, 3.0}}, kFloat64);
        CHECK(x.var({1}).shape() == Shape{2});
        CHECK(x.std({0}).shape() == Shape{3});
        CHECK(x.var({}).shape() == Shape{});
        check_close(x.var(false), x.var({0, 1}, 0));
        check_close(x.std(true), x.std({0, 1}, 1));
        check_close(x.var({1}, false), x.var({1}, 0));  // a bool correction means unbiased or not
    }

    TEST_CASE("a 0-dim reduction's dim must still be in range") {
        const Tensor s = scalar_tensor(0.5);
        CHECK_THROWS_AS(s.sum({1}), IndexError);
        CHECK_THROWS_AS(s.logsumexp({-2}), IndexError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(zeros({3, 0}).max(1), IndexError,
                                        "Expected reduction dim 1 to have non-zero size");
    }
}

TEST_SUITE("new ops: dtypes and edge values (PyTorch 1.13, measured)") {
    TEST_CASE("int64 inputs keep int64 where PyTorch does, and become float32 where it does not") {
        const Tensor i = tensor({-3, 2, 5});
        for (const Tensor& t : {i.floor(), i.ceil(), i.round(), i.trunc(), i.sign(), i.fmod(2.0), i.remainder(2.0),
                                i.prod(), i.cumsum(0), i.flip({0}), i.masked_fill(i > 0.0, 2.5)}) {
            CHECK(t.dtype() == kInt64);
        }
        CHECK(i.masked_fill(i > 0.0, 2.5).to_vector<std::int64_t>() == std::vector<std::int64_t>{-3, 2, 2});
        for (const Tensor& t : {i.reciprocal(), i.log1p(), i.expm1(), i.tan(), i.erf(), atan2(i, i), i.fmod(1.5)}) {
            CHECK(t.dtype() == kFloat32);
        }
        CHECK(fmod(tensor({-3, 3}), tensor({2, -2})).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 1});
        CHECK(remainder(tensor({-3, 3}), tensor({2, -2})).to_vector<std::int64_t>() ==
              std::vector<std::int64_t>{1, -1});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(i.fmod(0.0), RuntimeError, "ZeroDivisionError");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(remainder(i, tensor({1, 0, 1})), RuntimeError, "ZeroDivisionError");
    }

    TEST_CASE("rounding, sign and modulus at their edge values") {
        CHECK(tensor({0.5, 1.5, 2.5, -0.5, -2.5}).round().to_vector<float>() == std::vector<float>{0, 2, 2, -0.0f, -2});
        const std::vector<float> s = tensor(std::vector<float>{NAN, -0.0f, 0.0f, 2, -3}, {5}).sign().to_vector<float>();
        CHECK(s == std::vector<float>{0, 0, 0, 1, -1});
        CHECK_FALSE(std::signbit(s[1]));
        const std::vector<float> r = tensor({-3.0, 3.0, -0.0}).remainder(2.0).to_vector<float>();
        CHECK(r == std::vector<float>{1, 1, 0});
        CHECK(std::signbit(r[2]));
        CHECK(std::isnan(tensor({3.0}).fmod(0.0).item<float>()));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ones({3}).tril(), ShapeError, "at least 2 dimensions");
        CHECK(zeros({0, 3}).cumsum(0).shape() == Shape{0, 3});
        CHECK(scalar_tensor(2.5).cumsum(0).item<float>() == 2.5f);
        CHECK(zeros({2, 0}).prod(1).to_vector<float>() == std::vector<float>{1, 1});
    }
}
