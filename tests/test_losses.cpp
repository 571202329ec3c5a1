// Every loss against PyTorch (values and input gradients from tests/fixtures/training.json,
// made by tools/fixtures/gen_training.py), gradcheck in float64, and error messages.
#include "test_support.hpp"

#include <functional>
#include <map>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;
namespace F = lazynn::nn::functional;

namespace {

using LossFn = std::function<Tensor(const std::vector<Tensor>& inputs, const std::vector<Tensor>& extras)>;

Tensor labels(const Tensor& t) { return t.to(kInt64); }

CrossEntropyLossOptions ce(Reduction reduction = Reduction::Mean, Tensor weight = Tensor(), double smoothing = 0.0) {
    return CrossEntropyLossOptions().reduction(reduction).weight(std::move(weight)).label_smoothing(smoothing);
}

const std::map<std::string, LossFn>& cases() {
    static const std::map<std::string, LossFn> table = {
        {"mse_mean", [](const auto& x, const auto&) { return F::mse_loss(x[0], x[1]); }},
        {"mse_sum", [](const auto& x, const auto&) { return F::mse_loss(x[0], x[1], Reduction::Sum); }},
        {"mse_none", [](const auto& x, const auto&) { return F::mse_loss(x[0], x[1], Reduction::None); }},
        {"l1_mean", [](const auto& x, const auto&) { return F::l1_loss(x[0], x[1]); }},
        {"smooth_l1", [](const auto& x, const auto&) { return F::smooth_l1_loss(x[0], x[1], Reduction::Mean, 0.5); }},
        {"huber", [](const auto& x, const auto&) { return F::huber_loss(x[0], x[1], Reduction::Mean, 1.5); }},
        {"ce_basic", [](const auto& x, const auto& e) { return F::cross_entropy(x[0], labels(e[0])); }},
        {"ce_sum",
         [](const auto& x, const auto& e) { return F::cross_entropy(x[0], labels(e[0]), ce(Reduction::Sum)); }},
        {"ce_none",
         [](const auto& x, const auto& e) { return F::cross_entropy(x[0], labels(e[0]), ce(Reduction::None)); }},
        {"ce_weight",
         [](const auto& x, const auto& e) { return F::cross_entropy(x[0], labels(e[0]), ce(Reduction::Mean, e[1])); }},
        {"ce_ignore", [](const auto& x, const auto& e) { return F::cross_entropy(x[0], labels(e[0])); }},
        {"ce_smoothing",
         [](const auto& x, const auto& e) {
             return F::cross_entropy(x[0], labels(e[0]), ce(Reduction::Mean, Tensor(), 0.2));
         }},
        {"ce_weight_smoothing_ignore",
         [](const auto& x, const auto& e) {
             return F::cross_entropy(x[0], labels(e[0]), ce(Reduction::Mean, e[1], 0.1));
         }},
        {"ce_nd", [](const auto& x, const auto& e) { return F::cross_entropy(x[0], labels(e[0])); }},
        {"ce_nd_none",
         [](const auto& x, const auto& e) { return F::cross_entropy(x[0], labels(e[0]), ce(Reduction::None)); }},
        {"ce_probabilities", [](const auto& x, const auto& e) { return F::cross_entropy(x[0], e[0]); }},
        {"ce_probabilities_smoothing",
         [](const auto& x, const auto& e) { return F::cross_entropy(x[0], e[0], ce(Reduction::Mean, e[1], 0.3)); }},
        {"nll", [](const auto& x, const auto& e) { return F::nll_loss(x[0], labels(e[0]), e[1]); }},
        {"bce", [](const auto& x, const auto&) { return F::binary_cross_entropy(x[0], x[1]); }},
        {"bce_weight", [](const auto& x, const auto& e) { return F::binary_cross_entropy(x[0], e[0], e[1]); }},
        {"bce_logits", [](const auto& x, const auto&) { return F::binary_cross_entropy_with_logits(x[0], x[1]); }},
        {"bce_logits_pos_weight",
         [](const auto& x, const auto& e) { return F::binary_cross_entropy_with_logits(x[0], e[0], Tensor(), e[1]); }},
        {"kl_div_batchmean",
         [](const auto& x, const auto& e) { return F::kl_div(x[0], e[0], KLDivReduction::BatchMean); }},
        {"kl_div_log_target_sum",
         [](const auto& x, const auto& e) { return F::kl_div(x[0], e[0], KLDivReduction::Sum, true); }},
        {"cosine_embedding",
         [](const auto& x, const auto& e) { return F::cosine_embedding_loss(x[0], x[1], e[0], 0.2); }},
        {"margin_ranking", [](const auto& x, const auto& e) { return F::margin_ranking_loss(x[0], x[1], e[0], 0.3); }},
        {"triplet", [](const auto& x, const auto&) { return F::triplet_margin_loss(x[0], x[1], x[2], 1.0); }},
        {"triplet_swap_p1",
         [](const auto& x, const auto&) { return F::triplet_margin_loss(x[0], x[1], x[2], 2.0, 1.0, 1e-6, true); }},
    };
    return table;
}

}  // namespace

TEST_SUITE("losses vs PyTorch") {
    TEST_CASE("every fixture case is covered") {
        const auto fixture = lazynn::testing::load_fixture("training.json");
        CHECK(fixture.at("losses").size() == cases().size());
    }

    TEST_CASE("values and gradients match PyTorch in float64; gradcheck passes") {
        const auto fixture = lazynn::testing::load_fixture("training.json");
        for (const auto& [name_entry, fn_entry] : cases()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            const auto& fn = fn_entry;
            CAPTURE(name);
            const auto& c = fixture.at("losses").at(name);
            std::vector<Tensor> inputs, extras;
            for (const auto& in : c.at("inputs")) inputs.push_back(fixture_tensor(in).requires_grad_());
            for (const auto& ex : c.at("extras")) extras.push_back(fixture_tensor(ex));
            const Tensor out = fn(inputs, extras);
            check_close(out, fixture_tensor(c.at("output")), 1e-9, 1e-12);
            (out * fixture_tensor(c.at("weight"))).sum().backward();
            for (std::size_t k = 0; k < inputs.size(); ++k) {
                CAPTURE(k);
                check_close(inputs[k].grad(), fixture_tensor(c.at("grads")[k]), 1e-8, 1e-10);
            }
            const auto check =
                autograd::gradcheck([&](const std::vector<Tensor>& in) { return fn(in, extras); }, inputs);
            CHECK_MESSAGE(check.ok, check.message);
        }
    }

    TEST_CASE("float32 values agree to 1e-5 relative") {
        const auto fixture = lazynn::testing::load_fixture("training.json");
        for (const auto& [name_entry, fn] : cases()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = fixture.at("losses").at(name);
            std::vector<Tensor> inputs, extras;
            for (const auto& in : c.at("inputs")) inputs.push_back(fixture_tensor(in, kFloat32));
            for (const auto& ex : c.at("extras")) extras.push_back(fixture_tensor(ex, kFloat32));
            check_close(fn(inputs, extras), fixture_tensor(c.at("output")), 1e-5, 1e-6);
        }
    }
}

TEST_SUITE("loss modules and errors") {
    TEST_CASE("modules wrap the functional forms") {
        const Tensor x = tensor({{1.0, 2.0, 0.5}, {0.1, 0.2, 3.0}});
        const Tensor y = tensor({1, 2});
        CrossEntropyLoss loss;
        CHECK(loss(x, y).item<float>() == doctest::Approx(F::cross_entropy(x, y).item<float>()));
        CHECK(loss.name() == "CrossEntropyLoss");
        MSELoss mse(Reduction::Sum);
        CHECK(mse(ones({2}), zeros({2})).item<float>() == 2.0f);
        CHECK(parse_reduction("sum") == Reduction::Sum);
        CHECK_THROWS_AS(parse_reduction("avg"), ValueError);
    }

    TEST_CASE("cross entropy is stable for huge logits") {
        const Tensor x = tensor({{1000.0, 0.0}, {-1000.0, 1000.0}});
        const Tensor loss = F::cross_entropy(x, tensor({0, 1}));
        CHECK(std::isfinite(loss.item<float>()));
        CHECK(loss.item<float>() == doctest::Approx(0.0));
    }

    TEST_CASE("bad targets say what is wrong") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(F::cross_entropy(ones({2, 3}), tensor({0, 3})), IndexError,
                                        "target 3 is out of bounds for 3 classes");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(F::cross_entropy(ones({2, 3}), tensor({0, 1, 2})), ShapeError,
                                        "expected target of shape [2]");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(F::mse_loss(ones({2, 3}), ones({3})), ShapeError,
                                        "input and target must have the same shape");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(F::binary_cross_entropy(tensor({1.5}), tensor({1.0})), ValueError,
                                        "between 0 and 1");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(F::cross_entropy(ones({2, 3}), tensor({0.5, 1.5})), ShapeError, "same shape");
    }
}
