// Autocast on the CPU (AutocastGuard): the output dtypes of PyTorch 1.13's CPU autocast policy,
// values and float32 gradients of GEMM-like ops, losses and small models against PyTorch run
// under torch.autocast("cpu", dtype=torch.bfloat16) (tools/fixtures/gen_autocast.py), nesting,
// thread locality, backward outside autocast's casts, and lazy modules materialising in float32.
#include "test_support.hpp"
#include "fixture_values.hpp"

#include <lazynn/nn.hpp>
#include <lazynn/optim/sgd.hpp>

#include <cmath>
#include <map>
#include <thread>

using namespace lazynn;
using nlohmann::json;

namespace {

/// Same dtype and shape; values within `rel` of PyTorch's (relative to the largest magnitude of
/// the expected tensor: bfloat16 GEMMs differ from PyTorch's by summation order and one rounding).
void check_close_to(const Tensor& actual, const json& expected_entry, double rel) {
    const Tensor expected = lazynn::testing::tensor_from_strings(expected_entry);
    CHECK(dtype_name(actual.dtype()) == dtype_name(expected.dtype()));
    REQUIRE(actual.shape() == expected.shape());
    const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
    double scale = 0;
    for (double v : e) scale = std::max(scale, std::abs(v));
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        CHECK_MESSAGE(std::abs(a[i] - e[i]) <= rel * std::max(scale, 1e-3), "got " << a[i] << ", expected " << e[i]);
    }
}

constexpr double kBf16Rel = 1.0 / 64;  // a few bfloat16 roundings (2^-8 each) of the largest value

struct Case {
    std::string name;
    json args;
    std::vector<Tensor> inputs;
    json fixture;
};

Case load_case(const json& fixture, const std::string& name) {
    for (const auto& c : fixture.at("cases")) {
        if (c.at("name") == name) {
            Case out{name, c.at("args"), {}, c};
            for (const auto& entry : c.at("inputs")) out.inputs.push_back(lazynn::testing::tensor_from_strings(entry));
            return out;
        }
    }
    FAIL("no fixture case " << name);
    return {};
}

/// Backward (after the autocast scope, as in the generator) and compare every input's gradient.
void check_backward(Tensor out, const Case& c) {
    if (c.fixture.contains("grad_out"))
        out.backward(lazynn::testing::tensor_from_strings(c.fixture.at("grad_out")));
    else
        out.backward();
    for (std::size_t k = 0; k < c.inputs.size(); ++k) {
        CAPTURE(k);
        const json& expected = c.fixture.at("grads")[k];
        if (expected.is_null()) continue;
        REQUIRE(c.inputs[k].grad().defined());
        CHECK(c.inputs[k].grad().dtype() == kFloat32);  // master weights get float32 gradients
        check_close_to(c.inputs[k].grad(), expected, kBf16Rel);
    }
}

}  // namespace

TEST_SUITE("autocast") {
    TEST_CASE("GEMM-like ops run in bfloat16 and their float32 inputs get float32 gradients (PyTorch's values)") {
        const json fixture = lazynn::testing::load_fixture("autocast.json");
        for (const char* name :
             {"linear", "matmul", "matmul_3d", "conv2d", "conv_transpose2d", "softmax_after_linear"}) {
            CAPTURE(name);
            Case c = load_case(fixture, name);
            const auto& x = c.inputs;
            Tensor out;
            {
                AutocastGuard autocast(kBFloat16);
                const std::string n = name;
                if (n == "linear") out = ops::linear(x[0], x[1], x[2]);
                if (n == "matmul" || n == "matmul_3d") out = matmul(x[0], x[1]);
                if (n == "conv2d") out = ops::conv2d(x[0], x[1], x[2], {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
                if (n == "conv_transpose2d")
                    out = ops::conv_transpose2d(x[0], x[1], x[2], {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1);
                if (n == "softmax_after_linear") out = ops::linear(x[0], x[1], x[2]).softmax(1);
            }
            check_close_to(out, c.fixture.at("out"), kBf16Rel);
            check_backward(out, c);
        }
    }

    TEST_CASE("Conv1d and a conv + BatchNorm2d + max pool stack follow PyTorch under autocast") {
        const json fixture = lazynn::testing::load_fixture("autocast.json");
        {
            Case c = load_case(fixture, "conv1d");
            nn::Conv1d conv(nn::Conv1dOptions(3, 4, 3).stride(2).padding(1));
            {
                NoGradGuard no_grad;
                conv.weight.copy_(c.inputs[1]);
                conv.bias.copy_(c.inputs[2]);
            }
            Tensor out;
            {
                AutocastGuard autocast;
                out = conv(c.inputs[0]);
            }
            check_close_to(out, c.fixture.at("out"), kBf16Rel);
            out.backward(lazynn::testing::tensor_from_strings(c.fixture.at("grad_out")));
            CHECK(conv.weight.grad().dtype() == kFloat32);
            check_close_to(c.inputs[0].grad(), c.fixture.at("grads")[0], kBf16Rel);
            check_close_to(conv.weight.grad(), c.fixture.at("grads")[1], kBf16Rel);
            check_close_to(conv.bias.grad(), c.fixture.at("grads")[2], kBf16Rel);
        }
        {
            Case c = load_case(fixture, "batch_norm_after_conv");
            const auto& x = c.inputs;
            nn::BatchNorm2d bn(4);
            {
                NoGradGuard no_grad;
                bn.weight.copy_(x[3]);
                bn.bias.copy_(x[4]);
            }
            Tensor out;
            {
                AutocastGuard autocast;
                out = bn(ops::conv2d(x[0], x[1], x[2], {1, 1}, {1, 1, 1, 1}, {1, 1}, 1));
            }
            check_close_to(out, c.fixture.at("out"), kBf16Rel);
            CHECK(bn.running_mean.dtype() == kFloat32);
            check_close_to(bn.running_mean, c.fixture.at("running_mean"), kBf16Rel);
            check_close_to(bn.running_var, c.fixture.at("running_var"), kBf16Rel);
            out.backward(lazynn::testing::tensor_from_strings(c.fixture.at("grad_out")));
            for (std::size_t k = 0; k < 2; ++k) check_close_to(x[k].grad(), c.fixture.at("grads")[k], kBf16Rel);
            // The conv bias's gradient is zero in exact arithmetic (batch norm subtracts each channel's
            // mean); PyTorch's and lazynn's are both bfloat16 rounding noise, far below the weight's.
            CHECK(x[2].grad().dtype() == kFloat32);
            CHECK(x[2].grad().abs().max().item<double>() < kBf16Rel * x[1].grad().abs().max().item<double>());
            check_close_to(bn.weight.grad(), c.fixture.at("grads")[3], kBf16Rel);
            check_close_to(bn.bias.grad(), c.fixture.at("grads")[4], kBf16Rel);
        }
        {
            Case c = load_case(fixture, "max_pool_after_conv");
            const auto& x = c.inputs;
            Tensor out;
            {
                AutocastGuard autocast;
                out = ops::max_pool2d(ops::conv2d(x[0], x[1], x[2], {1, 1}, {1, 1, 1, 1}, {1, 1}, 1), {2, 2}, {2, 2});
            }
            check_close_to(out, c.fixture.at("out"), kBf16Rel);
            check_backward(out, c);
        }
    }

    TEST_CASE("losses run in float32 under autocast: cross_entropy, mse_loss and a two-layer MLP") {
        const json fixture = lazynn::testing::load_fixture("autocast.json");
        for (const char* name : {"cross_entropy", "mse_loss", "mlp"}) {
            CAPTURE(name);
            Case c = load_case(fixture, name);
            const auto& x = c.inputs;
            Tensor loss;
            {
                AutocastGuard autocast;
                if (std::string(name) == "cross_entropy")
                    loss = nn::functional::cross_entropy(ops::linear(x[0], x[1], x[2]), x[3]);
                if (std::string(name) == "mse_loss")
                    loss = nn::functional::mse_loss(ops::linear(x[0], x[1], x[2]), x[3]);
                if (std::string(name) == "mlp") {
                    const Tensor hidden = ops::linear(x[0], x[1], x[2]);
                    const Tensor relu = hidden.relu();
                    const Tensor logits = ops::linear(relu, x[3], x[4]);
                    const auto& dtypes = c.fixture.at("intermediate_dtypes");
                    CHECK(dtype_name(hidden.dtype()) == dtypes.at("hidden").get<std::string>());
                    CHECK(dtype_name(relu.dtype()) == dtypes.at("relu").get<std::string>());
                    CHECK(dtype_name(logits.dtype()) == dtypes.at("logits").get<std::string>());
                    loss = nn::functional::cross_entropy(logits, x[5]);
                }
            }
            CHECK(loss.dtype() == kFloat32);
            check_close_to(loss, c.fixture.at("out"), kBf16Rel);
            check_backward(loss, c);
        }
    }

    TEST_CASE("the output dtype of every op lazynn has on PyTorch 1.13's CPU autocast lists") {
        const json fixture = lazynn::testing::load_fixture("autocast.json");
        std::map<std::string, json> policy;
        for (const auto& row : fixture.at("policy")) policy[row.at("op")] = row;
        manual_seed(0);
        const Tensor x2 = randn({4, 6}), w2 = randn({3, 6}), b = randn({3});
        const Tensor img = randn({2, 3, 6, 6}), kernel = randn({4, 3, 3, 3});
        const Tensor vol = randn({1, 2, 4, 4, 4});
        const Tensor target = tensor(std::vector<std::int64_t>{0, 2, 1, 1}, Shape{}, kInt64);
        // op name -> what lazynn computes from float32 inputs under autocast
        const std::map<std::string, std::function<Tensor()>> runs{
            {"linear", [&] { return ops::linear(x2, w2, b); }},
            {"matmul", [&] { return matmul(x2, w2.t()); }},
            {"bmm", [&] { return matmul(x2.unsqueeze(0), w2.t().unsqueeze(0)); }},
            {"conv2d",
             [&] {
                 return ops::conv2d(img, kernel, Tensor(), {1, 1}, {0, 0, 0, 0}, {1, 1}, 1);
             }},
            {"conv3d",
             [&] {
                 return ops::conv3d(vol, randn({2, 2, 3, 3, 3}), Tensor(), {1, 1, 1}, {0, 0, 0, 0, 0, 0}, {1, 1, 1}, 1);
             }},
            {"conv_transpose2d",
             [&] {
                 return ops::conv_transpose2d(img, randn({3, 2, 3, 3}), Tensor(), {1, 1}, {0, 0}, {0, 0}, {1, 1}, 1);
             }},
            {"relu", [&] { return x2.relu(); }},
            {"softmax", [&] { return x2.softmax(1); }},
            {"sum", [&] { return x2.sum(); }},
            {"prod", [&] { return x2.prod(); }},
            {"max_pool2d",
             [&] {
                 return ops::max_pool2d(img, {2, 2}, {2, 2});
             }},
            {"avg_pool3d",
             [&] {
                 return ops::avg_pool3d(vol, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, false, true, 0);
             }},
            {"layer_norm", [&] { return ops::layer_norm(x2, {6}); }},
            {"mse_loss", [&] { return nn::functional::mse_loss(x2, x2 * 0.5); }},
            {"cross_entropy", [&] { return nn::functional::cross_entropy(x2, target); }},
        };
        for (const auto& entry : runs) {
            const std::string& op = entry.first;  // not a structured binding: clang 14 cannot capture one
            const auto& run = entry.second;
            CAPTURE(op);
            REQUIRE(policy.count(op) == 1);
            AutocastGuard autocast;
            CHECK(dtype_name(run().dtype()) == policy.at(op).at("out_from_float32").get<std::string>());
        }
        // From bfloat16 inputs: the float32 list widens them, the lower-precision list keeps them.
        AutocastGuard autocast;
        CHECK(dtype_name(nn::functional::mse_loss(x2.to(kBFloat16), x2.to(kBFloat16)).dtype()) ==
              policy.at("mse_loss").at("out_from_bfloat16").get<std::string>());
        CHECK(dtype_name(ops::linear(x2.to(kBFloat16), w2, b).dtype()) ==
              policy.at("linear").at("out_from_bfloat16").get<std::string>());
        CHECK(dtype_name(x2.to(kBFloat16).softmax(1).dtype()) ==
              policy.at("softmax").at("out_from_bfloat16").get<std::string>());
    }

    TEST_CASE("AutocastGuard nests, turns off inside with AutocastGuard(false), and is thread-local") {
        const json nested = lazynn::testing::load_fixture("autocast.json").at("nested");
        const Tensor x = randn({2, 3}), w = randn({4, 3}), b = randn({4});
        CHECK_FALSE(is_autocast_enabled());
        {
            AutocastGuard outer(kBFloat16);
            CHECK(is_autocast_enabled());
            CHECK(dtype_name(ops::linear(x, w, b).dtype()) ==
                  nested.at("outer_before").at("out_dtype").get<std::string>());
            {
                AutocastGuard off(false);
                CHECK(is_autocast_enabled() == nested.at("inner_autocast_enabled").get<bool>());
                CHECK(dtype_name(ops::linear(x, w, b).dtype()) ==
                      nested.at("inner_float32").at("out_dtype").get<std::string>());
            }
            CHECK(dtype_name(ops::linear(x, w, b).dtype()) ==
                  nested.at("outer_after").at("out_dtype").get<std::string>());
            bool other_thread_enabled = true;
            std::thread([&] { other_thread_enabled = is_autocast_enabled(); }).join();
            CHECK_FALSE(other_thread_enabled);
        }
        CHECK_FALSE(is_autocast_enabled());
        CHECK(dtype_name(ops::linear(x, w, b).dtype()) == nested.at("outside").at("out_dtype").get<std::string>());
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(AutocastGuard(kFloat16), ValueError, "CPU autocast runs in bfloat16 only");
    }

    TEST_CASE(
        "LSTM and GRU follow a bfloat16 input under autocast (PyTorch's values), and a float32 one stays float32") {
        const json fixture = lazynn::testing::load_fixture("autocast.json");
        std::map<std::string, json> policy;
        for (const auto& row : fixture.at("policy")) policy[row.at("op")] = row;
        for (const std::string name : {"lstm", "gru"}) {
            CAPTURE(name);
            const Case c = load_case(fixture, name + "_bfloat16_input");
            std::shared_ptr<Module> rnn;
            if (name == "lstm")
                rnn = std::make_shared<nn::LSTM>(nn::RNNOptions(4, 3));
            else
                rnn = std::make_shared<nn::GRU>(nn::RNNOptions(4, 3));
            const std::vector<std::string> keys{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
            StateDict weights;
            for (std::size_t k = 0; k < keys.size(); ++k) weights.insert(keys[k], c.inputs[k + 1].detach());
            rnn->load_state_dict(weights);
            const Tensor x = c.inputs[0];
            REQUIRE(x.dtype() == kBFloat16);
            Tensor out;
            {
                AutocastGuard autocast;
                out = (*rnn)(x);
                // From float32 the module keeps float32, as PyTorch's does.
                CHECK(dtype_name((*rnn)(x.detach().to(kFloat32)).dtype()) ==
                      policy.at(name).at("out_from_float32").get<std::string>());
            }
            CHECK(dtype_name(out.dtype()) == policy.at(name).at("out_from_bfloat16").get<std::string>());
            check_close_to(out, c.fixture.at("out"), kBf16Rel);
            out.backward(lazynn::testing::tensor_from_strings(c.fixture.at("grad_out")));
            REQUIRE(x.grad().defined());
            CHECK(x.grad().dtype() == kBFloat16);
            check_close_to(x.grad(), c.fixture.at("grads")[0], kBf16Rel);
            for (std::size_t k = 0; k < keys.size(); ++k) {
                CAPTURE(keys[k]);
                const Tensor grad = rnn->get_parameter(keys[k]).grad();
                REQUIRE(grad.defined());
                CHECK(grad.dtype() == kFloat32);  // master weights get float32 gradients
                check_close_to(grad, c.fixture.at("grads")[k + 1], kBf16Rel);
            }
        }
    }

    TEST_CASE("a lazy model materialises under autocast with float32 parameters and trains") {
        manual_seed(5);
        nn::Sequential model;
        model.push_back(nn::LazyLinear(8));
        model.push_back(nn::ReLU());
        model.push_back(nn::LazyLinear(3));
        optim::SGD opt(model.parameters(), optim::SGDOptions(0.1));
        const Tensor x = randn({5, 4});
        const Tensor y = tensor(std::vector<std::int64_t>{0, 1, 2, 0, 1}, Shape{}, kInt64);
        Tensor loss;
        {
            AutocastGuard autocast;
            const Tensor logits = model(x);
            CHECK(logits.dtype() == kBFloat16);
            loss = nn::functional::cross_entropy(logits, y);
        }
        for (const auto& p : model.parameters()) CHECK(p.dtype() == kFloat32);
        CHECK(model.parameters()[0].shape() == Shape{8, 4});
        const Tensor before = model.parameters()[0].detach().clone();
        loss.backward();
        for (const auto& p : model.parameters()) CHECK(p.grad().dtype() == kFloat32);
        opt.step();
        CHECK_FALSE(equal(model.parameters()[0], before));  // the optimizer saw the materialised tensor
    }
}
