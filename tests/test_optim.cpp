// Optimizers and schedulers against PyTorch trajectories (tests/fixtures/training.json), state
// creation on first step, lazy models, state_dict round trips and gradient clipping.
#include "test_support.hpp"

#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizers.hpp>

#include <cmath>
#include <functional>
#include <map>

using namespace lazynn;
using namespace lazynn::optim;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

namespace {

using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<Parameter>)>;

const std::map<std::string, Factory>& optimizers() {
    static const std::map<std::string, Factory> table = {
        {"sgd", [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.05)); }},
        {"sgd_momentum",
         [](auto p) {
             return std::make_unique<SGD>(p, SGDOptions(0.05).momentum(0.9).dampening(0.1).weight_decay(0.01));
         }},
        {"sgd_nesterov",
         [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.05).momentum(0.9).nesterov(true)); }},
        {"sgd_maximize",
         [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.01).momentum(0.5).maximize(true)); }},
        {"adam", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1)); }},
        {"adam_amsgrad_wd",
         [](auto p) {
             return std::make_unique<Adam>(p, AdamOptions(0.1).betas(0.8, 0.9).weight_decay(0.1).amsgrad(true));
         }},
        {"adamw", [](auto p) { return std::make_unique<AdamW>(p, AdamWOptions(0.1).weight_decay(0.5)); }},
        {"sgd_weight_decay", [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.05).weight_decay(0.1)); }},
        {"adam_weight_decay", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1).weight_decay(0.1)); }},
        {"adamax", [](auto p) { return std::make_unique<Adamax>(p, AdamaxOptions(0.1).weight_decay(0.05)); }},
        {"nadam", [](auto p) { return std::make_unique<NAdam>(p, NAdamOptions(0.1).weight_decay(0.05)); }},
        {"radam", [](auto p) { return std::make_unique<RAdam>(p, RAdamOptions(0.1).weight_decay(0.05)); }},
        {"rmsprop", [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions(0.01)); }},
        {"rmsprop_centered_momentum",
         [](auto p) {
             return std::make_unique<RMSprop>(p, RMSpropOptions(0.01).momentum(0.9).centered(true).weight_decay(0.1));
         }},
        {"adagrad",
         [](auto p) {
             return std::make_unique<Adagrad>(
                 p, AdagradOptions(0.1).lr_decay(0.01).initial_accumulator_value(0.1).weight_decay(0.05));
         }},
        {"adadelta",
         [](auto p) { return std::make_unique<Adadelta>(p, AdadeltaOptions(1.0).rho(0.8).weight_decay(0.05)); }},
        {"rprop", [](auto p) { return std::make_unique<Rprop>(p, RpropOptions(0.05)); }},
        {"rprop_etas_step_sizes_maximize",
         [](auto p) {
             return std::make_unique<Rprop>(p, RpropOptions(0.1).etas(0.3, 1.5).step_sizes(0.02, 0.25).maximize(true));
         }},
        {"asgd", [](auto p) { return std::make_unique<ASGD>(p, ASGDOptions(0.05).t0(2)); }},
        {"asgd_decay_weight_decay",
         [](auto p) {
             return std::make_unique<ASGD>(p, ASGDOptions(0.1).lambd(0.05).alpha(0.5).t0(0).weight_decay(0.1));
         }},
    };
    return table;
}

using SchedulerFactory = std::function<std::unique_ptr<LRScheduler>(Optimizer&)>;

const std::map<std::string, SchedulerFactory>& schedulers() {
    static const std::map<std::string, SchedulerFactory> table = {
        {"step", [](Optimizer& o) { return std::make_unique<StepLR>(o, 3, 0.5); }},
        {"multistep",
         [](Optimizer& o) {
             return std::make_unique<MultiStepLR>(o, std::vector<std::int64_t>{2, 5, 9}, 0.3);
         }},
        {"exponential", [](Optimizer& o) { return std::make_unique<ExponentialLR>(o, 0.8); }},
        {"cosine", [](Optimizer& o) { return std::make_unique<CosineAnnealingLR>(o, 10, 0.001); }},
        {"warm_restarts", [](Optimizer& o) { return std::make_unique<CosineAnnealingWarmRestarts>(o, 3, 2, 0.01); }},
        {"linear", [](Optimizer& o) { return std::make_unique<LinearLR>(o, 0.25, 1.0, 4); }},
        {"lambda",
         [](Optimizer& o) {
             return std::make_unique<LambdaLR>(o, [](std::int64_t e) { return 1.0 / (1.0 + static_cast<double>(e)); });
         }},
        {"onecycle", [](Optimizer& o) { return std::make_unique<OneCycleLR>(o, OneCycleOptions(1.0, 12)); }},
        {"onecycle_three_phase_linear",
         [](Optimizer& o) {
             return std::make_unique<OneCycleLR>(
                 o, OneCycleOptions(0.5, 12).three_phase(true).anneal_strategy(AnnealStrategy::Linear).pct_start(0.25));
         }},
        {"sequential",
         [](Optimizer& o) {
             auto warm = std::make_shared<LinearLR>(o, 0.5, 1.0, 3);
             auto decay = std::make_shared<ExponentialLR>(o, 0.9);
             return std::make_unique<SequentialLR>(o, std::vector<std::shared_ptr<LRScheduler>>{warm, decay},
                                                   std::vector<std::int64_t>{4});
         }},
    };
    return table;
}

Tensor objective(const Tensor& p, const Tensor& t, const Tensor& w) {
    return (w * (p - t).pow(2)).sum() + p.sin().sum();
}

}  // namespace

TEST_SUITE("optimizers vs PyTorch") {
    TEST_CASE("six-step trajectories match for every optimizer and option set") {
        const auto fixture = lazynn::testing::load_fixture("training.json");
        const auto& problem = fixture.at("optimizer_problem");
        const Tensor t = fixture_tensor(problem.at("t"));
        const Tensor w = fixture_tensor(problem.at("w"));
        CHECK(fixture.at("optimizers").size() == optimizers().size());
        for (const auto& [name_entry, make] : optimizers()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            Parameter p(fixture_tensor(problem.at("p0")));
            auto opt = make({p});
            const auto& trajectory = fixture.at("optimizers").at(name).at("trajectory");
            for (std::size_t step = 0; step < trajectory.size(); ++step) {
                CAPTURE(step);
                opt->zero_grad();
                objective(p, t, w).backward();
                opt->step();
                // PyTorch keeps NAdam's mu_product in float32 even for float64 parameters.
                const double rtol = name == "nadam" ? 1e-6 : 1e-9;
                check_close(p, fixture_tensor(trajectory[step]), rtol, 1e-12);
                if (auto* asgd = dynamic_cast<ASGD*>(opt.get())) {  // and its running average
                    check_close(asgd->averaged(p),
                                fixture_tensor(fixture.at("optimizers").at(name).at("averaged")[step]), 1e-9, 1e-12);
                }
            }
        }
    }
}

TEST_SUITE("optimizer behaviour") {
    TEST_CASE("state is created on the first step, keyed by identity; grad-less params are skipped") {
        Parameter a(ones({2})), b(ones({2}));
        Adam adam({a, b}, AdamOptions(0.1));
        CHECK(adam.state_of(a) == nullptr);
        a.set_grad(ones({2}));
        adam.step();
        REQUIRE(adam.state_of(a) != nullptr);
        CHECK(adam.state_of(a)->step == 1);
        CHECK(adam.state_of(b) == nullptr);
        CHECK(equal(b, ones({2})));
        CHECK_FALSE(equal(a, ones({2})));
    }

    TEST_CASE("every optimizer works when built on a lazy model before its first forward") {
        for (const auto& [name_entry, make] : optimizers()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            manual_seed(0);
            nn::Sequential model{nn::LazyLinear(4), nn::ReLU(), nn::LazyLinear(1)};
            auto opt = make(model.parameters());
            const Tensor x = randn({8, 3}), y = randn({8, 1});
            opt->zero_grad();
            nn::functional::mse_loss(model(x), y).backward();
            const Tensor before = model.parameters()[0].clone();
            opt->step();
            CHECK_FALSE(equal(before, model.parameters()[0]));
        }
    }

    TEST_CASE("parameter groups take their own options") {
        Parameter a(ones({1})), b(ones({1}));
        SGD sgd(std::vector<SGD::ParamGroup>{{{a}, SGDOptions(0.1)}, {{b}, SGDOptions(0.5)}}, SGDOptions(0.1));
        a.set_grad(ones({1}));
        b.set_grad(ones({1}));
        sgd.step();
        CHECK(a.item<float>() == doctest::Approx(0.9));
        CHECK(b.item<float>() == doctest::Approx(0.5));
        CHECK(sgd.num_param_groups() == 2);
        CHECK_THROWS_AS(sgd.add_param_group({{a}, SGDOptions(0.1)}), ValueError);
    }

    TEST_CASE("state_dict round trip continues the trajectory exactly") {
        const Tensor t = tensor({1.0, -2.0, 0.5}, kFloat64);
        const Tensor w = tensor({1.0, 2.0, 0.5}, kFloat64);
        Parameter p(zeros({3}, kFloat64));
        Adam a({p}, AdamOptions(0.1).amsgrad(true));
        for (int i = 0; i < 3; ++i) {
            a.zero_grad();
            objective(p, t, w).backward();
            a.step();
        }
        const StateDict sd = a.state_dict();
        CHECK(sd.contains("state.0.exp_avg"));
        CHECK(sd.contains("param_groups.0.lr"));
        Parameter q(p.detach().clone());
        Adam b({q}, AdamOptions(0.5));
        b.load_state_dict(sd);
        CHECK(b.param_groups()[0].options.lr() == doctest::Approx(0.1));
        CHECK(b.param_groups()[0].options.amsgrad());
        for (int i = 0; i < 3; ++i) {
            a.zero_grad();
            objective(p, t, w).backward();
            a.step();
            b.zero_grad();
            objective(q, t, w).backward();
            b.step();
        }
        CHECK(equal(p, q));
        Adam c({q, Parameter(ones({1}))}, AdamOptions());
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(c.load_state_dict(sd), ValueError,
                                        "group 0: it holds 1 parameters, this optimizer's group 2");
    }

    TEST_CASE("NAdam saved and loaded mid-training continues bit-identically (mu_product is restored)") {
        for (const Dtype dtype : {kFloat64, kFloat32}) {
            const std::string dtype_label = dtype_name(dtype);
            CAPTURE(dtype_label);
            const Tensor t = tensor({1.0, -2.0, 0.5}, dtype);
            const Tensor w = tensor({1.0, 2.0, 0.5}, dtype);
            const auto train = [&](Parameter& p, NAdam& opt, int steps) {
                for (int i = 0; i < steps; ++i) {
                    opt.zero_grad();
                    objective(p, t, w).backward();
                    opt.step();
                }
            };
            Parameter p(zeros({3}, dtype));
            NAdam uninterrupted({p}, NAdamOptions(0.1).weight_decay(0.05));
            train(p, uninterrupted, 4);
            const StateDict sd = uninterrupted.state_dict();
            // PyTorch's NAdam state keys: step, mu_product, exp_avg, exp_avg_sq.
            for (const char* key : {"state.0.step", "state.0.mu_product", "state.0.exp_avg", "state.0.exp_avg_sq"}) {
                CAPTURE(key);
                CHECK(sd.contains(key));
            }
            const double mu_product = uninterrupted.state_of(p)->mu_product;
            CHECK(mu_product < 1.0);  // four steps in: the product of four momenta, well below 1
            CHECK(sd.at("state.0.mu_product").item<double>() == mu_product);

            Parameter q(p.detach().clone());
            NAdam resumed({q}, NAdamOptions(0.5));
            resumed.load_state_dict(sd);
            REQUIRE(resumed.state_of(q) != nullptr);
            CHECK(resumed.state_of(q)->mu_product == mu_product);
            train(p, uninterrupted, 5);
            train(q, resumed, 5);
            CHECK(equal(p, q));
            CHECK(resumed.state_of(q)->mu_product == uninterrupted.state_of(p)->mu_product);
        }
        // A non-finite mu_product is refused before anything changes.
        Parameter p(zeros({3}, kFloat64));
        p.set_grad(ones({3}, kFloat64));
        NAdam nadam({p}, NAdamOptions(0.1));
        nadam.step();
        StateDict bad = nadam.state_dict();
        bad.insert("state.0.mu_product", scalar_tensor(std::nan(""), kFloat64));
        NAdam other({p}, NAdamOptions(0.3));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(other.load_state_dict(bad), ValueError, "'state.0.mu_product' is not finite");
        CHECK(other.state_of(p) == nullptr);
        CHECK(other.param_groups()[0].options.lr() == doctest::Approx(0.3));
    }

    TEST_CASE("clip_grad_norm_ and clip_grad_value_") {
        Parameter a(zeros({2})), b(zeros({1}));
        a.set_grad(tensor({3.0, 0.0}));
        b.set_grad(tensor({4.0}));
        const double norm = clip_grad_norm_({a, b}, 1.0);
        CHECK(norm == doctest::Approx(5.0));
        CHECK(a.grad().to_vector<float>()[0] == doctest::Approx(0.6).epsilon(1e-5));
        clip_grad_value_({a, b}, 0.5);
        CHECK(a.grad().to_vector<float>()[0] == doctest::Approx(0.5));
        CHECK(b.grad().item<float>() == doctest::Approx(0.5));
    }
}

TEST_SUITE("schedulers vs PyTorch") {
    TEST_CASE("learning rates (and OneCycle momentum) over 12 steps") {
        const auto fixture = lazynn::testing::load_fixture("training.json");
        CHECK(fixture.at("schedulers").size() == schedulers().size());
        for (const auto& [name_entry, make] : schedulers()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            Parameter p(zeros({1}));
            SGD opt({p}, SGDOptions(0.1).momentum(0.9));
            auto sched = make(opt);
            const auto lrs = fixture.at("schedulers").at(name).at("lrs").get<std::vector<double>>();
            const auto momenta = fixture.at("schedulers").at(name).at("momenta").get<std::vector<double>>();
            for (std::size_t i = 0; i < lrs.size(); ++i) {
                CAPTURE(i);
                if (i > 0) sched->step();
                CHECK(opt.lr() == doctest::Approx(lrs[i]).epsilon(1e-9));
                CHECK(opt.param_groups()[0].options.momentum() == doctest::Approx(momenta[i]).epsilon(1e-9));
            }
        }
    }

    TEST_CASE("scheduler state_dict (with the optimizer's, which holds the lr) restores the position") {
        Parameter p(zeros({1}));
        SGD opt({p}, SGDOptions(0.1));
        StepLR a(opt, 2, 0.5);
        for (int i = 0; i < 5; ++i) a.step();
        const StateDict sd = a.state_dict();
        SGD opt2({Parameter(zeros({1}))}, SGDOptions(0.1));
        StepLR b(opt2, 2, 0.5);
        opt2.load_state_dict(opt.state_dict());
        b.load_state_dict(sd);
        CHECK(b.last_epoch() == 5);
        CHECK(opt2.lr() == doctest::Approx(opt.lr()));
        a.step();
        b.step();
        CHECK(opt2.lr() == doctest::Approx(opt.lr()));
    }

    TEST_CASE("ReduceLROnPlateau cuts after patience and honours cooldown and min_lr") {
        Parameter p(zeros({1}));
        SGD opt({p}, SGDOptions(1.0));
        ReduceLROnPlateau plateau(opt, ReduceLROnPlateauOptions().patience(2).factor(0.5).cooldown(1).min_lr(0.2));
        const std::vector<double> metrics{1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9};
        std::vector<double> lrs;
        for (double m : metrics) {
            plateau.step(m);
            lrs.push_back(opt.lr());
        }
        CHECK(lrs == std::vector<double>{1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25});
        for (int i = 0; i < 10; ++i) plateau.step(0.9);
        CHECK(opt.lr() == doctest::Approx(0.2));
    }
}

TEST_SUITE("optimizers as values (issue 22, item 5)") {
    // A GAN's two optimizers, built in a function and returned together.
    std::pair<Adam, Adam> two_optimizers(const std::vector<Parameter>& g, const std::vector<Parameter>& d) {
        return {Adam(g, AdamOptions(2e-4).betas(0.5, 0.999)), Adam(d)};
    }

    TEST_CASE("the options may be left out: PyTorch's default learning rates") {
        Parameter p(ones({2}));
        CHECK(Adam({p}).lr() == 1e-3);
        CHECK(AdamW({p}).defaults().weight_decay() == 1e-2);
        CHECK(SGD({p}).lr() == 1e-3);
        CHECK(RMSprop({p}).lr() == 1e-2);
        CHECK(Adagrad({p}).lr() == 1e-2);
        CHECK(Adadelta({p}).lr() == 1.0);
        CHECK(Adamax({p}).lr() == 2e-3);
        CHECK(NAdam({p}).lr() == 2e-3);
        CHECK(RAdam({p}).lr() == 1e-3);
        CHECK(Rprop({p}).lr() == 1e-2);
        CHECK(ASGD({p}).lr() == 1e-2);
    }

    TEST_CASE("ASGD's state round-trips with its two one-number entries (eta, mu) and resumes exactly") {
        const Tensor t = tensor({1.0, -2.0, 0.5}, kFloat64);
        const Tensor w = tensor({1.0, 2.0, 0.5}, kFloat64);
        Parameter p(zeros({3}, kFloat64));
        ASGD a({p}, ASGDOptions(0.05).t0(1));
        const auto run = [&](ASGD& opt, Parameter& q) {
            opt.zero_grad();
            objective(q, t, w).backward();
            opt.step();
        };
        for (int i = 0; i < 3; ++i) run(a, p);
        const StateDict sd = a.state_dict();
        CHECK(sd.at("state.0.eta").dim() == 0);
        CHECK(sd.at("state.0.mu").dim() == 0);
        CHECK(sd.at("state.0.ax").shape() == Shape{3});
        Parameter q(p.detach().clone());
        ASGD b({q}, ASGDOptions(0.05).t0(1));
        b.load_state_dict(sd);
        for (int i = 0; i < 3; ++i) {
            run(a, p);
            run(b, q);
        }
        CHECK(equal(p, q));
        CHECK(equal(a.averaged(p), b.averaged(q)));
        StateDict bad = sd;
        bad.insert("state.0.eta", ones({3}, kFloat64));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(b.load_state_dict(bad), ValueError,
                                        "'state.0.eta' for parameter 0 (group 0) must be a floating-point tensor of "
                                        "shape [], got float64 [3]");
    }

    TEST_CASE("Rprop adapts each element's step to the sign of its gradient") {
        // One element whose gradient keeps its sign, one whose sign flips every step.
        Parameter p(zeros({2}, kFloat64));
        Rprop rprop({p}, RpropOptions(0.1).etas(0.5, 2.0).step_sizes(0.01, 1.0));
        const auto step_with = [&](double g0, double g1) {
            p.set_grad(tensor({g0, g1}, kFloat64));
            rprop.step();
        };
        step_with(1.0, 1.0);  // first step: sizes stay 0.1, both move -0.1
        CHECK(p.to_vector<double>() == std::vector<double>{-0.1, -0.1});
        step_with(3.0, -2.0);  // same sign: 0.2; flipped: 0.05 and no move
        CHECK(rprop.state_of(p)->step_size.to_vector<double>() == std::vector<double>{0.2, 0.05});
        CHECK(p.to_vector<double>() == std::vector<double>{-0.1 - 0.2, -0.1});
        step_with(1.0, -1.0);  // the flipped element's previous gradient was zeroed: no comparison, it moves
        CHECK(rprop.state_of(p)->step_size.to_vector<double>() == std::vector<double>{0.4, 0.05});
        CHECK(p.to_vector<double>()[1] == doctest::Approx(-0.1 + 0.05));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Rprop({p}, RpropOptions().step_sizes(1.0, 0.1)), ValueError,
                                        "Invalid step sizes: 1.0, 0.1");
    }

    TEST_CASE("a moved optimizer keeps its groups and state and steps exactly as the original would") {
        const Tensor target = tensor({1.0, -2.0, 0.5}, kFloat64);
        Parameter g(zeros({3}, kFloat64)), d(zeros({3}, kFloat64)), reference(zeros({3}, kFloat64));
        auto [opt_g, opt_d] = two_optimizers({g}, {d});
        CHECK(opt_g.lr() == 2e-4);
        CHECK(opt_d.lr() == 1e-3);
        Adam reference_opt({reference});
        const auto loss = [&](const Tensor& p) { return ((p - target) * (p - target)).sum(); };
        // Two steps of `opt` on d beside two of the reference optimizer on its own copy.
        const auto two_steps = [&](Adam& opt) {
            for (int i = 0; i < 2; ++i) {
                opt.zero_grad();
                loss(d).backward();
                opt.step();
                reference_opt.zero_grad();
                loss(reference).backward();
                reference_opt.step();
            }
        };
        two_steps(opt_d);
        Adam moved = std::move(opt_d);  // state (two steps of exp_avg, exp_avg_sq) goes along
        CHECK(moved.state_dict().contains("state.0.exp_avg"));
        two_steps(moved);
        CHECK(equal(d, reference));
    }
}
