// Learning-rate schedulers against PyTorch 1.13 (tests/fixtures/optim.json, from
// tools/fixtures/gen_optim.py): every scheduler alone, several stepped on one optimizer (their
// effects compose), ChainedScheduler, SequentialLR and ReduceLROnPlateau, on an SGD with two
// parameter groups; each case again resumed from state_dict()s mid-way; fractional epochs for
// CosineAnnealingWarmRestarts; argument checks.
#include "test_support.hpp"

#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizers.hpp>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>

using namespace lazynn;
using namespace lazynn::optim;

namespace {

using Schedulers = std::vector<std::shared_ptr<LRScheduler>>;
using Make = std::function<Schedulers(Optimizer&)>;

template <class S, class... Args>
std::shared_ptr<LRScheduler> make(Args&&... args) {
    return std::make_shared<S>(std::forward<Args>(args)...);
}

const std::map<std::string, Make>& cases() {
    static const std::map<std::string, Make> table = {
        {"step", [](Optimizer& o) { return Schedulers{make<StepLR>(o, 3, 0.5)}; }},
        {"multistep",
         [](Optimizer& o) {
             return Schedulers{make<MultiStepLR>(o, std::vector<std::int64_t>{2, 5, 5, 9}, 0.3)};
         }},
        {"multistep_at_zero",
         [](Optimizer& o) {
             return Schedulers{make<MultiStepLR>(o, std::vector<std::int64_t>{0, 4}, 0.5)};
         }},
        {"exponential", [](Optimizer& o) { return Schedulers{make<ExponentialLR>(o, 0.8)}; }},
        {"cosine", [](Optimizer& o) { return Schedulers{make<CosineAnnealingLR>(o, 5, 0.001)}; }},
        {"warm_restarts", [](Optimizer& o) { return Schedulers{make<CosineAnnealingWarmRestarts>(o, 3, 2, 0.01)}; }},
        {"warm_restarts_fractional",
         [](Optimizer& o) { return Schedulers{make<CosineAnnealingWarmRestarts>(o, 2, 2, 0.001)}; }},
        {"warm_restarts_fractional_tmult1",
         [](Optimizer& o) { return Schedulers{make<CosineAnnealingWarmRestarts>(o, 2, 1)}; }},
        {"linear", [](Optimizer& o) { return Schedulers{make<LinearLR>(o, 0.25, 1.0, 4)}; }},
        {"linear_decay", [](Optimizer& o) { return Schedulers{make<LinearLR>(o, 1.0, 0.1, 6)}; }},
        {"constant", [](Optimizer& o) { return Schedulers{make<ConstantLR>(o, 0.5, 4)}; }},
        {"lambda",
         [](Optimizer& o) {
             return Schedulers{make<LambdaLR>(o, [](std::int64_t e) { return 1.0 / (1.0 + static_cast<double>(e)); })};
         }},
        {"lambda_per_group",
         [](Optimizer& o) {
             return Schedulers{make<LambdaLR>(
                 o, std::vector<LambdaLR::Lambda>{[](std::int64_t e) { return std::pow(0.9, static_cast<double>(e)); },
                                                  [](std::int64_t e) { return 1.0 + static_cast<double>(e); }})};
         }},
        {"multiplicative",
         [](Optimizer& o) {
             return Schedulers{make<MultiplicativeLR>(o, [](std::int64_t e) { return e % 2 ? 0.95 : 0.9; })};
         }},
        {"polynomial", [](Optimizer& o) { return Schedulers{make<PolynomialLR>(o, 8, 2.0)}; }},
        {"onecycle", [](Optimizer& o) { return Schedulers{make<OneCycleLR>(o, OneCycleOptions(1.0, 25))}; }},
        {"onecycle_epochs_three_phase_linear",
         [](Optimizer& o) {
             return Schedulers{make<OneCycleLR>(o, OneCycleOptions(0.5)
                                                       .epochs(5)
                                                       .steps_per_epoch(5)
                                                       .three_phase(true)
                                                       .anneal_strategy(AnnealStrategy::Linear)
                                                       .pct_start(0.25))};
         }},
        {"cyclic_triangular",
         [](Optimizer& o) { return Schedulers{make<CyclicLR>(o, CyclicLROptions(0.01, 0.1).step_size_up(4))}; }},
        {"cyclic_triangular2",
         [](Optimizer& o) {
             return Schedulers{make<CyclicLR>(o, CyclicLROptions(0.01, 0.1)
                                                     .step_size_up(3)
                                                     .step_size_down(5)
                                                     .mode(CyclicLRMode::Triangular2)
                                                     .base_momentum(0.7)
                                                     .max_momentum(0.95))};
         }},
        {"cyclic_exp_range",
         [](Optimizer& o) {
             return Schedulers{make<CyclicLR>(o, CyclicLROptions(0.02, 0.2)
                                                     .step_size_up(4)
                                                     .mode(CyclicLRMode::ExpRange)
                                                     .gamma(0.9)
                                                     .cycle_momentum(false))};
         }},
        {"sequential",
         [](Optimizer& o) {
             return Schedulers{
                 make<SequentialLR>(o, Schedulers{make<LinearLR>(o, 0.5, 1.0, 3), make<ExponentialLR>(o, 0.9)},
                                    std::vector<std::int64_t>{4})};
         }},
        {"sequential_cosine_step",
         [](Optimizer& o) {
             return Schedulers{make<SequentialLR>(
                 o,
                 Schedulers{make<ConstantLR>(o, 0.5, 2), make<CosineAnnealingLR>(o, 6, 0.001), make<StepLR>(o, 2, 0.5)},
                 std::vector<std::int64_t>{3, 12})};
         }},
        {"exponential_and_multistep",
         [](Optimizer& o) {
             return Schedulers{make<ExponentialLR>(o, 0.9), make<MultiStepLR>(o, std::vector<std::int64_t>{4}, 0.5)};
         }},
        {"chained",
         [](Optimizer& o) {
             return Schedulers{make<ChainedScheduler>(
                 Schedulers{make<ExponentialLR>(o, 0.9), make<MultiStepLR>(o, std::vector<std::int64_t>{4}, 0.5)})};
         }},
        {"chained_warmup_cosine",
         [](Optimizer& o) {
             return Schedulers{
                 make<ChainedScheduler>(Schedulers{make<LinearLR>(o, 0.1, 1.0, 5), make<CosineAnnealingLR>(o, 10)})};
         }},
        {"constant_and_exponential",
         [](Optimizer& o) {
             return Schedulers{make<ConstantLR>(o, 0.5, 3), make<ExponentialLR>(o, 0.9)};
         }},
        {"step_and_cosine",
         [](Optimizer& o) {
             return Schedulers{make<StepLR>(o, 4, 0.5), make<CosineAnnealingLR>(o, 8, 0.0)};
         }},
        {"multiplicative_and_polynomial",
         [](Optimizer& o) {
             return Schedulers{make<MultiplicativeLR>(o, [](std::int64_t) { return 0.97; }),
                               make<PolynomialLR>(o, 10, 1.5)};
         }},
        {"plateau",
         [](Optimizer& o) {
             return Schedulers{make<ReduceLROnPlateau>(
                 o, ReduceLROnPlateauOptions().patience(2).factor(0.5).cooldown(1).min_lr(0.004))};
         }},
        {"plateau_max_abs",
         [](Optimizer& o) {
             return Schedulers{make<ReduceLROnPlateau>(o, ReduceLROnPlateauOptions()
                                                              .mode(PlateauMode::Max)
                                                              .threshold_mode(ThresholdMode::Abs)
                                                              .threshold(0.05)
                                                              .patience(1)
                                                              .factor(0.3))};
         }},
        {"exponential_and_plateau",
         [](Optimizer& o) {
             return Schedulers{make<ExponentialLR>(o, 0.95),
                               make<ReduceLROnPlateau>(o, ReduceLROnPlateauOptions().patience(1).factor(0.5))};
         }},
    };
    return table;
}

/// SGD with two groups (lr 0.1 / 0.02, momentum 0.9 / 0.8), as the fixture's.
struct Setup {
    Parameter a{zeros({1})}, b{zeros({1})};
    SGD sgd{std::vector<SGD::ParamGroup>{{{a}, SGDOptions(0.1).momentum(0.9)}, {{b}, SGDOptions(0.02).momentum(0.8)}},
            SGDOptions(0.1).momentum(0.9)};
    std::vector<double> lrs() { return {sgd.lr(0), sgd.lr(1)}; }
    std::vector<double> momenta() {
        return {sgd.param_groups()[0].options.momentum(), sgd.param_groups()[1].options.momentum()};
    }
};

void step_all(const std::string& name, Schedulers& schedulers, std::size_t i, const nlohmann::json& fixture) {
    for (auto& s : schedulers) {
        if (auto* plateau = dynamic_cast<ReduceLROnPlateau*>(s.get())) {
            plateau->step(fixture.at("metrics").at(i).get<double>());
        } else if (name.find("fractional") != std::string::npos) {
            dynamic_cast<CosineAnnealingWarmRestarts&>(*s).step(fixture.at("fractional_epochs").at(i).get<double>());
        } else {
            s->step();
        }
    }
}

void check_values(const std::vector<double>& actual, const nlohmann::json& expected) {
    const auto e = expected.get<std::vector<double>>();
    REQUIRE(actual.size() == e.size());
    for (std::size_t g = 0; g < e.size(); ++g) CHECK(actual[g] == doctest::Approx(e[g]).epsilon(1e-12));
}

/// Runs a case, optionally rebuilding everything from state_dict()s after `resume_at` steps.
void replay(const std::string& name, const Make& build, const nlohmann::json& fixture,
            std::optional<std::size_t> resume_at) {
    const auto& expected = fixture.at("schedulers").at(name);
    auto setup = std::make_unique<Setup>();
    Schedulers schedulers = build(setup->sgd);
    check_values(setup->lrs(), expected.at("lrs")[0]);
    check_values(setup->momenta(), expected.at("momenta")[0]);
    const auto steps = fixture.at("scheduler_steps").get<std::size_t>();
    for (std::size_t i = 0; i < steps; ++i) {
        CAPTURE(i);
        if (resume_at && i == *resume_at) {
            std::vector<StateDict> saved;
            for (auto& s : schedulers) saved.push_back(s->state_dict());
            const StateDict optimizer_state = setup->sgd.state_dict();
            schedulers.clear();
            setup = std::make_unique<Setup>();
            schedulers = build(setup->sgd);
            setup->sgd.load_state_dict(optimizer_state);
            for (std::size_t k = 0; k < schedulers.size(); ++k) schedulers[k]->load_state_dict(saved[k]);
        }
        step_all(name, schedulers, i, fixture);
        check_values(setup->lrs(), expected.at("lrs")[i + 1]);
        check_values(setup->momenta(), expected.at("momenta")[i + 1]);
        check_values(schedulers.back()->get_last_lr(), expected.at("lrs")[i + 1]);
    }
}

}  // namespace

TEST_SUITE("schedulers vs PyTorch (chainable)") {
    TEST_CASE("every scheduler and combination follows PyTorch's lrs and momenta for 24 steps") {
        const auto fixture = lazynn::testing::load_fixture("optim.json");
        CHECK(fixture.at("schedulers").size() == cases().size());
        for (const auto& [name_entry, build] : cases()) {
            const std::string name = name_entry;
            CAPTURE(name);
            replay(name, build, fixture, std::nullopt);
        }
    }

    TEST_CASE("every case resumes exactly from the optimizer's and the schedulers' state_dict()s") {
        const auto fixture = lazynn::testing::load_fixture("optim.json");
        for (const auto& [name_entry, build] : cases()) {
            const std::string name = name_entry;
            CAPTURE(name);
            replay(name, build, fixture, fixture.at("resume_at").get<std::size_t>());
        }
    }

    TEST_CASE("issue 13: ExponentialLR(0.9) and MultiStepLR({4}, 0.5) multiply: 0.09, 0.081, 0.0729, then halved") {
        Parameter p(zeros({1}));
        SGD sgd({p}, SGDOptions(0.1));
        ExponentialLR exponential(sgd, 0.9);
        MultiStepLR multistep(sgd, {4}, 0.5);
        std::vector<double> lrs;
        for (int i = 0; i < 4; ++i) {
            exponential.step();
            multistep.step();
            lrs.push_back(sgd.lr());
        }
        // Each value is the previous one times 0.9 (times 0.5 at epoch 4): the composition.
        CHECK(lrs[0] == doctest::Approx(0.1 * 0.9));
        CHECK(lrs[1] == doctest::Approx(lrs[0] * 0.9));
        CHECK(lrs[2] == doctest::Approx(lrs[1] * 0.9));
        CHECK(lrs[3] == doctest::Approx(lrs[2] * 0.9 * 0.5));
    }
}

TEST_SUITE("scheduler arguments and state") {
    TEST_CASE("bad arguments are ValueErrors with PyTorch's messages") {
        Parameter p(zeros({1}));
        SGD sgd({p}, SGDOptions(0.1));
        Adam adam({Parameter(zeros({1}))}, AdamOptions(0.1));
        Adagrad adagrad({Parameter(zeros({1}))}, AdagradOptions(0.1));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ConstantLR(sgd, 1.5), ValueError,
                                        "Constant multiplicative factor expected to be between 0 and 1.");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(OneCycleLR(sgd, OneCycleOptions(1.0)), ValueError,
                                        "You must define either total_steps OR (epochs AND steps_per_epoch)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(OneCycleLR(sgd, OneCycleOptions(1.0).epochs(0).steps_per_epoch(3)), ValueError,
                                        "Expected positive integer epochs, but got 0");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(OneCycleLR(sgd, OneCycleOptions(1.0).epochs(2).steps_per_epoch(-1)), ValueError,
                                        "Expected positive integer steps_per_epoch, but got -1");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(OneCycleLR(adagrad, OneCycleOptions(1.0, 10)), ValueError,
                                        "optimizer must support momentum with `cycle_momentum` option enabled");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(CyclicLR(adam, CyclicLROptions(0.01, 0.1)), ValueError,
                                        "optimizer must support momentum with `cycle_momentum` option enabled");
        CHECK_NOTHROW(CyclicLR(adam, CyclicLROptions(0.01, 0.1).cycle_momentum(false)));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(CyclicLR(sgd, CyclicLROptions({0.01, 0.02}, {0.1, 0.2})), ValueError,
                                        "expected 1 values for base_lr, got 2");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(LambdaLR(sgd, std::vector<LambdaLR::Lambda>{}), ValueError,
                                        "Expected 1 lr_lambdas, but got 0");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ChainedScheduler(Schedulers{}), ValueError, "at least one scheduler");
        SGD other({Parameter(zeros({1}))}, SGDOptions(0.1));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ChainedScheduler(Schedulers{make<StepLR>(sgd, 2), make<StepLR>(other, 2)}),
                                        ValueError, "expects all schedulers to belong to the same optimizer");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(SequentialLR(other, Schedulers{make<StepLR>(sgd, 2)}, {}), ValueError,
                                        "same optimizer");
        CosineAnnealingWarmRestarts restarts(sgd, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(restarts.step(-0.5), ValueError, "Expected non-negative epoch, but got");
        ReduceLROnPlateau plateau(sgd);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(plateau.step(), ValueError, "needs the metric");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().factor(1.0)), ValueError,
                                        "Factor should be < 1.0.");
    }

    TEST_CASE("OneCycleLR: stepping past total_steps says so (PyTorch counts the initial step)") {
        Parameter p(zeros({1}));
        SGD opt({p}, SGDOptions(0.1).momentum(0.9));
        OneCycleLR sched(opt, OneCycleOptions(1.0).epochs(1).steps_per_epoch(3));
        CHECK(sched.total_steps() == 3);
        for (int i = 0; i < 3; ++i) sched.step();
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(sched.step(), ValueError,
                                        "Tried to step 5 times. The specified number of total steps is 3");
    }

    TEST_CASE("a scheduler's load_state_dict leaves the optimizer's lr alone, as PyTorch's") {
        Parameter p(zeros({1}));
        SGD sgd({p}, SGDOptions(0.1));
        StepLR a(sgd, 1, 0.5);
        a.step();
        const StateDict state = a.state_dict();
        SGD fresh({Parameter(zeros({1}))}, SGDOptions(0.1));
        StepLR b(fresh, 1, 0.5);
        b.load_state_dict(state);
        CHECK(b.last_epoch() == 1);
        CHECK(fresh.lr() == 0.1);
        fresh.load_state_dict(sgd.state_dict());
        b.step();
        a.step();
        CHECK(fresh.lr() == sgd.lr());
    }

    TEST_CASE(
        "ReduceLROnPlateau goes through save_checkpoint like any scheduler: a resumed run equals an uninterrupted "
        "one") {
        // Plain model, Adam, plateau on a noisy loss: 6 + 6 epochs resumed from a checkpoint equal 12 epochs.
        const auto run = [](int epochs, const std::string& resume_from, const std::string& save_to) {
            manual_seed(3);
            nn::Linear model(2, 1);
            Adam adam(model.parameters(), AdamOptions(0.05));
            ReduceLROnPlateau plateau(adam, ReduceLROnPlateauOptions().patience(1).factor(0.5));
            int first = 1;
            if (!resume_from.empty())
                first = static_cast<int>(load_checkpoint(resume_from, model, &adam, &plateau).epoch) + 1;
            std::vector<double> lrs;
            for (int epoch = first; epoch <= epochs; ++epoch) {
                const Tensor x = randn({16, 2});
                const Tensor loss = nn::functional::mse_loss(model(x), x.sum({1}, true) * 0.5);
                adam.zero_grad();
                loss.backward();
                adam.step();
                plateau.step(loss.item<double>() + (epoch % 3 == 0 ? 1.0 : 0.0));  // stalls now and then
                lrs.push_back(adam.lr());
            }
            if (!save_to.empty()) save_checkpoint(save_to, model, &adam, &plateau, {epochs, {}});
            return std::make_pair(lrs, model.weight.to_vector<float>());
        };
        const std::string path =
            (std::filesystem::temp_directory_path() / ("lazynn_plateau_resume_" + std::to_string(::getpid()) + ".ckpt"))
                .string();
        const auto whole = run(12, "", "");
        auto first = run(6, "", path);
        const auto second = run(12, path, "");
        first.first.insert(first.first.end(), second.first.begin(), second.first.end());
        CHECK(first.first == whole.first);
        CHECK(second.second == whole.second);
        CHECK(whole.first.back() < whole.first.front());  // the plateau did cut the lr
        std::filesystem::remove(path);
    }
}
