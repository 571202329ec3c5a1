// Attention (modules/src/attention.cpp): MultiheadAttention against PyTorch, masks, the transformer
// encoder, LazyMultiheadAttention, and the decoder side (TransformerDecoderLayer, TransformerDecoder,
// Transformer) against PyTorch.
#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>

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

TEST_SUITE("attention: add_bias_kv and add_zero_attn") {
    TEST_CASE("the extra key/value positions match PyTorch: outputs, weights and every gradient") {
        const auto fixture = lazynn::testing::load_fixture("layers.json").at("mha_extras");
        for (auto it = fixture.begin(); it != fixture.end(); ++it) {
            CAPTURE(it.key());
            const auto& c = it.value();
            const auto& o = c.at("options");
            MultiheadAttention mha(MultiheadAttentionOptions(o.at("embed_dim"), o.at("num_heads"))
                                       .add_bias_kv(o.value("add_bias_kv", false))
                                       .add_zero_attn(o.value("add_zero_attn", false))
                                       .bias(o.value("bias", true))
                                       .kdim(o.value("kdim", 0))
                                       .vdim(o.value("vdim", 0))
                                       .batch_first(o.value("batch_first", false)));
            mha.to(kFloat64);
            std::vector<std::string> names;
            for (const auto& [name, p] : mha.named_parameters()) names.push_back(name);
            CHECK(names == c.at("parameter_names").get<std::vector<std::string>>());
            StateDict sd;
            for (auto e = c.at("state").begin(); e != c.at("state").end(); ++e)
                sd.insert(e.key(), fixture_tensor(e.value()));
            REQUIRE(mha.load_state_dict(sd).ok());
            AttentionCall call;
            if (c.contains("attn_mask")) call.attn_mask = fixture_tensor(c.at("attn_mask")) != 0.0;
            if (c.contains("key_padding")) call.key_padding_mask = fixture_tensor(c.at("key_padding")) != 0.0;
            Tensor q = fixture_tensor(c.at("q")).requires_grad_(), k = fixture_tensor(c.at("k")).requires_grad_(),
                   v = fixture_tensor(c.at("v")).requires_grad_();
            call.average_attn_weights = c.at("weights").at("shape").size() != 4;
            const AttentionResult r = mha(q, k, v, call);
            check_close(r.output, fixture_tensor(c.at("output")), 1e-9, 1e-12);
            check_close(r.weights, fixture_tensor(c.at("weights")), 1e-9, 1e-12);
            ((r.output * fixture_tensor(c.at("seed"))).sum() + r.weights.sum()).backward();
            check_close(q.grad(), fixture_tensor(c.at("grad_q")), 1e-8, 1e-11);
            check_close(k.grad(), fixture_tensor(c.at("grad_k")), 1e-8, 1e-11);
            check_close(v.grad(), fixture_tensor(c.at("grad_v")), 1e-8, 1e-11);
            for (const auto& entry : mha.named_parameters()) {
                const std::string& name = entry.first;
                const Tensor& p = entry.second;
                CAPTURE(name);
                check_close(p.grad(), fixture_tensor(c.at("grads").at(name)), 1e-8, 1e-11);
            }
        }
    }

    TEST_CASE("gradients through the added positions match finite differences in float64") {
        manual_seed(5);
        MultiheadAttention mha(MultiheadAttentionOptions(4, 2).add_bias_kv(true).add_zero_attn(true));
        mha.to(kFloat64);
        const Tensor q = randn({3, 2, 4}, kFloat64).requires_grad_(), kv = randn({2, 2, 4}, kFloat64).requires_grad_();
        const auto check = autograd::gradcheck(
            [&](const std::vector<Tensor>& in) { return mha(in[0], in[1], in[1]).output; }, {q, kv});
        CHECK_MESSAGE(check.ok, check.message);
        // bias_k and bias_v are parameters: their gradients against central differences of a loss.
        const Tensor seed = randn({3, 2, 4}, kFloat64);
        auto loss = [&] { return (mha(q, kv, kv).output * seed).sum(); };
        mha.zero_grad();
        loss().backward();
        for (Parameter* p : {&mha.bias_k, &mha.bias_v}) {
            const Tensor analytic = p->grad().clone();
            for (std::int64_t i = 0; i < 4; ++i) {
                NoGradGuard no_grad;
                const double h = 1e-6, original = p->select(2, i).item<double>();
                p->select(2, i).fill_(original + h);
                const double up = loss().item<double>();
                p->select(2, i).fill_(original - h);
                const double down = loss().item<double>();
                p->select(2, i).fill_(original);
                CHECK(analytic.select(2, i).item<double>() == doctest::Approx((up - down) / (2 * h)).epsilon(1e-6));
            }
        }
    }

    TEST_CASE("LazyMultiheadAttention materialises bias_k and bias_v in place and loads them") {
        manual_seed(9);
        MultiheadAttention eager(MultiheadAttentionOptions(6, 2).add_bias_kv(true).add_zero_attn(true));
        manual_seed(9);
        LazyMultiheadAttention lazy(MultiheadAttentionOptions(0, 2).add_bias_kv(true).add_zero_attn(true));
        const Parameter held = lazy.bias_k;
        CHECK(is_lazy(lazy.bias_k));
        const Tensor x = randn({3, 2, 6});
        const AttentionResult expected = eager(x, x, x);
        const AttentionResult actual = lazy(x, x, x);
        CHECK(lazy.bias_k.shape() == Shape{1, 1, 6});
        CHECK(held.is_same(lazy.bias_k));
        CHECK(equal(actual.output, expected.output));
        CHECK(actual.weights.shape() == Shape{2, 3, 5});

        LazyMultiheadAttention loaded(MultiheadAttentionOptions(0, 2).add_bias_kv(true));
        CHECK(loaded.load_state_dict(eager.state_dict()).ok());
        CHECK(equal(loaded.bias_v, eager.bias_v));
        StateDict wrong = eager.state_dict();
        wrong.insert("bias_k", zeros({1, 2, 6}));
        LazyMultiheadAttention refused(MultiheadAttentionOptions(0, 2).add_bias_kv(true));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(refused.load_state_dict(wrong), RuntimeError,
                                        "the checkpoint's bias_k has shape [1, 2, 6], expected [1, 1, 6]");
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

TEST_SUITE("transformer decoder vs PyTorch") {
    // Each case: a module, how to call it with the fixture's two inputs and masks.
    struct DecoderCase {
        std::function<std::unique_ptr<Module>()> make;
        std::function<Tensor(Module&, const Tensor&, const Tensor&, const std::map<std::string, Tensor>&)> call;
    };

    Tensor mask_of(const std::map<std::string, Tensor>& masks, const std::string& name) {
        auto it = masks.find(name);
        return it == masks.end() ? Tensor() : it->second;
    }

    DecoderMasks decoder_masks(const std::map<std::string, Tensor>& m) {
        return {mask_of(m, "tgt_mask"), mask_of(m, "memory_mask"), mask_of(m, "tgt_key_padding_mask"),
                mask_of(m, "memory_key_padding_mask")};
    }

    const std::map<std::string, DecoderCase>& decoder_cases() {
        static const std::map<std::string, DecoderCase> table = {
            {"decoder_layer",
             {[] {
                  return std::make_unique<TransformerDecoderLayer>(
                      TransformerDecoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.0));
              },
              [](Module& m, const Tensor& tgt, const Tensor& memory, const auto& masks) {
                  return static_cast<TransformerDecoderLayer&>(m)(tgt, memory, decoder_masks(masks));
              }}},
            {"decoder_layer_norm_first_gelu_batch_first",
             {[] {
                  return std::make_unique<TransformerDecoderLayer>(TransformerDecoderLayerOptions(8, 4)
                                                                       .dim_feedforward(12)
                                                                       .dropout(0.0)
                                                                       .activation(TransformerActivation::GELU)
                                                                       .norm_first(true)
                                                                       .batch_first(true));
              },
              [](Module& m, const Tensor& tgt, const Tensor& memory, const auto& masks) {
                  return static_cast<TransformerDecoderLayer&>(m)(tgt, memory, decoder_masks(masks));
              }}},
            {"decoder_stack_norm",
             {[] {
                  return std::make_unique<TransformerDecoder>(
                      TransformerDecoderLayer(TransformerDecoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.0)), 2,
                      LayerNorm(Shape{8}));
              },
              [](Module& m, const Tensor& tgt, const Tensor& memory, const auto& masks) {
                  return static_cast<TransformerDecoder&>(m)(tgt, memory, decoder_masks(masks));
              }}},
            {"transformer",
             {[] {
                  return std::make_unique<Transformer>(TransformerOptions()
                                                           .d_model(8)
                                                           .nhead(2)
                                                           .num_encoder_layers(2)
                                                           .num_decoder_layers(2)
                                                           .dim_feedforward(16)
                                                           .dropout(0.0));
              },
              [](Module& m, const Tensor& src, const Tensor& tgt, const auto& masks) {
                  TransformerMasks all;
                  all.src_key_padding_mask = mask_of(masks, "src_key_padding_mask");
                  all.decoder = decoder_masks(masks);
                  return static_cast<Transformer&>(m)(src, tgt, all);
              }}},
        };
        return table;
    }

    TEST_CASE("decoder layers, the decoder stack and Transformer match: outputs, every gradient, printing") {
        const auto fixture = lazynn::testing::load_fixture("layers.json").at("decoder");
        CHECK(fixture.size() == decoder_cases().size());
        for (const auto& [name_entry, case_entry] : decoder_cases()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            const DecoderCase& c = case_entry;
            CAPTURE(name);
            const auto& f = fixture.at(name);
            auto module = c.make();
            module->to(kFloat64);
            StateDict sd;
            for (auto it = f.at("state").begin(); it != f.at("state").end(); ++it)
                sd.insert(it.key(), fixture_tensor(it.value()));
            CHECK(module->load_state_dict(sd).ok());
            std::map<std::string, Tensor> masks;
            for (auto it = f.at("masks").begin(); it != f.at("masks").end(); ++it)
                masks[it.key()] = fixture_tensor(it.value()) != 0.0;
            Tensor a = fixture_tensor(f.at("inputs")[0]).requires_grad_();
            Tensor b = fixture_tensor(f.at("inputs")[1]).requires_grad_();
            const Tensor y = c.call(*module, a, b, masks);
            check_close(y, fixture_tensor(f.at("output")), 1e-9, 1e-12);
            (y * fixture_tensor(f.at("weight"))).sum().backward();
            check_close(a.grad(), fixture_tensor(f.at("grads")[0]), 1e-8, 1e-10);
            check_close(b.grad(), fixture_tensor(f.at("grads")[1]), 1e-8, 1e-10);
            CHECK(f.at("param_grads").size() == module->named_parameters().size());
            for (auto it = f.at("param_grads").begin(); it != f.at("param_grads").end(); ++it) {
                CAPTURE(it.key());
                check_close(module->get_parameter(it.key()).grad(), fixture_tensor(it.value()), 1e-8, 1e-10);
            }
            CHECK(module->str() == f.at("repr").get<std::string>());
            if (name == "decoder_layer") {
                const auto check = autograd::gradcheck(
                    [&](const std::vector<Tensor>& in) { return c.call(*module, in[0], in[1], masks); },
                    {fixture_tensor(f.at("inputs")[0]).requires_grad_(),
                     fixture_tensor(f.at("inputs")[1]).requires_grad_()});
                CHECK_MESSAGE(check.ok, check.message);
            }
        }
    }

    TEST_CASE("Transformer initialises every matrix with xavier_uniform_ from its seed and checks its inputs") {
        manual_seed(3);
        Transformer a(TransformerOptions().d_model(8).nhead(2).num_encoder_layers(1).num_decoder_layers(1));
        manual_seed(3);
        Transformer b(TransformerOptions().d_model(8).nhead(2).num_encoder_layers(1).num_decoder_layers(1));
        CHECK(equal(a.get_parameter("decoder.layers.0.linear1.weight"),
                    b.get_parameter("decoder.layers.0.linear1.weight")));
        // xavier_uniform_ bound for linear1 [2048, 8]: sqrt(6 / (8 + 2048)).
        const double bound = std::sqrt(6.0 / (8.0 + 2048.0));
        CHECK(a.get_parameter("decoder.layers.0.linear1.weight").abs().max().item<float>() <= bound);
        CHECK(a.get_parameter("encoder.norm.weight").min().item<float>() == 1.0f);  // 1-D: left as LayerNorm made it
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(a(randn({5, 2, 8}), randn({4, 3, 8})), ShapeError,
                                        "the batch number of src and tgt must be equal");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(a(randn({5, 2, 8}), randn({4, 2, 6})), ShapeError,
                                        "the feature number of src and tgt must be equal to d_model (8)");
        CHECK(a(randn({5, 2, 8}), randn({4, 2, 8})).shape() == Shape{4, 2, 8});
        CHECK(a(randn({5, 8}), randn({4, 8})).shape() == Shape{4, 8});  // unbatched
    }
}
