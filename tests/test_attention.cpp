// Attention (modules/src/attention.cpp): MultiheadAttention against PyTorch, masks, the transformer
// encoder, and LazyMultiheadAttention.
#include "test_support.hpp"

#include <cmath>
#include <limits>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

TEST_SUITE("attention") {
    TEST_CASE("cross-attention with kdim/vdim and masks matches PyTorch, weights included") {
        const auto a = lazynn::testing::load_fixture("layers.json").at("attention");
        MultiheadAttention mha(MultiheadAttentionOptions(6, 2).kdim(4).vdim(5));
        mha.to(kFloat64);
        StateDict sd;
        for (auto it = a.at("state").begin(); it != a.at("state").end(); ++it)
            sd.insert(it.key(), fixture_tensor(it.value()));
        CHECK(mha.load_state_dict(sd).ok());
        // The fixture stores -inf as -1e30 (JSON has no infinity); both mask the same way.
        auto mask = [](const Tensor& t) { return where(t < -1e29, full_like(t, -INFINITY), t); };
        AttentionCall call;
        call.attn_mask = mask(fixture_tensor(a.at("attn_mask")));
        call.key_padding_mask = mask(fixture_tensor(a.at("key_padding")));
        const AttentionResult r =
            mha(fixture_tensor(a.at("q")), fixture_tensor(a.at("k")), fixture_tensor(a.at("v")), call);
        check_close(r.output, fixture_tensor(a.at("output")), 1e-9, 1e-12);
        check_close(r.weights, fixture_tensor(a.at("weights")), 1e-9, 1e-12);
        CHECK(mha.named_parameters()[0].first == "q_proj_weight");
    }

    TEST_CASE("causal masks, per-head weights and errors") {
        MultiheadAttention mha(4, 2);
        const Tensor x = randn({3, 1, 4});
        AttentionCall call;
        call.is_causal = true;
        call.average_attn_weights = false;
        const AttentionResult r = mha(x, x, x, call);
        CHECK(r.weights.shape() == Shape{1, 2, 3, 3});
        CHECK(r.weights.select(2, 0).select(2, 1).abs().sum().item<float>() ==
              0.0f);  // position 0 cannot see position 1
        const double inf = std::numeric_limits<double>::infinity();
        CHECK(equal(causal_mask(2), tensor({{0.0, -inf}, {0.0, 0.0}})));
        CHECK(equal(additive_mask(tensor({0.0, 1.0})), tensor({0.0, -inf})));
        CHECK_THROWS_AS(MultiheadAttention(6, 4), ValueError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(mha(randn({3, 1, 5}), x, x), ShapeError,
                                        "was expecting embedding dimension of 4, but got 5");
        nn::TransformerEncoder encoder(TransformerEncoderLayer(TransformerEncoderLayerOptions(4, 2).dim_feedforward(8)),
                                       3);
        CHECK(encoder.num_layers() == 3);
        CHECK(encoder(randn({5, 2, 4})).shape() == Shape{5, 2, 4});
        CHECK(encoder.named_parameters()[0].first == "layers.0.self_attn.in_proj_weight");
    }
}

TEST_SUITE("lazy attention") {
    TEST_CASE("LazyMultiheadAttention infers embed_dim, kdim and vdim and matches the eager layer") {
        for (const bool separate : {false, true}) {
            const std::int64_t kdim = separate ? 3 : 6, vdim = separate ? 5 : 6;
            manual_seed(21);
            MultiheadAttention eager(MultiheadAttentionOptions(6, 2).kdim(kdim).vdim(vdim).batch_first(true));
            manual_seed(21);
            LazyMultiheadAttention lazy(
                MultiheadAttentionOptions(0, 2).batch_first(true).separate_projections(separate));
            CHECK(lazy.name() == "LazyMultiheadAttention");
            std::vector<std::string> before, names, eager_names;
            for (const auto& [name, p] : lazy.named_parameters()) before.push_back(name);
            const std::vector<Parameter> held = lazy.parameters();  // like an optimizer built before the forward
            const Tensor q = randn({2, 4, 6}), k = randn({2, 5, kdim}), v = randn({2, 5, vdim});
            const AttentionResult expected = eager(q, k, v);
            const AttentionResult actual = lazy(q, k, v);
            CHECK(lazy.name() == "MultiheadAttention");
            CHECK(lazy.options().embed_dim() == 6);
            CHECK(lazy.options().kdim() == kdim);
            CHECK(lazy.options().vdim() == vdim);
            CHECK(equal(actual.output, expected.output));
            CHECK(equal(actual.weights, expected.weights));
            for (const auto& [name, p] : lazy.named_parameters()) names.push_back(name);
            for (const auto& [name, p] : eager.named_parameters()) eager_names.push_back(name);
            CHECK(names == eager_names);
            CHECK(before == names);  // the parameter list is fixed at construction
            const std::vector<Parameter> after = lazy.parameters();
            REQUIRE(held.size() == after.size());
            for (std::size_t i = 0; i < held.size(); ++i) CHECK(held[i].is_same(after[i]));
            CHECK(lazy.str() == eager.str());

            LazyMultiheadAttention loaded(
                MultiheadAttentionOptions(0, 2).batch_first(true).separate_projections(separate));
            CHECK(loaded.load_state_dict(eager.state_dict()).ok());  // no forward needed
            CHECK(loaded.name() == "MultiheadAttention");
            CHECK(loaded.options().kdim() == kdim);
            CHECK(loaded.out_proj.in_features() == 6);
            CHECK(equal(loaded(q, k, v).output, expected.output));

            // A checkpoint of the other layout names the option to change and leaves the module lazy.
            LazyMultiheadAttention other(
                MultiheadAttentionOptions(0, 2).batch_first(true).separate_projections(!separate));
            LAZYNN_CHECK_THROWS_WITH_SUBSTR(other.load_state_dict(eager.state_dict()), RuntimeError,
                                            separate ? "separate_projections(true)" : "separate_projections(false)");
            CHECK(other.is_lazy());
        }
    }

    TEST_CASE("an optimizer built before LazyMultiheadAttention's first forward resumes into one built after") {
        // The case: the parameter list used to shrink from 7 to 4 on materialisation.
        LazyMultiheadAttention a(MultiheadAttentionOptions(0, 2));
        optim::Adam before(a.parameters(), optim::AdamOptions());
        const Tensor x = randn({3, 1, 8});
        a.initialize(x);
        a(x, x, x).output.sum().backward();
        before.step();
        optim::Adam after(a.parameters(), optim::AdamOptions());
        after.load_state_dict(before.state_dict());
        CHECK(after.state_dict().keys() == before.state_dict().keys());

        // Packed projections need keys and values as wide as the query; the error says what to do.
        LazyMultiheadAttention packed(2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(packed(randn({3, 1, 8}), randn({4, 1, 6}), randn({4, 1, 6})), ValueError,
                                        "kdim (6) and vdim (6) must equal embed_dim (8)");
        CHECK(packed.is_lazy());
    }

    TEST_CASE("separate_projections keeps q/k/v_proj_weight when every width is the same") {
        manual_seed(4);
        MultiheadAttention packed(MultiheadAttentionOptions(4, 2));
        MultiheadAttention separate(MultiheadAttentionOptions(4, 2).separate_projections(true));
        std::vector<std::string> names;
        for (const auto& [name, p] : separate.named_parameters()) names.push_back(name);
        CHECK(names == std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                                                "out_proj.weight", "out_proj.bias"});
        {
            NoGradGuard no_grad;
            const auto parts = packed.in_proj_weight.chunk(3, 0);
            separate.q_proj_weight.copy_(parts[0]);
            separate.k_proj_weight.copy_(parts[1]);
            separate.v_proj_weight.copy_(parts[2]);
            separate.in_proj_bias.copy_(packed.in_proj_bias);
            separate.out_proj.weight.copy_(packed.out_proj.weight);
            separate.out_proj.bias.copy_(packed.out_proj.bias);
        }
        const Tensor q = randn({3, 2, 4}), kv = randn({5, 2, 4});
        CHECK(allclose(separate(q, kv, kv).output, packed(q, kv, kv).output, 1e-6, 1e-6));
    }

    TEST_CASE("self-attention through a container, gradcheck, and errors that keep it lazy") {
        LazyMultiheadAttention self(3);
        Sequential seq(LazyMultiheadAttention(3));
        CHECK(seq(randn({4, 2, 9})).shape() == Shape{4, 2, 9});  // forward(x): query = key = value
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(self(randn({4, 2, 8})), ValueError,
                                        "embed_dim inferred from the query (8) must be divisible by num_heads (3)");
        CHECK(self.is_lazy());
        CHECK_THROWS_AS(LazyMultiheadAttention(MultiheadAttentionOptions(6, 2)), ValueError);
        self.to(kFloat64);
        const Tensor x = randn({3, 1, 6}, TensorOptions().dtype(kFloat64)).requires_grad_();
        self(x);
        CHECK(self.in_proj_weight.dtype() == kFloat64);
        CHECK(
            autograd::gradcheck([&](const std::vector<Tensor>& in) { return self(in[0], in[0], in[0]).output; }, {x}));
    }
}
