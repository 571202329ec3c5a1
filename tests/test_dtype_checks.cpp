// Dtype mismatches between a layer's parameters and its input (issue 13, item 9): PyTorch refuses
// float64 or int64 input into a float32 layer; lazynn throws DtypeError naming the module and both
// dtypes. tests/fixtures/dtype_errors.json (tools/fixtures/gen_dtype_errors.py) records, for every
// layer and dtype pair, whether PyTorch 1.13 raises; each case here must agree.
#include "test_support.hpp"

#include <functional>
#include <map>

using namespace lazynn;
using namespace lazynn::testing;

namespace {

Dtype parse_dtype(const std::string& name) {
    if (name == "float32") return kFloat32;
    if (name == "float64") return kFloat64;
    REQUIRE(name == "int64");
    return kInt64;
}

/// The layer the fixture names, built like the generator builds it, and how to call it.
struct Case {
    std::unique_ptr<Module> module;
    Shape input_shape;
    bool self_attention = false;
};

Case build(const std::string& layer) {
    using namespace nn;
    const std::map<std::string, std::function<Case()>> builders{
        {"Linear",
         [] {
             return Case{std::make_unique<Linear>(3, 2), {2, 3}};
         }},
        {"LazyLinear",
         [] {
             return Case{std::make_unique<LazyLinear>(2), {2, 3}};
         }},
        {"Conv1d",
         [] {
             return Case{std::make_unique<Conv1d>(3, 2, 1), {1, 3, 4}};
         }},
        {"Conv2d",
         [] {
             return Case{std::make_unique<Conv2d>(3, 2, 1), {1, 3, 4, 4}};
         }},
        {"Conv3d",
         [] {
             return Case{std::make_unique<Conv3d>(3, 2, 1), {1, 3, 2, 2, 2}};
         }},
        {"LazyConv2d",
         [] {
             return Case{std::make_unique<LazyConv2d>(2, 1), {1, 3, 4, 4}};
         }},
        {"ConvTranspose1d",
         [] {
             return Case{std::make_unique<ConvTranspose1d>(3, 2, 1), {1, 3, 4}};
         }},
        {"ConvTranspose2d",
         [] {
             return Case{std::make_unique<ConvTranspose2d>(3, 2, 1), {1, 3, 4, 4}};
         }},
        {"ConvTranspose3d",
         [] {
             return Case{std::make_unique<ConvTranspose3d>(3, 2, 1), {1, 3, 2, 2, 2}};
         }},
        {"RNN",
         [] {
             return Case{std::make_unique<RNN>(3, 2), {2, 1, 3}};
         }},
        {"LSTM",
         [] {
             return Case{std::make_unique<LSTM>(3, 2), {2, 1, 3}};
         }},
        {"GRU",
         [] {
             return Case{std::make_unique<GRU>(3, 2), {2, 1, 3}};
         }},
        {"RNNCell",
         [] {
             return Case{std::make_unique<RNNCell>(3, 2), {1, 3}};
         }},
        {"LSTMCell",
         [] {
             return Case{std::make_unique<LSTMCell>(3, 2), {1, 3}};
         }},
        {"GRUCell",
         [] {
             return Case{std::make_unique<GRUCell>(3, 2), {1, 3}};
         }},
        {"BatchNorm1d",
         [] {
             return Case{std::make_unique<BatchNorm1d>(3), {2, 3}};
         }},
        {"BatchNorm2d",
         [] {
             return Case{std::make_unique<BatchNorm2d>(3), {2, 3, 2, 2}};
         }},
        {"BatchNorm2d.eval",
         [] {
             auto m = std::make_unique<BatchNorm2d>(3);
             m->eval();
             return Case{std::move(m), {2, 3, 2, 2}};
         }},
        {"BatchNorm3d",
         [] {
             return Case{std::make_unique<BatchNorm3d>(3), {2, 3, 2, 2, 2}};
         }},
        {"LazyBatchNorm2d",
         [] {
             return Case{std::make_unique<LazyBatchNorm2d>(), {2, 3, 2, 2}};
         }},
        {"InstanceNorm1d.affine",
         [] {
             return Case{std::make_unique<InstanceNorm1d>(InstanceNormOptions(3).affine(true)), {2, 3, 4}};
         }},
        {"LayerNorm",
         [] {
             return Case{std::make_unique<LayerNorm>(Shape{3}), {2, 3}};
         }},
        {"GroupNorm",
         [] {
             return Case{std::make_unique<GroupNorm>(1, 3), {2, 3}};
         }},
        {"PReLU",
         [] {
             return Case{std::make_unique<PReLU>(), {2, 3}};
         }},
        {"MultiheadAttention",
         [] {
             return Case{std::make_unique<MultiheadAttention>(4, 2), {2, 1, 4}, true};
         }},
        {"TransformerEncoderLayer",
         [] {
             return Case{std::make_unique<TransformerEncoderLayer>(
                             TransformerEncoderLayerOptions(4, 2).dim_feedforward(8).dropout(0.0)),
                         {2, 1, 4}};
         }},
        {"Embedding",
         [] {
             return Case{std::make_unique<Embedding>(4, 2), {2}};
         }},
        {"EmbeddingBag",
         [] {
             return Case{std::make_unique<EmbeddingBag>(4, 2), {1, 2}};
         }},
    };
    auto it = builders.find(layer);
    REQUIRE_MESSAGE(it != builders.end(), "no builder for " << layer);
    return it->second();
}

void call(Case& c, const Tensor& x) {
    if (c.self_attention) {
        (void)static_cast<nn::MultiheadAttention&> (*c.module)(x, x, x);
    } else {
        (void)(*c.module)(x);
    }
}

}  // namespace

TEST_SUITE("dtype checks") {
    TEST_CASE("every layer raises DtypeError exactly where PyTorch raises") {
        const auto fixture = load_fixture("dtype_errors.json");
        REQUIRE(fixture.at("cases").size() > 80);
        for (const auto& entry : fixture.at("cases")) {
            const std::string layer = entry.at("layer");
            const std::string param_dtype = entry.at("param_dtype"), input_dtype = entry.at("input_dtype");
            CAPTURE(layer);
            CAPTURE(param_dtype);
            CAPTURE(input_dtype);
            Case c = build(layer);
            if (param_dtype != "float32") c.module->to(parse_dtype(param_dtype));
            const Tensor x = ones(c.input_shape, parse_dtype(input_dtype));
            if (!entry.at("raises").get<bool>()) {
                CHECK_NOTHROW(call(c, x));
                continue;
            }
            try {
                call(c, x);
                FAIL_CHECK("PyTorch raises here (" << entry.at("message").get<std::string>() << "), lazynn did not");
            } catch (const DtypeError& e) {
                const std::string message = e.what();
                CHECK_MESSAGE(message.find(input_dtype) != std::string::npos, message);
                // Embedding's message names the dtype it needs (int64) rather than its weight's.
                const std::string expected = layer.rfind("Embedding", 0) == 0 ? "int64" : param_dtype;
                CHECK_MESSAGE(message.find(expected) != std::string::npos, message);
            }
        }
    }

    TEST_CASE("the message names the module and both dtypes, with PyTorch's wording") {
        nn::Linear fc(3, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            fc(ones({2, 3}, kFloat64)), DtypeError,
            "Linear: expected a float32 input (the dtype of its parameters), got float64 (PyTorch: mat1 and "
            "mat2 must have the same dtype); convert the input with .to(float32) or the module with "
            ".to(float64)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(fc(ones({2, 3}, kInt64)), DtypeError,
                                        "got int64 (PyTorch: mat1 and mat2 must have the same dtype)");
        nn::Conv2d conv(3, 2, 1);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(conv(ones({1, 3, 4, 4}, kInt64)), DtypeError,
                                        "Conv2d: expected a float32 input");
        nn::LSTM lstm(3, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(lstm(ones({2, 1, 3}, kFloat64)), DtypeError, "LSTM: expected a float32 input");
        nn::Embedding emb(4, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(emb(ones({2})), DtypeError, "Embedding: expected int64 indices, got float32");
        // A layer without parameters to match (no affine, no running statistics) still refuses integers.
        nn::BatchNorm2d plain(nn::BatchNormOptions(3).affine(false).track_running_stats(false));
        CHECK_NOTHROW(plain(ones({2, 3, 2, 2}, kFloat64)));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            plain(ones({2, 3, 2, 2}, kInt64)), DtypeError,
            "BatchNorm2d: expected a floating point input (the dtype of its parameters), got int64");
    }
}
