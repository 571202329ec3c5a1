// LBFGS (framework/src/optim/lbfgs.cpp): trajectories against PyTorch 1.13 in float64
// (tests/fixtures/lbfgs.json from tools/fixtures/gen_lbfgs.py), state_dict round trips, lazy
// parameters and errors.
#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

using namespace lazynn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

namespace {

const nlohmann::json& fixtures() {
    static const nlohmann::json all = lazynn::testing::load_fixture("lbfgs.json");
    return all;
}

/// The fixture's objective over `params`.
std::function<Tensor(const std::vector<Parameter>&)> objective(const std::string& name) {
    if (name == "rosenbrock") {
        return [](const std::vector<Parameter>& p) {
            const Tensor x = p[0].select(0, 0);
            const Tensor y = p[0].select(0, 1);
            return (1.0 - x).pow(2.0) + 100.0 * (y - x.pow(2.0)).pow(2.0);
        };
    }
    const auto& k = fixtures().at("quad_sin_constants");
    std::vector<Tensor> c{fixture_tensor(k.at("c")[0]), fixture_tensor(k.at("c")[1])};
    std::vector<Tensor> w{fixture_tensor(k.at("w")[0]), fixture_tensor(k.at("w")[1])};
    return [c, w](const std::vector<Parameter>& p) {
        Tensor total = zeros({}, kFloat64);
        for (std::size_t i = 0; i < p.size(); ++i)
            total = total + (w[i] * (p[i] - c[i]).pow(2.0)).sum() + (p[i] * 3.0).sin().sum();
        return total;
    };
}

std::vector<Parameter> start(const std::string& name) {
    if (name == "rosenbrock") return {Parameter(tensor(std::vector<double>{-1.5, 2.0}, {2}, kFloat64))};
    const auto& k = fixtures().at("quad_sin_constants");
    return {Parameter(fixture_tensor(k.at("p")[0])), Parameter(fixture_tensor(k.at("p")[1]))};
}

optim::LBFGSOptions options_of(const nlohmann::json& o) {
    optim::LBFGSOptions options(o.value("lr", 1.0));
    if (o.contains("max_iter")) options.max_iter(o.at("max_iter").get<std::int64_t>());
    if (o.contains("max_eval")) options.max_eval(o.at("max_eval").get<std::int64_t>());
    if (o.contains("history_size")) options.history_size(o.at("history_size").get<std::int64_t>());
    if (o.contains("tolerance_change")) options.tolerance_change(o.at("tolerance_change").get<double>());
    if (o.contains("line_search_fn")) options.line_search_fn(optim::LineSearch::StrongWolfe);
    return options;
}

}  // namespace

TEST_SUITE("LBFGS") {
    TEST_CASE("trajectories match PyTorch, with and without the strong-Wolfe line search") {
        for (const auto& item : fixtures().items()) {
            const std::string name = item.key();
            const auto& c = item.value();
            if (name == "quad_sin_constants" || name == "nonfinite") continue;
            CAPTURE(name);
            const std::string obj = c.at("objective");
            std::vector<Parameter> params = start(obj);
            const auto fn = objective(obj);
            optim::LBFGS opt(params, options_of(c.at("options")));
            int calls = 0;
            const auto closure = [&] {
                ++calls;
                opt.zero_grad();
                Tensor loss = fn(params);
                loss.backward();
                return loss;
            };
            for (const auto& s : c.at("steps")) {
                calls = 0;
                const Tensor loss = opt.step(closure);
                CHECK(loss.item<double>() == doctest::Approx(s.at("loss").get<double>()).epsilon(1e-8));
                CHECK(calls == s.at("closure_calls").get<int>());
                // Rosenbrock's valley multiplies rounding differences by about 300 per step of ten
                // iterations (1e-14, 3e-11, 9e-9); the evaluation counts above show the same path.
                for (std::size_t i = 0; i < params.size(); ++i)
                    check_close(params[i], fixture_tensor(s.at("params")[i]), 1e-6, 1e-8);
                CHECK(opt.state().func_evals == s.at("func_evals").get<double>());
                CHECK(opt.state().n_iter == s.at("n_iter").get<double>());
            }
            CHECK(opt.state().t == doctest::Approx(c.at("t").get<double>()).epsilon(1e-6));
            CHECK(opt.state().H_diag == doctest::Approx(c.at("H_diag").get<double>()).epsilon(1e-6));
            CHECK(opt.state().prev_loss == doctest::Approx(c.at("prev_loss").get<double>()).epsilon(1e-6));
            CHECK(opt.state().old_dirs.size() == c.at("history").get<std::size_t>());
        }
    }

    TEST_CASE("a closure returning NaN or inf: PyTorch's closure calls, counters and parameters, no hang") {
        const auto decode = [](const nlohmann::json& v) {
            if (!v.is_string()) return v.get<double>();
            const std::string s = v.get<std::string>();
            return s == "nan" ? std::nan("") : (s == "inf" ? 1.0 : -1.0) * std::numeric_limits<double>::infinity();
        };
        // Same value, NaN matching NaN; finite values to 1e-9 relative (pole's second line search
        // ends at 1e19).
        const auto same = [](double actual, double expected) {
            if (std::isnan(expected)) return std::isnan(actual);
            if (std::isinf(expected)) return actual == expected;
            return std::abs(actual - expected) <= 1e-9 * std::max(1.0, std::abs(expected));
        };
        const std::map<std::string, std::function<Tensor(const Tensor&)>> objectives{
            {"nan", [](const Tensor& x) { return (x - 1.0).pow(2.0).sum() * std::nan(""); }},
            {"inf", [](const Tensor& x) { return (x - 1.0).pow(2.0).sum() + std::numeric_limits<double>::infinity(); }},
            {"pole", [](const Tensor& x) { return (x - 1.0).pow(2.0).sum() + 1.0 / (x.select(0, 0) - 0.5); }},
        };
        for (const auto& item : fixtures().at("nonfinite").items()) {
            const std::string name = item.key();
            const auto& c = item.value();
            CAPTURE(name);
            Parameter p(tensor(std::vector<double>{0.5, -1.0, 2.0}, {3}, kFloat64));
            const auto& fn = objectives.at(c.at("objective").get<std::string>());
            optim::LBFGS opt({p}, options_of(c.at("options")));
            int calls = 0;
            const auto closure = [&] {
                ++calls;
                opt.zero_grad();
                Tensor loss = fn(p);
                loss.backward();
                return loss;
            };
            for (const auto& s : c.at("steps")) {
                calls = 0;
                const double loss = opt.step(closure).item<double>();
                CHECK_MESSAGE(same(loss, decode(s.at("loss"))), "loss " << loss);
                CHECK(calls == s.at("closure_calls").get<int>());
                CHECK(opt.state().func_evals == s.at("func_evals").get<double>());
                CHECK(opt.state().n_iter == s.at("n_iter").get<double>());
                const std::vector<double> got = p.to_vector<double>();
                for (std::size_t i = 0; i < got.size(); ++i) {
                    CAPTURE(i);
                    CHECK_MESSAGE(same(got[i], decode(s.at("params")[i])), "parameter " << got[i]);
                }
            }
        }
    }

    TEST_CASE("state_dict round trip: a loaded optimizer continues the same trajectory") {
        const auto& c = fixtures().at("rosenbrock_strong_wolfe_history3");
        const auto fn = objective("rosenbrock");
        std::vector<Parameter> a = start("rosenbrock");
        optim::LBFGS first(a, options_of(c.at("options")));
        const auto closure_of = [&](optim::LBFGS& opt, std::vector<Parameter>& p) {
            return [&] {
                opt.zero_grad();
                Tensor loss = fn(p);
                loss.backward();
                return loss;
            };
        };
        first.step(closure_of(first, a));
        const StateDict saved = first.state_dict();
        CHECK(saved.contains("state.0.old_dirs.2"));
        CHECK(!saved.contains("state.0.old_dirs.3"));

        std::vector<Parameter> b{Parameter(a[0].detach().clone())};
        optim::LBFGS second(b, optim::LBFGSOptions());
        second.load_state_dict(saved);
        CHECK(second.options().lr() == 1.0);
        CHECK(second.options().history_size() == 3);
        CHECK(second.options().max_iter() == 10);
        CHECK(second.options().line_search_fn() == optim::LineSearch::StrongWolfe);
        for (int i = 0; i < 2; ++i) {
            first.step(closure_of(first, a));
            second.step(closure_of(second, b));
        }
        check_close(b[0], a[0], 1e-12, 1e-14);
        check_close(a[0], fixture_tensor(c.at("steps")[2].at("params")[0]), 1e-6, 1e-8);

        StateDict bad = saved;
        bad.insert("state.0.d", zeros({3}, kFloat64));
        CHECK_THROWS_WITH_AS(second.load_state_dict(bad),
                             "LBFGS load_state_dict: 'state.0.d' must be a floating-point vector of the parameters' "
                             "total size [2], got float64 [3]",
                             ValueError);
        check_close(b[0], a[0], 1e-12, 1e-14);  // untouched by the failed load
    }

    TEST_CASE("lazy parameters: built before the first forward, materialised by the closure") {
        manual_seed(3);
        nn::LazyLinear fc(1);
        optim::LBFGS opt(fc.parameters(), optim::LBFGSOptions().line_search_fn(optim::LineSearch::StrongWolfe));
        const Tensor x = randn({16, 3});
        const Tensor y = x.matmul(tensor(std::vector<float>{1.0f, -2.0f, 0.5f}, {3, 1})) + 0.25f;
        const auto closure = [&] {
            opt.zero_grad();
            Tensor loss = (fc(x) - y).pow(2.0).mean();
            loss.backward();
            return loss;
        };
        const double first = opt.step(closure).item<double>();
        for (int i = 0; i < 3; ++i) opt.step(closure);
        CHECK(closure().item<double>() < 1e-6 * first);
        check_close(fc.weight, tensor(std::vector<float>{1.0f, -2.0f, 0.5f}, {1, 3}), 1e-3, 1e-3);
    }

    TEST_CASE("errors") {
        Parameter p(zeros({2}));
        CHECK_THROWS_AS(optim::LBFGS({}, optim::LBFGSOptions()), ValueError);
        CHECK_THROWS_WITH_AS(optim::LBFGS({p}, optim::LBFGSOptions().history_size(0)),
                             "LBFGS: history_size must be at least 1, got 0", ValueError);
        CHECK_THROWS_WITH_AS(optim::LBFGS({p}, optim::LBFGSOptions().max_iter(0)),
                             "LBFGS: max_iter must be at least 1, got 0", ValueError);
        CHECK_THROWS_AS(optim::LBFGS({p, p}, optim::LBFGSOptions()), ValueError);
        optim::LBFGS opt({p});
        CHECK_THROWS_AS(opt.step(), RuntimeError);
        CHECK_THROWS_WITH_AS(opt.step([&] { return p * 2.0; }),
                             "LBFGS: the closure must return the loss, a tensor of one element; got shape [2]",
                             ValueError);
        // At an optimum the first evaluation ends the step, as in PyTorch.
        const Tensor loss = opt.step([&] {
            opt.zero_grad();
            Tensor l = p.pow(2.0).sum();
            l.backward();
            return l;
        });
        CHECK(loss.item<double>() == 0.0);
        CHECK(opt.state().n_iter == 0);
        CHECK(opt.state().func_evals == 1);
    }
}
