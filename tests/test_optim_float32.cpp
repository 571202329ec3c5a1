// Float32 optimizers against PyTorch 1.13 float32 (tests/fixtures/optim.json, from
// tools/fixtures/gen_optim.py): scalar constants such as 1 - beta2 are computed in double and
// rounded once, as PyTorch does, so beta/alpha/rho up to 0.99999 stay within 1e-6 of PyTorch
// at every step. Also PyTorch's argument checks on every constructor path.
#include "test_support.hpp"

#include <lazynn/optim/optimizers.hpp>

#include <functional>
#include <map>

using namespace lazynn;
using namespace lazynn::optim;
using lazynn::testing::fixture_tensor;

namespace {

using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<Parameter>)>;
constexpr double kHigh = 0.99999;

const std::map<std::string, Factory>& float32_optimizers() {
    static const std::map<std::string, Factory> table = {
        {"sgd_momentum_high", [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.05).momentum(kHigh).dampening(kHigh)); }},
        {"sgd_nesterov_high",
         [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.05).momentum(kHigh).nesterov(true).weight_decay(0.01)); }},
        {"adam_default", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1)); }},
        {"adam_beta2_9999", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1).betas(0.9, 0.9999)); }},
        {"adam_betas_high", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1).betas(kHigh, kHigh)); }},
        {"adam_amsgrad_high",
         [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1).betas(0.9, kHigh).amsgrad(true).weight_decay(0.1)); }},
        {"adamw_high", [](auto p) { return std::make_unique<AdamW>(p, AdamWOptions(0.1).betas(kHigh, kHigh).weight_decay(0.5)); }},
        {"adamax_high", [](auto p) { return std::make_unique<Adamax>(p, AdamaxOptions(0.1).betas(kHigh, kHigh).weight_decay(0.05)); }},
        {"nadam_high", [](auto p) { return std::make_unique<NAdam>(p, NAdamOptions(0.1).betas(kHigh, kHigh)); }},
        {"nadam_beta2_high", [](auto p) { return std::make_unique<NAdam>(p, NAdamOptions(0.1).betas(0.9, kHigh).weight_decay(0.05)); }},
        {"radam_high", [](auto p) { return std::make_unique<RAdam>(p, RAdamOptions(0.1).betas(kHigh, kHigh)); }},
        {"radam_beta2_high", [](auto p) { return std::make_unique<RAdam>(p, RAdamOptions(0.1).betas(0.9, kHigh).weight_decay(0.05)); }},
        {"radam_rectified", [](auto p) { return std::make_unique<RAdam>(p, RAdamOptions(0.1).betas(0.9, 0.9)); }},
        {"rmsprop_alpha_high", [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions(0.01).alpha(kHigh)); }},
        {"rmsprop_centered_momentum_high",
         [](auto p) {
             return std::make_unique<RMSprop>(p, RMSpropOptions(0.01).alpha(kHigh).momentum(kHigh).centered(true).weight_decay(0.1));
         }},
        {"adagrad",
         [](auto p) { return std::make_unique<Adagrad>(p, AdagradOptions(0.1).lr_decay(0.01).initial_accumulator_value(0.1).weight_decay(0.05)); }},
        {"adadelta_rho_high", [](auto p) { return std::make_unique<Adadelta>(p, AdadeltaOptions(1.0).rho(kHigh).weight_decay(0.05)); }},
    };
    return table;
}

const std::map<std::string, Factory>& unit_gradient_cases() {
    static const std::map<std::string, Factory> table = {
        {"adam_beta2_9999", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1).betas(0.9, 0.9999)); }},
        {"adam_beta2_99999", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1).betas(0.9, 0.99999)); }},
        {"adam_default", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1)); }},
        {"adamw_beta2_9999", [](auto p) { return std::make_unique<AdamW>(p, AdamWOptions(0.1).betas(0.9, 0.9999)); }},
        {"nadam_beta2_9999", [](auto p) { return std::make_unique<NAdam>(p, NAdamOptions(0.1).betas(0.9, 0.9999)); }},
        {"rmsprop_alpha_9999", [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions(0.1).alpha(0.9999)); }},
    };
    return table;
}

/// |actual - expected| <= 1e-6 |expected| for every element (the fixture keeps parameters away from 0).
void check_relative(const Tensor& actual, const Tensor& expected, double rtol) {
    const std::vector<double> a = actual.to_vector<double>();
    const std::vector<double> e = expected.to_vector<double>();
    REQUIRE(a.size() == e.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!(std::abs(a[i] - e[i]) <= rtol * std::abs(e[i]))) {
            FAIL_CHECK("element " << i << ": got " << a[i] << ", PyTorch " << e[i] << " (relative " << std::abs(a[i] - e[i]) / std::abs(e[i])
                                  << ")");
            return;
        }
    }
}

}  // namespace

TEST_SUITE("float32 optimizers vs PyTorch float32") {
    TEST_CASE("one step from a unit gradient (issue 13's report) matches PyTorch to 1e-6") {
        const auto fixture = lazynn::testing::load_fixture("optim.json");
        CHECK(fixture.at("unit_gradient").size() == unit_gradient_cases().size());
        for (const auto& [name_entry, make] : unit_gradient_cases()) {
            const auto& name = name_entry;
            CAPTURE(name);
            Parameter p(zeros({1}, kFloat32));
            auto opt = make({p});
            p.set_grad(ones({1}, kFloat32));
            opt->step();
            const double expected = fixture.at("unit_gradient").at(name).get<double>();
            CHECK(std::abs(p.item<float>() - expected) <= 1e-6 * std::abs(expected));
        }
    }

    TEST_CASE("eight-step trajectories with beta, alpha and rho up to 0.99999 match PyTorch to 1e-6 relative") {
        const auto fixture = lazynn::testing::load_fixture("optim.json");
        const auto& problem = fixture.at("float32_problem");
        const Tensor t = fixture_tensor(problem.at("t"), kFloat32);
        const Tensor w = fixture_tensor(problem.at("w"), kFloat32);
        CHECK(fixture.at("float32_optimizers").size() == float32_optimizers().size());
        for (const auto& [name_entry, make] : float32_optimizers()) {
            const auto& name = name_entry;
            CAPTURE(name);
            Parameter p(fixture_tensor(problem.at("p0"), kFloat32));
            auto opt = make({p});
            const auto& trajectory = fixture.at("float32_optimizers").at(name);
            for (std::size_t step = 0; step < trajectory.size(); ++step) {
                CAPTURE(step);
                opt->zero_grad();
                ((w * (p - t).pow(2)).sum() + p.sin().sum()).backward();
                opt->step();
                REQUIRE(p.dtype() == kFloat32);
                check_relative(p, fixture_tensor(trajectory[step]), 1e-6);
            }
        }
    }
}
