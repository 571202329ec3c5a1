// Float32 optimizers against PyTorch 1.13 float32 (tests/fixtures/optim.json, from
// tools/fixtures/gen_optim.py): scalar constants such as 1 - beta2 are computed in double and
// rounded once, as PyTorch does, so beta/alpha/rho up to 0.99999 stay within 1e-6 of PyTorch
// at every step. Also PyTorch's argument checks on every constructor path.
#include "optim_cases.hpp"
#include "test_support.hpp"

#include <lazynn/optim/optimizers.hpp>

#include <functional>
#include <map>

using namespace lazynn;
using namespace lazynn::optim;
using lazynn::testing::fixture_tensor;

namespace {

using lazynn::testing::Factory;
using lazynn::testing::float32_optimizers;

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
            FAIL_CHECK("element " << i << ": got " << a[i] << ", PyTorch " << e[i] << " (relative "
                                  << std::abs(a[i] - e[i]) / std::abs(e[i]) << ")");
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

namespace {

/// The ways options reach an optimizer: the flat constructor, a group's options, the group
/// constructor's defaults, and add_param_group.
struct ArgumentCase {
    std::vector<std::pair<const char*, std::function<void()>>> paths;
};

template <class Opt, class Options>
ArgumentCase paths(Options bad, Options good = Options()) {
    using Groups = std::vector<typename Opt::ParamGroup>;
    const auto params = [] { return std::vector<Parameter>{Parameter(zeros({1}))}; };
    return {{{"flat constructor", [=] { Opt opt(params(), bad); }},
             {"group options",
              [=] {
                  Opt opt(Groups{{params(), bad}}, good);
              }},
             {"group constructor defaults",
              [=] {
                  Opt opt(Groups{{params(), good}}, bad);
              }},
             {"add_param_group", [=] {
                  Opt opt(params(), good);
                  opt.add_param_group({params(), bad});
              }}}};
}

const std::map<std::string, ArgumentCase>& argument_cases() {
    static const std::map<std::string, ArgumentCase> table = {
        {"sgd_lr", paths<SGD>(SGDOptions(-1.0))},
        {"sgd_momentum", paths<SGD>(SGDOptions(0.1).momentum(-0.5))},
        {"sgd_weight_decay", paths<SGD>(SGDOptions(0.1).weight_decay(-1e-08))},
        {"sgd_nesterov_no_momentum", paths<SGD>(SGDOptions(0.1).nesterov(true))},
        {"sgd_nesterov_dampening", paths<SGD>(SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true))},
        {"adam_lr", paths<Adam>(AdamOptions(-0.001))},
        {"adam_eps", paths<Adam>(AdamOptions().eps(-1.0))},
        {"adam_beta0", paths<Adam>(AdamOptions().betas(1.0, 0.999))},
        {"adam_beta1", paths<Adam>(AdamOptions().betas(0.9, 1.5))},
        {"adam_weight_decay", paths<Adam>(AdamOptions().weight_decay(-0.25))},
        {"adamw_beta1", paths<AdamW, AdamOptions>(AdamWOptions().betas(0.9, -0.5), AdamWOptions())},
        {"adamax_eps", paths<Adamax>(AdamaxOptions().eps(-0.125))},
        {"nadam_momentum_decay", paths<NAdam>(NAdamOptions().momentum_decay(-0.004))},
        {"radam_beta0", paths<RAdam>(RAdamOptions().betas(-0.1, 0.999))},
        {"rmsprop_alpha", paths<RMSprop>(RMSpropOptions().alpha(-0.5))},
        {"rmsprop_momentum", paths<RMSprop>(RMSpropOptions().momentum(-1.0))},
        {"adagrad_lr_decay", paths<Adagrad>(AdagradOptions().lr_decay(-0.5))},
        {"adagrad_initial_accumulator_value", paths<Adagrad>(AdagradOptions().initial_accumulator_value(-1.0))},
        {"adadelta_rho", paths<Adadelta>(AdadeltaOptions().rho(1.5))},
        {"adadelta_lr", paths<Adadelta>(AdadeltaOptions(-2.0))},
        {"rprop_lr", paths<Rprop>(RpropOptions(-0.5))},
        {"rprop_etas", paths<Rprop>(RpropOptions().etas(1.5, 1.2))},
        {"asgd_lr", paths<ASGD>(ASGDOptions(-0.1))},
        {"asgd_weight_decay", paths<ASGD>(ASGDOptions().weight_decay(-0.5))},
    };
    return table;
}

/// A layer declared without (this, "name") is not registered: its module has no parameters.
struct Unregistered : Module {
    nn::Linear fc{4, 1};
    Tensor forward(const Tensor& x) override { return fc(x); }
};

}  // namespace

TEST_SUITE("optimizer argument checks") {
    TEST_CASE(
        "bad arguments raise ValueError with PyTorch's message on every constructor path and in add_param_group") {
        const auto fixture = lazynn::testing::load_fixture("optim.json");
        const auto& messages = fixture.at("invalid_arguments");
        CHECK(messages.size() == argument_cases().size() + 1);  // + "empty", below
        for (const auto& [name_entry, c] : argument_cases()) {
            const auto& name = name_entry;
            CAPTURE(name);
            const std::string pytorch = messages.at(name).get<std::string>();
            for (const auto& [path_entry, build] : c.paths) {
                const std::string path = path_entry;
                CAPTURE(path);
                try {
                    build();
                    FAIL_CHECK("accepted");
                } catch (const ValueError& e) {
                    // PyTorch's text first; then which optimizer and what it accepts.
                    CHECK_MESSAGE(std::string(e.what()).rfind(pytorch, 0) == 0, e.what());
                }
            }
        }
    }

    TEST_CASE("the messages name the optimizer and the accepted range; NaN is refused") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(AdamW({Parameter(zeros({1}))}, AdamWOptions().betas(0.9, 1.0)), ValueError,
                                        "Invalid beta parameter at index 1: 1.0 (AdamW expects 0 <= beta < 1)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(SGD({Parameter(zeros({1}))}, SGDOptions(std::nan(""))), ValueError,
                                        "Invalid learning rate: nan (SGD");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(RMSprop({Parameter(zeros({1}))}, RMSpropOptions().eps(-1e-8)), ValueError,
                                        "Invalid epsilon value: -1e-08 (RMSprop expects eps >= 0)");
    }

    TEST_CASE("an empty parameter list raises ValueError, e.g. for a layer declared without (this, name)") {
        const auto fixture = lazynn::testing::load_fixture("optim.json");
        const std::string pytorch = fixture.at("invalid_arguments").at("empty").get<std::string>();
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(SGD(std::vector<Parameter>{}, SGDOptions(0.1)), ValueError, pytorch);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Adam(std::vector<Adam::ParamGroup>{}, AdamOptions()), ValueError, pytorch);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(AdamW(std::vector<Parameter>{}), ValueError, pytorch + " (AdamW");
        Unregistered model;
        CHECK(model.parameters().empty());
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Adam(model.parameters(), AdamOptions()), ValueError,
                                        "without (this, \"name\")");
        // An empty group added later is allowed, as in PyTorch.
        SGD sgd({Parameter(zeros({1}))}, SGDOptions(0.1));
        CHECK_NOTHROW(sgd.add_param_group({{}, SGDOptions(0.2)}));
        CHECK(sgd.num_param_groups() == 2);
    }

    TEST_CASE("a rejected group leaves the optimizer unchanged") {
        SGD sgd({Parameter(zeros({1}))}, SGDOptions(0.1));
        CHECK_THROWS_AS(sgd.add_param_group({{Parameter(zeros({1}))}, SGDOptions(-0.1)}), ValueError);
        CHECK(sgd.num_param_groups() == 1);
    }
}
