// Optimizers on bfloat16 and float16 parameters against PyTorch 1.13 (tests/fixtures/optim_16bit.json,
// from tools/fixtures/gen_optim_16bit.py). The state stays in the parameter's dtype, as in PyTorch;
// lazynn's update computes in float32 and rounds each stored value once, which the fixture's
// "rounded_once" reference (PyTorch's float32 optimizer on the widened values) computes too.
// PyTorch's own 16-bit update rounds after every op, so it is matched within a few 16-bit steps.
#include "optim_cases.hpp"
#include "test_support.hpp"

#include <lazynn/optim/optimizers.hpp>

#include <cmath>
#include <string>
#include <vector>

using namespace lazynn;
using namespace lazynn::optim;
using lazynn::testing::fixture_tensor;
using lazynn::testing::float32_optimizers;

namespace {

Dtype dtype_of(const std::string& name) {
    REQUIRE_MESSAGE((name == "bfloat16" || name == "float16"), "unexpected fixture dtype " << name);
    return name == "bfloat16" ? kBFloat16 : kFloat16;
}

/// A fixture tensor {"shape", "dtype", "data"} of 16-bit values (exact in float64).
Tensor fixture_16bit(const nlohmann::json& entry) {
    return fixture_tensor(entry).to(dtype_of(entry.at("dtype").get<std::string>()));
}

/// The distance from actual to expected in steps of the 16-bit dtype at the larger magnitude.
double steps_apart(double actual, double expected, Dtype dtype) {
    const int mantissa_bits = dtype == kBFloat16 ? 7 : 10;
    const int min_exponent = dtype == kBFloat16 ? -126 : -14;  // spacing is fixed below the smallest normal
    const double magnitude = std::max(std::abs(actual), std::abs(expected));
    const int exponent = magnitude > 0 ? std::max(std::ilogb(magnitude), min_exponent) : min_exponent;
    return std::abs(actual - expected) / std::ldexp(1.0, exponent - mantissa_bits);
}

void check_within_steps(const Tensor& actual, const Tensor& expected, double max_steps) {
    REQUIRE(dtype_name(actual.dtype()) == dtype_name(expected.dtype()));
    REQUIRE(actual.shape() == expected.shape());
    const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double steps = steps_apart(a[i], e[i], actual.dtype());
        if (!(steps <= max_steps)) {
            FAIL_CHECK("element " << i << ": got " << a[i] << ", expected " << e[i] << " (" << steps << " "
                                  << dtype_name(actual.dtype()) << " steps apart, at most " << max_steps << ")");
            return;
        }
    }
}

/// gen_optim_16bit.py's gradient: 2 w (p - t) + cos(p) in float64 from the 16-bit parameter,
/// rounded to the parameter's dtype through float32.
Tensor problem_gradient(const Tensor& p, const Tensor& w, const Tensor& t) {
    const Tensor x = p.detach().to(kFloat64);
    return (2.0 * w * (x - t) + x.cos()).to(kFloat32).to(p.dtype());
}

}  // namespace

TEST_SUITE("optimizers on 16-bit parameters vs PyTorch") {
    TEST_CASE("every optimizer keeps a bfloat16 parameter and its state in bfloat16, rounding each value once") {
        const auto fixture = lazynn::testing::load_fixture("optim_16bit.json");
        const Tensor w = fixture_tensor(fixture.at("w"));
        const Tensor t = fixture_tensor(fixture.at("t"));
        CHECK(fixture.at("cases").size() == float32_optimizers().size() + 1);  // + float16 Adam
        for (const auto& [case_name, c] : fixture.at("cases").items()) {
            const std::string& name = case_name;  // clang 14 cannot capture a structured binding
            CAPTURE(name);
            const Dtype dtype = dtype_of(c.at("dtype").get<std::string>());
            Parameter p(fixture_tensor(fixture.at("p0")).to(dtype));
            auto opt = float32_optimizers().at(c.at("optimizer").get<std::string>())({p});
            const bool has_torch_16bit = !c.at("torch_16bit").is_null();
            for (std::size_t step = 0; step < c.at("rounded_once").size(); ++step) {
                CAPTURE(step);
                p.set_grad(problem_gradient(p, w, t));
                opt->step();
                REQUIRE(p.dtype() == dtype);
                check_within_steps(p, fixture_16bit(c.at("rounded_once")[step]), 1.0);
                if (has_torch_16bit) check_within_steps(p, fixture_16bit(c.at("torch_16bit")[step]), 3.0);
            }
            const StateDict state = opt->state_dict();
            for (const auto& [key_entry, expected] : c.at("rounded_once_state").items()) {
                const std::string& key = key_entry;
                CAPTURE(key);
                REQUIRE(state.contains("state.0." + key));
                const Tensor& held = state.at("state.0." + key);
                CHECK(held.dtype() == dtype);
                check_within_steps(held, fixture_16bit(expected), 1.0);
                if (has_torch_16bit) check_within_steps(held, fixture_16bit(c.at("torch_16bit_state").at(key)), 6.0);
            }
        }
    }

    TEST_CASE("a bfloat16 optimizer's state_dict loads into a new optimizer, which continues identically") {
        const Tensor target = tensor({0.5, -1.5, 2.0, 0.25}, kFloat64);
        auto gradient = [&](const Parameter& p) { return (p.detach().to(kFloat64) - target).to(kBFloat16); };
        Parameter a(full({4}, 1.0, kBFloat16));
        AdamW first({a}, AdamWOptions(0.1).amsgrad(true));
        for (int i = 0; i < 3; ++i) {
            a.set_grad(gradient(a));
            first.step();
        }
        const StateDict sd = first.state_dict();
        CHECK(sd.at("state.0.exp_avg").dtype() == kBFloat16);
        Parameter b(a.detach().clone());
        AdamW second({b}, AdamWOptions(0.1));
        second.load_state_dict(sd);
        for (int i = 0; i < 3; ++i) {
            a.set_grad(gradient(a));
            first.step();
            b.set_grad(gradient(b));
            second.step();
        }
        CHECK(b.dtype() == kBFloat16);
        CHECK(equal(a, b));
    }

    TEST_CASE("a non-contiguous gradient on a bfloat16 parameter is read as its values") {
        manual_seed(21);
        const Tensor start = randn({3, 4}).to(kBFloat16);
        const Tensor grad = randn({4, 3}).to(kBFloat16).t();  // transposed: not contiguous
        REQUIRE_FALSE(grad.is_contiguous());
        Parameter a(start.clone()), b(start.clone());
        SGD first({a}, SGDOptions(0.5).momentum(0.9)), second({b}, SGDOptions(0.5).momentum(0.9));
        for (int i = 0; i < 2; ++i) {
            a.set_grad(grad);
            first.step();
            b.set_grad(grad.contiguous());
            second.step();
        }
        CHECK(a.dtype() == kBFloat16);
        CHECK(equal(a, b));
        CHECK_FALSE(equal(a, start));
    }

    TEST_CASE("a bfloat16 model trains: Module::to(kBFloat16), bfloat16 gradients, the optimizer steps them") {
        manual_seed(20);
        nn::Linear layer(3, 2);
        layer.to(kBFloat16);
        SGD opt(layer.parameters(), SGDOptions(0.1).momentum(0.9));
        const Tensor x = randn({8, 3}).to(kBFloat16);
        const Tensor before = layer.weight.detach().clone();
        double first_loss = 0, last_loss = 0;
        for (int i = 0; i < 5; ++i) {
            opt.zero_grad();
            const Tensor loss = layer(x).to(kFloat32).pow(2).mean();
            loss.backward();
            CHECK(layer.weight.grad().dtype() == kBFloat16);
            opt.step();
            (i == 0 ? first_loss : last_loss) = loss.item<double>();
        }
        CHECK(layer.weight.dtype() == kBFloat16);
        CHECK_FALSE(equal(layer.weight, before));
        CHECK(last_loss < first_loss);
    }
}
