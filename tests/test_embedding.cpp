// Embedding and EmbeddingBag (modules/src/embedding.cpp): lookup, padding and max_norm; bags against PyTorch
// (tests/fixtures/layers.json), per_sample_weights and padding_idx.
#include "test_support.hpp"

#include <string>
#include <utility>
#include <vector>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

TEST_SUITE("Embedding") {
    TEST_CASE("Embedding: lookup, padding_idx gets no gradient, max_norm renormalises") {
        Embedding emb(EmbeddingOptions(5, 3).padding_idx(1));
        CHECK(equal(emb.weight.select(0, 1), zeros({3})));
        const Tensor idx = tensor({{0, 1}, {4, 1}});
        const Tensor out = emb(idx);
        CHECK(out.shape() == Shape{2, 2, 3});
        CHECK(equal(out.select(0, 1).select(0, 0), emb.weight.select(0, 4)));
        out.sum().backward();
        CHECK(equal(emb.weight.grad().select(0, 1), zeros({3})));
        CHECK(equal(emb.weight.grad().select(0, 0), ones({3})));
        CHECK(emb.str() == "Embedding(5, 3, padding_idx=1)");
        Embedding capped(EmbeddingOptions(4, 2).max_norm(1.0));
        {
            NoGradGuard no_grad;
            capped.weight.fill_(3.0);
        }
        capped(tensor({2}));
        CHECK(capped.weight.select(0, 2).pow(2).sum().sqrt().item<float>() == doctest::Approx(1.0).epsilon(1e-4));
        CHECK(capped.weight.select(0, 0).sum().item<float>() == 6.0f);  // rows not looked up are untouched
        CHECK_THROWS_AS(emb(tensor({0.0})), DtypeError);
        CHECK_THROWS_AS(emb(tensor({7})), IndexError);
    }
}

namespace {
/// The fixtures name PyTorch's mode strings.
EmbeddingBagMode bag_mode(const std::string& mode) {
    return mode == "sum" ? EmbeddingBagMode::Sum : mode == "mean" ? EmbeddingBagMode::Mean : EmbeddingBagMode::Max;
}

/// Makes `table` (an Embedding or EmbeddingBag) float64 and loads the fixture case's PyTorch weight.
void load_fixture_weight(Module& table, const nlohmann::json& c) {
    table.to(kFloat64);
    StateDict sd;
    sd.insert("weight", fixture_tensor(c.at("weight")));
    REQUIRE(table.load_state_dict(sd).ok());
}
}  // namespace

TEST_SUITE("EmbeddingBag") {
    TEST_CASE("sum, mean and max bags with offsets (an empty bag included) match PyTorch") {
        const auto bags = lazynn::testing::load_fixture("layers.json").at("embedding_bag");
        for (const std::string mode : {"sum", "mean", "max"}) {
            CAPTURE(mode);
            const auto& c = bags.at(mode);
            EmbeddingBag bag(7, 3, bag_mode(mode));
            load_fixture_weight(bag, c);
            const Tensor out = bag.bags(tensor({1, 2, 4, 5, 4, 3, 2, 6}), tensor({0, 2, 2, 5}));
            check_close(out, fixture_tensor(c.at("output")), 1e-12, 1e-12);
            (out * fixture_tensor(c.at("seed"))).sum().backward();
            check_close(bag.weight.grad(), fixture_tensor(c.at("grad")), 1e-12, 1e-12);
        }
        EmbeddingBag fixed(5, 2, EmbeddingBagMode::Sum);
        CHECK(fixed(tensor({{0, 1}, {2, 3}})).shape() == Shape{2, 2});
        CHECK(fixed.str() == "EmbeddingBag(5, 2, mode=sum)");
        CHECK_THROWS_AS(fixed.bags(tensor({0, 1}), Tensor()), ValueError);
    }

    TEST_CASE("per_sample_weights and padding_idx match PyTorch") {
        const auto bags = lazynn::testing::load_fixture("layers.json").at("embedding_bag");
        for (const auto& [name_entry, mode] : std::vector<std::pair<std::string, std::string>>{
                 {"sum_weighted_padding", "sum"}, {"mean_padding", "mean"}, {"max_padding", "max"}}) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = bags.at(name);
            EmbeddingBag bag(EmbeddingBagOptions(7, 3).mode(bag_mode(mode)).padding_idx(2));
            CHECK(bag.weight.select(0, 2).abs().sum().item<double>() == 0);  // the padding row starts at zero
            CHECK(bag.str() == c.at("repr").get<std::string>());
            load_fixture_weight(bag, c);
            Tensor psw;
            if (!c.at("per_sample_weights").is_null())
                psw = fixture_tensor(c.at("per_sample_weights")).requires_grad_();
            const Tensor out = bag.bags(tensor({1, 2, 4, 2, 2, 3, 2, 6}), tensor({0, 2, 3, 5}), psw);
            check_close(out, fixture_tensor(c.at("output")), 1e-12, 1e-12);
            (out * fixture_tensor(c.at("seed"))).sum().backward();
            check_close(bag.weight.grad(), fixture_tensor(c.at("grad")), 1e-12, 1e-12);
            if (psw.defined()) check_close(psw.grad(), fixture_tensor(c.at("grad_per_sample_weights")), 1e-12, 1e-12);
        }
        EmbeddingBag mean(5, 2, EmbeddingBagMode::Mean);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(mean.bags(tensor({{1, 2}}), Tensor(), ones({1, 2})), NotImplementedError,
                                        "per_sample_weights is only supported for mode='sum' (got mode='mean')");
        EmbeddingBag sum(5, 2, EmbeddingBagMode::Sum);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(sum.bags(tensor({{1, 2}}), Tensor(), ones({1, 3})), ValueError,
                                        "must have the same shape as the input ([1, 2])");
        EmbeddingBag weighted(5, 2, EmbeddingBagMode::Sum);
        weighted.to(kFloat64);
        const Tensor w = rand({2, 3}, TensorOptions().dtype(kFloat64)).requires_grad_();
        CHECK(autograd::gradcheck(
            [&](const std::vector<Tensor>& in) {
                return weighted.bags(tensor({{1, 2, 1}, {4, 0, 3}}), Tensor(), in[0]);
            },
            {w}));
    }
}

TEST_SUITE("Embedding and EmbeddingBag: max_norm, scale_grad_by_freq, include_last_offset") {
    TEST_CASE("bags with max_norm, scale_grad_by_freq and include_last_offset match PyTorch") {
        const auto fixture = lazynn::testing::load_fixture("layers.json").at("embedding_extras");
        for (auto it = fixture.begin(); it != fixture.end(); ++it) {
            if (!it.value().contains("options")) continue;  // the plain Embedding case, below
            CAPTURE(it.key());
            const auto& c = it.value();
            const auto& o = c.at("options");
            EmbeddingBagOptions options(6, 3);
            options.mode(bag_mode(o.at("mode").get<std::string>()))
                .norm_type(o.value("norm_type", 2.0))
                .scale_grad_by_freq(o.value("scale_grad_by_freq", false))
                .include_last_offset(o.value("include_last_offset", false));
            if (o.contains("max_norm")) options.max_norm(o.at("max_norm").get<double>());
            if (o.contains("padding_idx")) options.padding_idx(o.at("padding_idx").get<std::int64_t>());
            EmbeddingBag bag(options);
            load_fixture_weight(bag, c);
            const auto ids = c.at("indices").get<std::vector<std::int64_t>>();
            const auto offsets = c.at("offsets").get<std::vector<std::int64_t>>();
            const Tensor out = bag.bags(tensor(ids, {static_cast<std::int64_t>(ids.size())}),
                                        tensor(offsets, {static_cast<std::int64_t>(offsets.size())}));
            check_close(out, fixture_tensor(c.at("output")), 1e-12, 1e-12);
            check_close(bag.weight, fixture_tensor(c.at("weight_after")), 1e-12, 1e-12);
            (out * fixture_tensor(c.at("seed"))).sum().backward();
            check_close(bag.weight.grad(), fixture_tensor(c.at("grad")), 1e-12, 1e-12);
            CHECK(bag.str() == c.at("repr").get<std::string>());
        }
    }

    TEST_CASE("Embedding's scale_grad_by_freq with max_norm matches PyTorch") {
        const auto c =
            lazynn::testing::load_fixture("layers.json").at("embedding_extras").at("embedding_scale_grad_max_norm");
        Embedding emb(EmbeddingOptions(6, 3).scale_grad_by_freq(true).max_norm(2.0));
        load_fixture_weight(emb, c);
        const auto ids = c.at("indices").get<std::vector<std::vector<std::int64_t>>>();
        std::vector<std::int64_t> flat;
        for (const auto& row : ids) flat.insert(flat.end(), row.begin(), row.end());
        const Tensor out =
            emb(tensor(flat, {static_cast<std::int64_t>(ids.size()), static_cast<std::int64_t>(ids[0].size())}));
        check_close(out, fixture_tensor(c.at("output")), 1e-12, 1e-12);
        check_close(emb.weight, fixture_tensor(c.at("weight_after")), 1e-12, 1e-12);
        (out * fixture_tensor(c.at("seed"))).sum().backward();
        check_close(emb.weight.grad(), fixture_tensor(c.at("grad")), 1e-12, 1e-12);
        CHECK(emb.str() == c.at("repr").get<std::string>());
    }

    TEST_CASE("the new options refuse what PyTorch leaves undefined, naming the fix") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            EmbeddingBag(EmbeddingBagOptions(4, 2).mode(EmbeddingBagMode::Max).scale_grad_by_freq(true)), ValueError,
            "scale_grad_by_freq is not supported with mode='max'");
        EmbeddingBag bag(EmbeddingBagOptions(4, 2).mode(EmbeddingBagMode::Sum).include_last_offset(true));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bag.bags(tensor({0, 1, 2}), tensor({0, 2})), ValueError,
                                        "the last offset must equal the number of indices (3), got offsets [0, 2]");
        CHECK(bag.bags(tensor({0, 1, 2}), tensor({0, 2, 3})).shape() == Shape{2, 2});
    }
}
