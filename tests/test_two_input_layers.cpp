// Layers that take two inputs, against PyTorch (the "two_input" cases of tests/fixtures/layers.json,
// from tools/fixtures/gen_layers.py): Bilinear (modules/src/linear.cpp), CosineSimilarity and
// PairwiseDistance (modules/src/distance.cpp). Values, both inputs' and the parameters' gradients
// and printing in float64, values in float32, gradcheck in float64; LazyBilinear, broadcasting and
// errors.
#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <map>
#include <memory>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;
namespace F = lazynn::nn::functional;

namespace {

/// A two-input layer and how to call it (each class has its own two-argument operator()).
struct TwoInputLayer {
    std::shared_ptr<Module> module;
    std::function<Tensor(const Tensor&, const Tensor&)> call;
};

template <class M, class... Args>
std::function<TwoInputLayer()> make(Args... args) {
    return [=] {
        auto m = std::make_shared<M>(args...);
        return TwoInputLayer{m, [m](const Tensor& a, const Tensor& b) { return (*m)(a, b); }};
    };
}

const std::map<std::string, std::function<TwoInputLayer()>>& cases() {
    static const std::map<std::string, std::function<TwoInputLayer()>> table = {
        {"bilinear", make<Bilinear>(3, 4, 2)},
        {"bilinear_nobias_batched", make<Bilinear>(2, 3, 4, false)},
        {"bilinear_unbatched", make<Bilinear>(3, 2, 2)},
        {"cosine_similarity", make<CosineSimilarity>()},
        {"cosine_similarity_dim_last_broadcast", make<CosineSimilarity>(CosineSimilarityOptions().dim(-1).eps(1e-6))},
        {"cosine_similarity_zero_vectors", make<CosineSimilarity>()},
        {"pairwise_distance", make<PairwiseDistance>()},
        {"pairwise_distance_p1_keepdim", make<PairwiseDistance>(PairwiseDistanceOptions().p(1.0).keepdim(true))},
        {"pairwise_distance_p3_broadcast", make<PairwiseDistance>(PairwiseDistanceOptions().p(3.0).eps(1e-3))},
        {"pairwise_distance_inf", make<PairwiseDistance>(PairwiseDistanceOptions().p(INFINITY))},
        {"pairwise_distance_negative_p", make<PairwiseDistance>(PairwiseDistanceOptions().p(-1.5))},
    };
    return table;
}

StateDict fixture_state(const nlohmann::json& c) {
    StateDict sd;
    for (auto it = c.at("state").begin(); it != c.at("state").end(); ++it)
        sd.insert(it.key(), fixture_tensor(it.value()));
    return sd;
}

}  // namespace

TEST_SUITE("two-input layers vs PyTorch") {
    TEST_CASE("every fixture case is covered") {
        CHECK(lazynn::testing::load_fixture("layers.json").at("two_input").size() == cases().size());
    }

    TEST_CASE("values, both inputs' and the parameters' gradients and printing match in float64; gradcheck passes") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        for (const auto& [name_entry, make_layer] : cases()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = fixture.at("two_input").at(name);
            const TwoInputLayer layer = make_layer();
            layer.module->to(kFloat64);
            CHECK(layer.module->load_state_dict(fixture_state(c)).ok());
            Tensor x1 = fixture_tensor(c.at("inputs")[0]).requires_grad_();
            Tensor x2 = fixture_tensor(c.at("inputs")[1]).requires_grad_();
            const Tensor y = layer.call(x1, x2);
            check_close(y, fixture_tensor(c.at("output")), 1e-9, 1e-12);
            (y * fixture_tensor(c.at("weight"))).sum().backward();
            check_close(x1.grad(), fixture_tensor(c.at("grads")[0]), 1e-8, 1e-10);
            check_close(x2.grad(), fixture_tensor(c.at("grads")[1]), 1e-8, 1e-10);
            for (auto it = c.at("param_grads").begin(); it != c.at("param_grads").end(); ++it) {
                CAPTURE(it.key());
                check_close(layer.module->get_parameter(it.key()).grad(), fixture_tensor(it.value()), 1e-9, 1e-12);
            }
            CHECK(layer.module->str() == c.at("repr").get<std::string>());
            if (name == "cosine_similarity_zero_vectors") continue;  // clamped norms: not differentiable there
            std::vector<Tensor> inputs{fixture_tensor(c.at("inputs")[0]).requires_grad_(),
                                       fixture_tensor(c.at("inputs")[1]).requires_grad_()};
            for (const Tensor& p : layer.module->parameters()) inputs.push_back(p);
            const auto check =
                autograd::gradcheck([&](const std::vector<Tensor>& in) { return layer.call(in[0], in[1]); }, inputs);
            CHECK_MESSAGE(check.ok, check.message);
        }
    }

    TEST_CASE("float32 values agree to 1e-5 relative") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        for (const auto& [name_entry, make_layer] : cases()) {
            const auto& name = name_entry;
            CAPTURE(name);
            const auto& c = fixture.at("two_input").at(name);
            const TwoInputLayer layer = make_layer();
            StateDict state;
            for (const auto& [key, value] : fixture_state(c)) state.insert(key, value.to(kFloat32));
            CHECK(layer.module->load_state_dict(state).ok());
            const Tensor y =
                layer.call(fixture_tensor(c.at("inputs")[0], kFloat32), fixture_tensor(c.at("inputs")[1], kFloat32));
            CHECK(y.dtype() == kFloat32);
            check_close(y, fixture_tensor(c.at("output")), 1e-5, 1e-6);
        }
    }
}

TEST_SUITE("Bilinear") {
    TEST_CASE("LazyBilinear infers both input sizes, keeps its parameter list, and equals Bilinear") {
        manual_seed(5);
        Bilinear eager(3, 4, 2);
        manual_seed(5);
        LazyBilinear lazy(2);
        CHECK(lazy.name() == "LazyBilinear");
        const auto before = lazy.named_parameters();
        const Tensor a = randn({5, 3}), b = randn({5, 4});
        const Tensor y = lazy(a, b);
        CHECK(lazy.name() == "Bilinear");
        CHECK(lazy.str() == "Bilinear(in1_features=3, in2_features=4, out_features=2, bias=True)");
        CHECK(lazy.weight.shape() == Shape{2, 3, 4});
        const auto after = lazy.named_parameters();
        REQUIRE(after.size() == before.size());
        for (std::size_t i = 0; i < after.size(); ++i) {
            CHECK(after[i].first == before[i].first);
            CHECK(after[i].second.is_same(before[i].second));  // the same objects, now materialised
        }
        CHECK(equal(lazy.weight, eager.weight));  // same seed, same draws
        CHECK(equal(y, eager(a, b)));
    }

    TEST_CASE("LazyBilinear materialises from a checkpoint and refuses a weight of the wrong rank") {
        Bilinear trained(2, 3, 4);
        LazyBilinear fresh(4);
        fresh.load_state_dict(trained.state_dict());
        CHECK(fresh.options().in1_features() == 2);
        CHECK(fresh.options().in2_features() == 3);
        CHECK(equal(fresh.weight, trained.weight));
        LazyBilinear bad(4);
        StateDict sd;
        sd.insert("weight", ones({4, 6}));
        sd.insert("bias", ones({4}));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bad.load_state_dict(sd), RuntimeError,
                                        "expected [4, in1_features, in2_features]");
        CHECK(bad.is_lazy());
    }

    TEST_CASE("inputs that do not fit say which and how, with PyTorch's words") {
        Bilinear bilinear(3, 4, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bilinear(ones({5, 2}), ones({5, 4})), ShapeError,
                                        "input1 size does not match weight size: got 2 but expected 3");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bilinear(ones({5, 3}), ones({5, 5})), ShapeError,
                                        "input2 size does not match weight size: got 5 but expected 4");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bilinear(ones({5, 3}), ones({4, 4})), ShapeError,
                                        "input batch dimensions do not match at dim 0: got 5 and 4");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bilinear(ones({5, 3}), ones({5, 1, 4})), ShapeError,
                                        "Bilinear(in1_features=3, in2_features=4, out_features=2): input dimensions "
                                        "do not match: got 2 and 3");
        CHECK_THROWS_AS(bilinear(ones({5, 3}, kFloat64), ones({5, 4}, kFloat64)), DtypeError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Bilinear(-1, 2, 3), ValueError, "must be non-negative");
    }
}

TEST_SUITE("distances") {
    TEST_CASE("shapes: the compared dim goes, broadcasting first; 1-D inputs give a 0-dim result") {
        CHECK(F::cosine_similarity(randn({2, 3, 1}), randn({1, 3, 4})).shape() == Shape{2, 4});
        CHECK(F::cosine_similarity(randn({3}), randn({2, 3}), -1).shape() == Shape{2});
        CHECK(F::cosine_similarity(randn({3}), randn({3}), 0).dim() == 0);
        CHECK(F::pairwise_distance(randn({3}), randn({3})).dim() == 0);
        CHECK(F::pairwise_distance(randn({2, 3}), randn({3})).shape() == Shape{2});
        CHECK(F::pairwise_distance(randn({2, 3}), randn({2, 3}), 2.0, 1e-6, true).shape() == Shape{2, 1});
    }

    TEST_CASE("p = 0 counts the differing elements, without a gradient (PyTorch's)") {
        const Tensor a = tensor({{1.0, 2.0, 3.0}}, kFloat64).requires_grad_();
        const Tensor d = F::pairwise_distance(a, tensor({{1.0, 0.0, 3.0}}, kFloat64), 0.0, 0.0);
        CHECK(d.to_vector<double>() == std::vector<double>{1.0});
        CHECK_FALSE(d.requires_grad());
    }

    TEST_CASE("hooks see both inputs") {
        PairwiseDistance distance;
        std::size_t seen = 0;
        distance.register_forward_pre_hook([&](Module&, const std::vector<Tensor>& in) { seen = in.size(); });
        (void)distance(ones({2, 3}), zeros({2, 3}));
        CHECK(seen == 2);
    }

    TEST_CASE("inputs that do not broadcast, a bad dim and a NaN p say so") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(F::cosine_similarity(ones({2, 3}), ones({2, 4})), ShapeError,
                                        "cosine_similarity");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(F::cosine_similarity(ones({2, 3}), ones({2, 3}), 2), IndexError,
                                        "Dimension out of range");
        CHECK_THROWS_AS(F::pairwise_distance(ones({2, 3}), ones({2, 4})), ShapeError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(F::pairwise_distance(ones({2, 3}), zeros({2, 3}), NAN), ValueError,
                                        "p must be a number");
    }
}
