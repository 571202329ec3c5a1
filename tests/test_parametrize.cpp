// Parametrizations (framework/src/parametrize.cpp, modules/src/parametrizations.cpp): registration,
// the per-call value, right_inverse, removal, caching, copies and lazy modules; spectral_norm and
// weight_norm against PyTorch (tests/fixtures/parametrize.json, tools/fixtures/gen_parametrize.py).
#include "test_support.hpp"
#include "fixture_values.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

namespace {

struct Symmetric : Cloneable<Symmetric, parametrize::Parametrization> {
    Tensor forward(const Tensor& x) override { return x.triu() + x.triu(1).transpose(-1, -2); }  // [n, n]
};

struct Doubled : Cloneable<Doubled, parametrize::Parametrization> {
    Tensor forward(const Tensor& x) override { return x * 2.0; }
    std::optional<std::vector<Tensor>> right_inverse(const Tensor& value) override {
        return std::vector<Tensor>{value / 2.0};
    }
};

/// Counts its calls (Cached).
struct Counting : Cloneable<Counting, parametrize::Parametrization> {
    int* calls = nullptr;
    Tensor forward(const Tensor& x) override {
        ++*calls;
        return x * 1.0;
    }
};

/// Changes the shape: refused unless unsafe.
struct Transposed : Cloneable<Transposed> {
    Tensor forward(const Tensor& x) override { return x.t(); }
};

const nlohmann::json& fixtures() {
    static const nlohmann::json all = lazynn::testing::load_fixture("parametrize.json");
    return all;
}

std::vector<std::string> strings(const nlohmann::json& list) { return list.get<std::vector<std::string>>(); }

std::vector<std::string> parameter_names(const Module& m) {
    std::vector<std::string> names;
    for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
    return names;
}

StateDict fixture_state(const nlohmann::json& state) {
    StateDict sd;
    for (const auto& [key, value] : state.items()) sd.insert(key, fixture_tensor(value));
    return sd;
}

/// The module of fixture case `name`, float64, with the same parametrizations registered.
std::unique_ptr<Module> build(const std::string& name) {
    using namespace nn::parametrizations;
    std::unique_ptr<Module> m;
    if (name == "spectral_linear") {
        m = std::make_unique<Linear>(5, 4);
        m->to(kFloat64);
        spectral_norm(*m);
    } else if (name == "spectral_conv_transpose2d") {
        m = std::make_unique<ConvTranspose2d>(3, 2, 3);
        m->to(kFloat64);
        spectral_norm(*m, SpectralNormOptions().n_power_iterations(3));
    } else if (name == "spectral_conv1d_dim_last") {
        m = std::make_unique<Conv1d>(3, 4, 2);
        m->to(kFloat64);
        spectral_norm(*m, SpectralNormOptions().dim(-1).eps(1e-6));
    } else if (name == "spectral_bias_vector") {
        m = std::make_unique<Linear>(3, 4);
        m->to(kFloat64);
        spectral_norm(*m, SpectralNormOptions().name("bias"));
    } else if (name == "symmetric_then_spectral") {
        m = std::make_unique<Linear>(4, 4);
        m->to(kFloat64);
        parametrize::register_parametrization(*m, "weight", Symmetric());
        spectral_norm(*m);
    } else if (name == "symmetric") {
        m = std::make_unique<Linear>(4, 4);
        m->to(kFloat64);
        parametrize::register_parametrization(*m, "weight", Symmetric());
    } else if (name == "weight_norm_linear") {
        m = std::make_unique<Linear>(5, 4);
        m->to(kFloat64);
        weight_norm(*m);
    } else if (name == "weight_norm_conv2d_dim1") {
        m = std::make_unique<Conv2d>(3, 4, 3);
        m->to(kFloat64);
        weight_norm(*m, "weight", 1);
    } else if (name == "weight_norm_linear_dim_none") {
        m = std::make_unique<Linear>(5, 4);
        m->to(kFloat64);
        weight_norm(*m, "weight", std::nullopt);
    }
    REQUIRE_MESSAGE(m, "no builder for fixture case " << name);
    return m;
}

}  // namespace

TEST_SUITE("Parametrize") {
    TEST_CASE("spectral_norm, weight_norm and custom parametrizations match PyTorch") {
        for (const char* name : {"spectral_linear", "spectral_conv_transpose2d", "spectral_conv1d_dim_last",
                                 "spectral_bias_vector", "symmetric_then_spectral", "symmetric", "weight_norm_linear",
                                 "weight_norm_conv2d_dim1", "weight_norm_linear_dim_none"}) {
            CAPTURE(name);
            const auto& c = fixtures().at(name);
            std::unique_ptr<Module> m = build(name);
            CHECK(m->state_dict().keys() == strings(c.at("keys")));
            CHECK(parameter_names(*m) == strings(c.at("parameter_names")));
            CHECK(m->str() == c.at("repr").get<std::string>());
            m->load_state_dict(fixture_state(c.at("state")));

            const Tensor x = fixture_tensor(c.at("input")).requires_grad_();
            const Tensor out = m->call({x})[0];
            check_close(out, fixture_tensor(c.at("output")), 1e-10, 1e-12);
            (out * fixture_tensor(c.at("seed"))).sum().backward();
            check_close(x.grad(), fixture_tensor(c.at("grad_input")), 1e-9, 1e-12);
            for (const auto& param : m->named_parameters()) {
                const std::string& pname = param.first;
                CAPTURE(pname);
                check_close(param.second.grad(), fixture_tensor(c.at("grads").at(pname)), 1e-9, 1e-12);
            }
            for (const auto& buffer : m->named_buffers()) {
                const std::string& bname = buffer.first;
                CAPTURE(bname);
                check_close(buffer.second, fixture_tensor(c.at("buffers_after").at(bname)), 1e-10, 1e-12);
            }
            m->eval();
            NoGradGuard no_grad;
            check_close(m->call({x})[0], fixture_tensor(c.at("output_eval")), 1e-10, 1e-12);
        }
    }

    TEST_CASE("the original is the same tensor object: optimizers built before keep training it") {
        Linear fc(4, 3);
        const Parameter held = fc.parameters()[0];  // "weight"
        optim::SGD sgd(fc.parameters(), optim::SGDOptions(0.1));
        nn::parametrizations::spectral_norm(fc);
        CHECK(parametrize::parametrizations(fc, "weight").original().is_same(held));
        CHECK(!fc.weight.is_same(held));        // the member holds the computed value
        CHECK(fc.weight.grad_fn() != nullptr);  // a function of the original
        const Tensor before = held.detach().clone();
        fc(randn({2, 4})).sum().backward();
        CHECK(held.grad().defined());
        sgd.step();
        CHECK(!equal(held, before));
    }

    TEST_CASE("right_inverse at registration and on assignment, as PyTorch") {
        const auto& c = fixtures().at("doubled_right_inverse");
        Linear fc(3, 3);
        fc.to(kFloat64);
        StateDict sd;
        sd.insert("weight", fixture_tensor(c.at("weight")));
        sd.insert("bias", fixture_tensor(c.at("bias")));
        fc.load_state_dict(sd);
        parametrize::register_parametrization(fc, "weight", Doubled());
        auto& list = parametrize::parametrizations(fc, "weight");
        check_close(list.original(), fixture_tensor(c.at("original_after_registration")), 1e-15, 0);
        check_close(fc.weight, fixture_tensor(c.at("weight")), 1e-15, 0);  // computed at registration
        list.right_inverse(fixture_tensor(c.at("assigned")));
        check_close(list.original(), fixture_tensor(c.at("original_after_assignment")), 1e-15, 0);
        fc(zeros({1, 3}, kFloat64));
        check_close(fc.weight, fixture_tensor(c.at("weight_after_assignment")), 1e-15, 0);
        CHECK(fc.str() == c.at("repr").get<std::string>());
        CHECK(parametrize::type_before_parametrizations(fc) == "Linear");
    }

    TEST_CASE("remove_parametrizations keeps the value or the original, and the tensor object") {
        for (const bool leave : {true, false}) {
            CAPTURE(leave);
            const auto& c = fixtures().at(leave ? "remove_leave_true" : "remove_leave_false");
            Linear fc(4, 3);
            fc.to(kFloat64);
            nn::parametrizations::spectral_norm(fc);
            fc.load_state_dict(fixture_state(c.at("state")));
            const Tensor original = parametrize::parametrizations(fc, "weight").original();
            fc(fixture_tensor(c.at("input")));
            for (const auto& [bname, b] : fc.named_buffers())
                check_close(b, fixture_tensor(c.at("buffers_before_removal").at(bname)), 1e-10, 1e-12);
            parametrize::remove_parametrizations(fc, "weight", leave);
            check_close(fc.weight, fixture_tensor(c.at("weight_after")), 1e-10, 1e-12);
            CHECK(fc.weight.is_same(original));
            CHECK(fc.weight.grad_fn() == nullptr);
            CHECK(parameter_names(fc) == strings(c.at("parameter_names")));
            CHECK(fc.state_dict().keys() == strings(c.at("keys")));
            CHECK(fc.str() == c.at("repr").get<std::string>());
            CHECK(!parametrize::is_parametrized(fc));
        }
        Linear fc(3, 3);
        nn::parametrizations::weight_norm(fc);
        CHECK_THROWS_WITH_AS(parametrize::remove_parametrizations(fc, "weight", false),
                             "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                             "in terms of a sequence of tensors.",
                             ValueError);
        const Tensor value = fc.weight.detach().clone();
        parametrize::remove_parametrizations(fc, "weight");
        check_close(fc.weight, value, 1e-6, 1e-7);
        CHECK(fc.weight.requires_grad());
        CHECK(fc.weight.grad_fn() == nullptr);
        CHECK(parameter_names(fc) == std::vector<std::string>{"bias", "weight"});
        CHECK_THROWS_WITH_AS(parametrize::remove_parametrizations(fc, "weight"),
                             "Module Linear does not have a parametrization on weight", ValueError);
    }

    TEST_CASE("lazy modules: the parametrization applies once the tensor materialises") {
        LazyLinear fc(3);
        optim::SGD sgd(fc.parameters(), optim::SGDOptions(0.1));  // before the first forward
        const Parameter held = fc.parameters()[0];
        nn::parametrizations::spectral_norm(fc);
        CHECK(parametrize::is_parametrized(fc, "weight"));
        CHECK(fc.state_dict().keys() == std::vector<std::string>{"weight", "bias"});  // still pending
        CHECK_THROWS_AS(parametrize::parametrizations(fc, "weight"), ValueError);
        // A parametrization of several originals cannot follow another one: refused at registration.
        Linear two(3, 3);
        parametrize::register_parametrization(two, "weight", Symmetric());
        CHECK_THROWS_WITH_AS(nn::parametrizations::weight_norm(two),
                             "_WeightNorm takes 2 tensors (its forward's arguments, flattened), but was called with 1",
                             ValueError);
        CHECK(parametrize::parametrizations(two, "weight").size() == 1);

        const Tensor x = randn({2, 5});
        const Tensor out = fc(x);
        CHECK(fc.name() == "ParametrizedLinear");
        CHECK(fc.state_dict().keys() == std::vector<std::string>{"bias", "parametrizations.weight.original",
                                                                 "parametrizations.weight.0._u",
                                                                 "parametrizations.weight.0._v"});
        auto& list = parametrize::parametrizations(fc, "weight");
        CHECK(list.original().is_same(held));
        CHECK(held.shape() == Shape{3, 5});
        // The output uses W / sigma, sigma = u . (W v) with the vectors after this call's power step.
        {
            NoGradGuard no_grad;
            const Tensor u = fc.get_buffer("parametrizations.weight.0._u");
            const Tensor v = fc.get_buffer("parametrizations.weight.0._v");
            const Tensor sigma = u.dot(held.matmul(v.unsqueeze(1)).squeeze(1));
            check_close(out, x.matmul((held / sigma).t()) + fc.bias, 1e-5, 1e-6);
        }
        const Tensor before = held.detach().clone();
        out.sum().backward();
        sgd.step();
        CHECK(!equal(held, before));

        // Several pending on one tensor apply in order; weight_norm's new originals appear too.
        LazyLinear sym(4);
        nn::parametrizations::weight_norm(sym);
        parametrize::register_parametrization(sym, "weight", Symmetric());
        sym(randn({2, 4}));
        CHECK(sym.state_dict().keys() == std::vector<std::string>{"bias", "parametrizations.weight.original0",
                                                                  "parametrizations.weight.original1"});
        CHECK(equal(sym.weight, sym.weight.t()));
        CHECK(parametrize::parametrizations(sym, "weight").size() == 2);

        // A copy made while pending applies its own copy of the parametrization.
        LazyLinear pending(2);
        nn::parametrizations::spectral_norm(pending);
        LazyLinear twin(pending);
        twin(randn({1, 3}));
        CHECK(parametrize::is_parametrized(twin, "weight"));
        CHECK(twin.state_dict().size() == 4);
        CHECK(pending.state_dict().keys() == std::vector<std::string>{"weight", "bias"});

        // Attached during initialize()'s eval-mode dry run, it still trains in training mode after.
        LazyLinear dry(2);
        nn::parametrizations::spectral_norm(dry);
        dry.initialize(randn({1, 3}));
        CHECK(dry.is_training());
        CHECK(parametrize::parametrizations(dry, "weight").at(0).is_training());

        LazyConv2d conv(4, 3);
        nn::parametrizations::weight_norm(conv);
        conv.initialize(randn({1, 2, 5, 5}));
        auto& wn = parametrize::parametrizations(conv, "weight");
        CHECK(wn.original(0).shape() == Shape{4, 1, 1, 1});
        check_close(conv.weight, wn.original(1), 1e-6, 1e-7);  // g = ||v|| at registration
    }

    TEST_CASE("errors name the module, the tensor and what was expected") {
        Linear fc(3, 2);
        CHECK_THROWS_WITH_AS(parametrize::register_parametrization(fc, "scale", Symmetric()),
                             "Module 'Linear' does not have a parameter, a buffer, or a parametrized element with "
                             "name 'scale'",
                             ValueError);
        CHECK_THROWS_WITH_AS(parametrize::register_parametrization(fc, "weight", Transposed()),
                             "Registering a parametrization may not change the shape of the tensor, unless `unsafe` "
                             "flag is enabled.\nunparametrized shape: torch.Size([2, 3])\nparametrized shape: "
                             "torch.Size([3, 2])",
                             ValueError);
        CHECK(!parametrize::is_parametrized(fc));
        CHECK(parameter_names(fc) == std::vector<std::string>{"weight", "bias"});
        parametrize::register_parametrization(fc, "weight", Transposed(), /*unsafe=*/true);
        CHECK(fc.weight.shape() == Shape{3, 2});
        CHECK_THROWS_WITH_AS(parametrize::parametrizations(fc, "weight").right_inverse(zeros({2, 3})),
                             "parametrization Transposed does not implement right_inverse.", RuntimeError);
        CHECK_THROWS_WITH_AS(
            nn::parametrizations::spectral_norm(fc, nn::parametrizations::SpectralNormOptions().name("w")),
            "Module 'ParametrizedLinear' has no parameter or buffer with name 'w'", ValueError);
        CHECK_THROWS_WITH_AS(nn::parametrizations::spectral_norm(
                                 fc, nn::parametrizations::SpectralNormOptions().n_power_iterations(0).name("bias")),
                             "Expected n_power_iterations to be positive, but got n_power_iterations=0", ValueError);
        Linear other(3, 2);
        CHECK_THROWS_WITH_AS(
            nn::parametrizations::spectral_norm(other, nn::parametrizations::SpectralNormOptions().dim(2)),
            "Dimension out of range (expected to be in range of [-2, 1] but got 2)", IndexError);
        CHECK_THROWS_WITH_AS(parametrize::remove_parametrizations(other, "weight"),
                             "Module Linear does not have a parametrization on weight", ValueError);
    }

    TEST_CASE("copies and clones parametrize their own originals") {
        Sequential net;
        net.push_back(Linear(4, 4));
        net.push_back(ReLU());
        nn::parametrizations::spectral_norm(net.get_submodule("0"));
        Sequential copy(net);
        const auto& original_keys = net.state_dict().keys();
        CHECK(copy.state_dict().keys() == original_keys);
        CHECK(copy.get_submodule("0").name() == "ParametrizedLinear");
        const Tensor x = randn({3, 4});
        net.eval();
        copy.eval();
        {
            NoGradGuard no_grad;
            check_close(copy(x), net(x), 1e-6, 1e-7);
            copy.get_parameter("0.parametrizations.weight.original").mul_(2.0);
        }
        // Spectral normalisation is scale-invariant, so compare the originals, not the outputs.
        CHECK(!equal(copy.get_parameter("0.parametrizations.weight.original"),
                     net.get_parameter("0.parametrizations.weight.original")));
        // Sequential does not fuse a parametrized Linear with its ReLU: the weight is computed.
        int calls = 0;
        Counting counting;
        counting.calls = &calls;
        Sequential fused;
        fused.push_back(Linear(4, 4));
        fused.push_back(ReLU());
        parametrize::register_parametrization(fused.get_submodule("0"), "weight", counting);
        calls = 0;
        fused(x);
        CHECK(calls == 1);
        std::unique_ptr<Module> cloned = net.get_submodule("0").clone();
        CHECK(cloned->state_dict().keys() == net.get_submodule("0").state_dict().keys());
        CHECK(!cloned->named_parameters()[1].second.is_same(net.get_submodule("0").named_parameters()[1].second));
    }

    TEST_CASE("Cached computes each parametrized tensor once in its scope") {
        int calls = 0;
        Linear fc(3, 3);
        Counting counting;
        counting.calls = &calls;
        parametrize::register_parametrization(fc, "weight", counting);
        CHECK(calls == 1);  // the registration's dtype/shape check, whose value the member keeps
        calls = 0;
        const Tensor x = randn({2, 3});
        fc(x);
        fc(x);
        CHECK(calls == 2);
        {
            parametrize::Cached cached;
            fc(x);
            fc(x);
            {
                parametrize::Cached nested;
                fc(x);
            }
            CHECK(calls == 3);
        }
        fc(x);
        CHECK(calls == 4);
    }

    TEST_CASE("a buffer can be parametrized too, its original staying a buffer") {
        struct Scaled : Cloneable<Scaled> {
            Buffer scale{this, "scale", ones({3})};
            Tensor forward(const Tensor& x) override { return x * scale; }  // [*, 3] -> [*, 3]
        };
        struct D : Cloneable<D> {
            Tensor forward(const Tensor& x) override { return x * 2.0; }
        };
        Scaled m;
        parametrize::register_parametrization(m, "scale", D());
        // PyTorch 1.13 gives these keys, no parameters and this repr for the same module.
        CHECK(m.state_dict().keys() == std::vector<std::string>{"parametrizations.scale.original"});
        CHECK(m.named_buffers().size() == 1);
        CHECK(m.named_parameters().empty());
        CHECK(m.str() ==
              "ParametrizedScaled(\n  (parametrizations): ModuleDict(\n    (scale): ParametrizationList(\n      (0): "
              "D()\n    )\n  )\n)");
        CHECK(equal(m(ones({3})), full({3}, 2.0)));
    }

    TEST_CASE("Module::to converts the originals; the value follows at the next call") {
        Linear fc(3, 2);
        nn::parametrizations::weight_norm(fc);
        fc.to(kFloat64);
        CHECK(parametrize::parametrizations(fc, "weight").original(0).dtype() == kFloat64);
        CHECK(fc(randn({1, 3}, kFloat64)).dtype() == kFloat64);
        CHECK(fc.weight.dtype() == kFloat64);
    }

    TEST_CASE("edges as PyTorch: empty weights, 0-dim tensors, NaN and inf weights") {
        const auto& edges = fixtures().at("edges");
        const auto decode = [](const nlohmann::json& entry) { return lazynn::testing::tensor_with_nonfinite(entry); };
        for (const char* name : {"spectral_norm_empty_input", "spectral_norm_empty_output", "weight_norm_empty_input",
                                 "spectral_norm_nan_weight", "weight_norm_inf_weight"}) {
            CAPTURE(name);
            const auto& c = edges.at(name);
            const Tensor weight = decode(c.at("state").at("weight"));
            Linear m(weight.size(1), weight.size(0));
            m.to(kFloat64);
            StateDict state;
            state.insert("weight", weight);
            state.insert("bias", decode(c.at("state").at("bias")));
            m.load_state_dict(state);
            if (std::string(name).rfind("spectral", 0) == 0)
                parametrizations::spectral_norm(m);
            else
                parametrizations::weight_norm(m);
            lazynn::testing::check_same(m(decode(c.at("input"))), decode(c.at("output")), false, 1e-12);
            lazynn::testing::check_same(m.weight, decode(c.at("weight")), false, 1e-12);
        }
        // A 0-dim tensor has no dimension to normalise over: IndexError, as in PyTorch.
        struct Scalar : Module {
            Parameter w{this, "w"};
            Scalar() { w = Parameter(full({}, 2.0, kFloat64)); }
        };
        Scalar a, b;
        CHECK(edges.at("spectral_norm_scalar").at("type") == "IndexError");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            parametrizations::spectral_norm(a, parametrizations::SpectralNormOptions().name("w")), IndexError,
            edges.at("spectral_norm_scalar").at("message").get<std::string>());
        CHECK(edges.at("weight_norm_scalar").at("type") == "IndexError");
        CHECK_THROWS_AS(parametrizations::weight_norm(b, "w"), IndexError);
        CHECK_FALSE(parametrize::is_parametrized(a));
        CHECK_FALSE(parametrize::is_parametrized(b));
    }

    TEST_CASE("gradcheck: spectral and weight normalisation in float64") {
        nn::parametrizations::SpectralNorm sn(1, 0, 1e-12);
        const Tensor w = randn({4, 3}, kFloat64).requires_grad_();
        sn.attach(w.detach());
        sn.eval();  // fixed power-iteration vectors: a function of w alone
        CHECK(autograd::gradcheck([&](const std::vector<Tensor>& in) { return sn(in[0]); }, {w}));
        nn::parametrizations::SpectralNorm sn_dim(1, 1, 1e-12);
        const Tensor w3 = randn({2, 3, 2}, kFloat64).requires_grad_();
        sn_dim.attach(w3.detach());
        sn_dim.eval();
        CHECK(autograd::gradcheck([&](const std::vector<Tensor>& in) { return sn_dim(in[0]); }, {w3}));

        for (const std::int64_t dim : {0, 1, -1}) {
            CAPTURE(dim);
            nn::parametrizations::WeightNorm wn(dim);
            const Tensor v = randn({3, 2, 2}, kFloat64).requires_grad_();
            const Tensor g = nn::parametrizations::norm_except_dim(v.detach(), dim).clone().requires_grad_();
            CHECK(autograd::gradcheck([&](const std::vector<Tensor>& in) { return wn(in[0], in[1]); }, {g, v}));
        }
    }
}
