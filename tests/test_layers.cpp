// Layers against PyTorch (tests/fixtures/layers.json from tools/fixtures/gen_layers.py): outputs,
// input and parameter gradients, buffers after the forward and printing; gradcheck in float64;
// and the lazy twins (size inference, concrete twin, equal outputs, loading without forward).
#include "test_support.hpp"

#include <functional>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

namespace {

/// F.pad as a module, for the padding cases.
struct Pad : Cloneable<Pad> {
    std::vector<std::int64_t> pads;
    std::string mode;
    Pad(std::vector<std::int64_t> p, std::string m) : pads(std::move(p)), mode(std::move(m)) {}
    Tensor forward(const Tensor& x) override { return functional::pad(x, pads, mode); }
};

using Factory = std::function<std::unique_ptr<Module>()>;

template <class M, class... Args>
Factory make(Args... args) {
    return [=] { return std::make_unique<M>(args...); };
}

const std::map<std::string, Factory>& cases() {
    static const std::map<std::string, Factory> table = {
        {"linear", make<Linear>(5, 3)},
        {"linear_nobias_3d", make<Linear>(5, 3, false)},
        {"conv2d_basic", make<Conv2d>(3, 4, 3)},
        {"conv2d_stride_pad", make<Conv2d>(Conv2dOptions(3, 4, 3).stride(2).padding(1))},
        {"conv2d_dilation_groups", make<Conv2d>(Conv2dOptions(4, 6, {3, 2}).dilation({2, 1}).groups(2).padding({2, 1}))},
        {"conv2d_same_even", make<Conv2d>(Conv2dOptions(2, 3, 4).padding(kSame))},
        {"conv2d_valid_nobias", make<Conv2d>(Conv2dOptions(2, 3, {2, 3}).padding(kValid).bias(false))},
        {"conv2d_reflect", make<Conv2d>(Conv2dOptions(2, 3, 3).padding(1).padding_mode(PaddingMode::Reflect))},
        {"conv2d_replicate", make<Conv2d>(Conv2dOptions(2, 3, 3).padding(2).padding_mode(PaddingMode::Replicate))},
        {"conv2d_circular", make<Conv2d>(Conv2dOptions(2, 3, 3).padding(1).padding_mode(PaddingMode::Circular))},
        {"conv2d_unbatched", make<Conv2d>(2, 3, 3)},
        {"conv1d", make<Conv1d>(Conv1dOptions(3, 4, 3).stride(2).padding(1))},
        {"conv1d_same_dilated_groups", make<Conv1d>(Conv1dOptions(4, 4, 3).padding(kSame).dilation(2).groups(4))},
        {"batchnorm2d_train", make<BatchNorm2d>(3)},
        {"batchnorm2d_eval", make<BatchNorm2d>(3)},
        {"batchnorm1d_2d", make<BatchNorm1d>(5)},
        {"batchnorm1d_3d_cumulative", make<BatchNorm1d>(BatchNormOptions(3).momentum(std::nullopt))},
        {"batchnorm2d_no_affine", make<BatchNorm2d>(BatchNormOptions(2).affine(false))},
        {"batchnorm2d_no_stats_eval", make<BatchNorm2d>(BatchNormOptions(2).track_running_stats(false))},
        {"maxpool2d", make<MaxPool2d>(MaxPoolOptions<2>(2))},
        {"maxpool2d_stride_pad_ceil", make<MaxPool2d>(MaxPoolOptions<2>(3).stride(2).padding(1).ceil_mode(true))},
        {"maxpool2d_dilation", make<MaxPool2d>(MaxPoolOptions<2>(2).stride(1).dilation(2))},
        {"avgpool2d", make<AvgPool2d>(AvgPoolOptions<2>(2))},
        {"avgpool2d_pad_exclude_ceil", make<AvgPool2d>(AvgPoolOptions<2>(3).stride(2).padding(1).ceil_mode(true).count_include_pad(false))},
        {"avgpool2d_divisor", make<AvgPool2d>(AvgPoolOptions<2>({2, 3}).stride({1, 2}).padding({1, 1}).divisor_override(4))},
        {"adaptive_avgpool2d", make<AdaptiveAvgPool2d>(ExpandingArray<2>({3, 2}))},
        {"maxpool1d", make<MaxPool1d>(MaxPoolOptions<1>(3).stride(2))},
        {"avgpool1d", make<AvgPool1d>(AvgPoolOptions<1>(2).padding(1))},
        {"adaptive_avgpool1d", make<AdaptiveAvgPool1d>(ExpandingArray<1>(4))},
        {"pad_reflect", make<Pad>(std::vector<std::int64_t>{2, 1, 1, 2}, std::string("reflect"))},
        {"pad_replicate", make<Pad>(std::vector<std::int64_t>{3, 0, 0, 2}, std::string("replicate"))},
        {"pad_circular", make<Pad>(std::vector<std::int64_t>{1, 2, 2, 1}, std::string("circular"))},
        {"pad_constant", make<Pad>(std::vector<std::int64_t>{1, 1, 0, 2}, std::string("constant"))},
        {"conv_transpose2d", make<ConvTranspose2d>(3, 4, 3)},
        {"conv_transpose2d_stride_pad_outpad", make<ConvTranspose2d>(ConvTranspose2dOptions(2, 4, {3, 2}).stride(2).padding(1).output_padding(1))},
        {"conv_transpose2d_groups_dilation", make<ConvTranspose2d>(ConvTranspose2dOptions(4, 6, 3).groups(2).dilation(2).bias(false))},
        {"conv_transpose1d", make<ConvTranspose1d>(ConvTranspose1dOptions(3, 2, 4).stride(3).padding(1))},
        {"conv3d_basic", make<Conv3d>(2, 3, 3)},
        {"conv3d_stride_pad_dilation_groups",
         make<Conv3d>(Conv3dOptions(4, 6, {2, 3, 2}).stride({2, 1, 2}).padding({1, 1, 0}).dilation({2, 1, 1}).groups(2))},
        {"conv3d_same_replicate", make<Conv3d>(Conv3dOptions(2, 2, 3).padding(kSame).padding_mode(PaddingMode::Replicate).bias(false))},
        {"conv3d_circular", make<Conv3d>(Conv3dOptions(2, 3, {3, 2, 2}).padding(1).padding_mode(PaddingMode::Circular))},
        {"conv3d_unbatched", make<Conv3d>(2, 2, 2)},
        {"conv_transpose3d", make<ConvTranspose3d>(3, 2, 3)},
        {"conv_transpose3d_stride_pad_outpad_groups",
         make<ConvTranspose3d>(ConvTranspose3dOptions(4, 6, {3, 2, 3}).stride({2, 2, 1}).padding({1, 0, 1}).output_padding({1, 1, 0}).groups(2).dilation({1, 1, 2}))},
        {"maxpool3d", make<MaxPool3d>(MaxPoolOptions<3>(2))},
        {"maxpool3d_stride_pad_ceil_dilation",
         make<MaxPool3d>(MaxPoolOptions<3>({3, 2, 3}).stride({2, 1, 2}).padding({1, 1, 1}).dilation({1, 2, 1}).ceil_mode(true))},
        {"avgpool3d", make<AvgPool3d>(AvgPoolOptions<3>(2))},
        {"avgpool3d_pad_exclude_ceil", make<AvgPool3d>(AvgPoolOptions<3>(3).stride(2).padding(1).ceil_mode(true).count_include_pad(false))},
        {"avgpool3d_include_pad_ceil", make<AvgPool3d>(AvgPoolOptions<3>(3).stride(2).padding(1).ceil_mode(true))},
        {"avgpool3d_divisor", make<AvgPool3d>(AvgPoolOptions<3>({2, 2, 3}).stride({1, 2, 2}).padding({1, 0, 1}).divisor_override(5))},
        {"adaptive_avgpool3d", make<AdaptiveAvgPool3d>(ExpandingArray<3>({2, 3, 2}))},
        {"instancenorm2d", make<InstanceNorm2d>(3)},
        {"instancenorm2d_affine_tracked", make<InstanceNorm2d>(InstanceNormOptions(3).affine(true).track_running_stats(true))},
        {"instancenorm1d_tracked_eval", make<InstanceNorm1d>(InstanceNormOptions(2).affine(true).track_running_stats(true))},
        {"rnn_tanh", make<RNN>(4, 5)},
        {"rnn_relu_2layer_batch_first", make<RNN>(RNNOptions(4, 5).num_layers(2).nonlinearity(RNNNonlinearity::ReLU).batch_first(true))},
        {"lstm", make<LSTM>(4, 5)},
        {"lstm_bidirectional_2layer_proj", make<LSTM>(RNNOptions(4, 6).num_layers(2).bidirectional(true).proj_size(3))},
        {"lstm_unbatched", make<LSTM>(3, 4)},
        {"gru_bidirectional_batch_first", make<GRU>(RNNOptions(4, 5).bidirectional(true).batch_first(true))},
        {"gru_nobias", make<GRU>(RNNOptions(3, 4).bias(false))},
        {"rnn_cell", make<RNNCell>(4, 5)},
        {"lstm_cell", make<LSTMCell>(4, 5)},
        {"gru_cell", make<GRUCell>(4, 5)},
        {"layernorm", make<LayerNorm>(Shape{5})},
        {"layernorm_2d_no_affine", make<LayerNorm>(Shape{3, 4}, 1e-5, false)},
        {"groupnorm", make<GroupNorm>(2, 6)},
        {"groupnorm_no_affine", make<GroupNorm>(3, 3, 1e-5, false)},
        {"relu6", make<ReLU6>()},
        {"leaky_relu", make<LeakyReLU>(LeakyReLUOptions().negative_slope(0.2))},
        {"prelu_channels", make<PReLU>(PReLUOptions().num_parameters(3).init(0.1))},
        {"elu", make<ELU>(ELUOptions().alpha(0.7))},
        {"celu", make<CELU>(CELUOptions().alpha(1.3))},
        {"selu", make<SELU>()},
        {"silu", make<SiLU>()},
        {"mish", make<Mish>()},
        {"hardswish", make<Hardswish>()},
        {"hardsigmoid", make<Hardsigmoid>()},
        {"hardtanh", make<Hardtanh>(HardtanhOptions().min_val(-0.5).max_val(0.8))},
        {"softplus", make<Softplus>(SoftplusOptions().beta(2.0).threshold(3.0))},
        {"softsign", make<Softsign>()},
        {"logsigmoid", make<LogSigmoid>()},
        {"threshold", make<Threshold>(0.1, -2.0)},
        {"softmax", make<Softmax>(1)},
        {"log_softmax", make<LogSoftmax>(0)},
        {"softmin", make<Softmin>(-1)},
        {"mha", make<MultiheadAttention>(8, 2)},
        {"mha_batch_first_nobias", make<MultiheadAttention>(MultiheadAttentionOptions(6, 3).bias(false).batch_first(true))},
        {"transformer_layer", make<TransformerEncoderLayer>(TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.0))},
        {"transformer_layer_norm_first_gelu",
         make<TransformerEncoderLayer>(TransformerEncoderLayerOptions(8, 4).dim_feedforward(12).dropout(0.0).activation(TransformerActivation::GELU).norm_first(true).batch_first(true))},
        {"transformer_encoder", [] {
             return std::make_unique<TransformerEncoder>(TransformerEncoderLayer(TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.0)), 2);
         }},
        {"unflatten", make<Unflatten>(1, Shape{2, 3})},
        {"pixel_shuffle", make<PixelShuffle>(2)},
        {"zero_pad2d", make<ZeroPad2d>(ExpandingArray<4>({1, 2, 0, 1}))},
        {"constant_pad1d", make<ConstantPad1d>(ExpandingArray<2>({2, 1}), 3.5)},
        {"upsample_nearest", make<Upsample>(UpsampleOptions().scale_factor(2.0))},
        {"upsample_nearest_size", make<Upsample>(UpsampleOptions().size(UpsampleSize{5, 7}).mode(UpsampleMode::Nearest))},
        {"upsample_bilinear", make<Upsample>(UpsampleOptions().scale_factor(2.0).mode(UpsampleMode::Bilinear))},
        {"upsample_bilinear_size", make<Upsample>(UpsampleOptions().size(UpsampleSize{4, 9}).mode(UpsampleMode::Bilinear))},
        {"adaptive_maxpool2d", make<AdaptiveMaxPool2d>(ExpandingArray<2>({2, 3}))},
        {"adaptive_maxpool1d", make<AdaptiveMaxPool1d>(ExpandingArray<1>(3))},
        {"local_response_norm", make<LocalResponseNorm>(3, 0.1, 0.6, 2.0)},
        {"local_response_norm_even_3d", make<LocalResponseNorm>(4)},
        {"flatten", make<Flatten>()},
        {"gelu_tanh", make<GELU>(GELUOptions().approximate(GELUApproximate::Tanh))},
    };
    return table;
}

StateDict fixture_state(const nlohmann::json& c) {
    StateDict sd;
    for (auto it = c.at("state").begin(); it != c.at("state").end(); ++it) {
        const bool integral = it.key().find("num_batches_tracked") != std::string::npos;
        sd.insert(it.key(), fixture_tensor(it.value(), integral ? kInt64 : kFloat64));
    }
    return sd;
}

}  // namespace

TEST_SUITE("layers vs PyTorch") {
    TEST_CASE("every fixture case is covered") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        CHECK(fixture.at("cases").size() == cases().size());
    }

    TEST_CASE("outputs, gradients, buffers and printing match") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        for (const auto& [name_entry, factory] : cases()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            auto m = factory();
            m->to(kFloat64);
            m->train(c.at("train").get<bool>());
            CHECK(m->load_state_dict(fixture_state(c)).ok());
            Tensor x = fixture_tensor(c.at("input")).requires_grad_();
            const Tensor y = (*m)(x);
            check_close(y, fixture_tensor(c.at("output")), 1e-9, 1e-12);
            (y * fixture_tensor(c.at("weight"))).sum().backward();
            // PyTorch evaluates CELU's and Hardsigmoid's backward scalars in float32 even for
            // float64 tensors; lazynn's values are the exact ones, so those compare at 1e-6.
            const double grad_rtol = (name == "celu" || name == "hardsigmoid") ? 1e-6 : 1e-9;
            check_close(x.grad(), fixture_tensor(c.at("grad_input")), grad_rtol, 1e-12);
            for (auto it = c.at("grads").begin(); it != c.at("grads").end(); ++it) {
                CAPTURE(it.key());
                check_close(m->get_parameter(it.key()).grad(), fixture_tensor(it.value()), 1e-9, 1e-12);
            }
            for (auto it = c.at("buffers_after").begin(); it != c.at("buffers_after").end(); ++it) {
                CAPTURE(it.key());
                check_close(m->get_buffer(it.key()), fixture_tensor(it.value()), 1e-9, 1e-12);
            }
            if (!c.at("repr").get<std::string>().empty()) CHECK(m->str() == c.at("repr").get<std::string>());
        }
    }

    TEST_CASE("float32 outputs and gradients (oneDNN GEMM and convolutions) match within float32 tolerance") {
        // The float64 case above pins the formulas; this one runs every layer through the float32 kernels
        // (oneDNN's sgemm and convolution primitives, the vectorised activations) against the same fixtures.
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        for (const auto& [name, factory] : cases()) {
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            auto m = factory();
            m->to(kFloat32);
            m->train(c.at("train").get<bool>());
            StateDict state;
            for (const auto& [key, value] : fixture_state(c))
                state.insert(key, value.dtype() == kFloat64 ? value.to(kFloat32) : value);
            CHECK(m->load_state_dict(state).ok());
            Tensor x = fixture_tensor(c.at("input"), kFloat32).requires_grad_();
            const Tensor y = (*m)(x);
            check_close(y, fixture_tensor(c.at("output")), 2e-4, 2e-5);
            (y * fixture_tensor(c.at("weight"), kFloat32)).sum().backward();
            check_close(x.grad(), fixture_tensor(c.at("grad_input")), 2e-4, 2e-5);
            for (auto it = c.at("grads").begin(); it != c.at("grads").end(); ++it) {
                CAPTURE(it.key());
                check_close(m->get_parameter(it.key()).grad(), fixture_tensor(it.value()), 2e-4, 5e-5);
            }
        }
    }

    TEST_CASE("gradcheck in float64 for every layer") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        for (const auto& [name_entry, factory] : cases()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            auto m = factory();
            m->to(kFloat64);
            // Parameters are gradchecked too: they are float64 leaves whose storage gradcheck perturbs.
            m->train(c.at("train").get<bool>());
            m->load_state_dict(fixture_state(c));
            std::vector<Tensor> inputs{fixture_tensor(c.at("input")).requires_grad_()};
            std::vector<std::string> names;
            for (auto& [pname, p] : m->named_parameters()) {
                inputs.push_back(p);
                names.push_back(pname);
            }
            const auto check = autograd::gradcheck([&](const std::vector<Tensor>& in) { return (*m)(in[0]); }, inputs);
            CHECK_MESSAGE(check.ok, check.message);
        }
    }
}

TEST_SUITE("lazy layers") {
    TEST_CASE("LazyConv2d infers in_channels, becomes Conv2d and matches the eager layer") {
        manual_seed(8);
        Conv2d eager(Conv2dOptions(3, 4, 3).padding(1));
        manual_seed(8);
        LazyConv2d lazy(Conv2dOptions(0, 4, 3).padding(1));
        CHECK(lazy.str() == "LazyConv2d(0, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
        const Tensor x = randn({2, 3, 5, 5});
        const Tensor y = lazy(x);
        CHECK(lazy.name() == "Conv2d");
        CHECK(lazy.in_channels() == 3);
        CHECK(lazy.weight.shape() == Shape{4, 3, 3, 3});
        CHECK(equal(y, eager(x)));
        CHECK(lazy.str() == eager.str());
        // Unbatched input infers from dim 0.
        LazyConv2d unbatched(4, 3);
        unbatched(randn({5, 6, 6}));
        CHECK(unbatched.in_channels() == 5);
    }

    TEST_CASE("LazyConv2d rank and groups checks use PyTorch's messages; failures stay lazy") {
        LazyConv2d conv(Conv2dOptions(0, 4, 3).groups(2));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            conv(ones({3, 5})), RuntimeError,
            "Expected 3D (unbatched) or 4D (batched) input to LazyConv2d, but got input of size: [3, 5]");
        CHECK(conv.is_lazy());
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(conv(ones({1, 3, 5, 5})), ValueError,
                                        "in_channels must be divisible by groups");
        CHECK(conv.is_lazy());
        CHECK(conv(ones({1, 4, 5, 5})).shape() == Shape{1, 4, 3, 3});
        CHECK_FALSE(conv.is_lazy());
    }

    TEST_CASE("LazyConv1d and LazyBatchNorm1d/2d infer their sizes") {
        LazyConv1d c1(6, 3);
        CHECK(c1(randn({2, 5, 10})).shape() == Shape{2, 6, 8});
        CHECK(c1.name() == "Conv1d");
        LazyBatchNorm2d bn;
        CHECK(bn.str() == "LazyBatchNorm2d(0, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
        CHECK(bn.num_batches_tracked.defined());
        CHECK_FALSE(is_lazy(bn.num_batches_tracked));
        bn(randn({4, 7, 3, 3}));
        CHECK(bn.name() == "BatchNorm2d");
        CHECK(bn.num_features() == 7);
        CHECK(bn.running_mean.shape() == Shape{7});
        CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);
        CHECK(equal(bn.weight, ones({7})));
        LazyBatchNorm1d bn1;
        bn1(randn({5, 3}));
        CHECK(bn1.num_features() == 3);
        // Nothing to infer: the module becomes BatchNorm2d with num_features 0, as in PyTorch.
        LazyBatchNorm2d bare(BatchNormOptions(0).affine(false).track_running_stats(false));
        CHECK(bare(randn({2, 3, 2, 2})).shape() == Shape{2, 3, 2, 2});
        CHECK(bare.name() == "BatchNorm2d");
        CHECK(bare.num_features() == 0);
    }

    TEST_CASE("lazy conv and batch norm load a checkpoint without a forward") {
        Conv2d conv(Conv2dOptions(3, 5, 3).groups(1));
        LazyConv2d lazy_conv(5, 3);
        lazy_conv.load_state_dict(conv.state_dict());
        CHECK(lazy_conv.name() == "Conv2d");
        CHECK(lazy_conv.in_channels() == 3);
        CHECK(lazy_conv.str() == conv.str());
        const Tensor x = randn({1, 3, 4, 4});
        CHECK(equal(lazy_conv(x), conv(x)));

        BatchNorm2d bn(4);
        bn(randn({3, 4, 2, 2}));
        LazyBatchNorm2d lazy_bn;
        lazy_bn.load_state_dict(bn.state_dict());
        CHECK(lazy_bn.name() == "BatchNorm2d");
        CHECK(lazy_bn.num_features() == 4);
        CHECK(equal(lazy_bn.running_mean, bn.running_mean));
        CHECK(lazy_bn.num_batches_tracked.item<std::int64_t>() == 1);
        bn.eval();
        lazy_bn.eval();
        const Tensor z = randn({2, 4, 2, 2});
        CHECK(equal(lazy_bn(z), bn(z)));
    }
}

TEST_SUITE("lazy transposed convolutions and instance norms") {
    TEST_CASE("LazyConvTranspose2d infers in_channels (weight [in, out/groups, k, k]) and matches the eager layer") {
        manual_seed(4);
        ConvTranspose2d eager(ConvTranspose2dOptions(3, 4, 3).stride(2));
        manual_seed(4);
        LazyConvTranspose2d lazy(ConvTranspose2dOptions(0, 4, 3).stride(2));
        CHECK(lazy.str() == "LazyConvTranspose2d(0, 4, kernel_size=(3, 3), stride=(2, 2))");
        const Tensor x = randn({2, 3, 4, 4});
        CHECK(equal(lazy(x), eager(x)));
        CHECK(lazy.name() == "ConvTranspose2d");
        CHECK(lazy.weight.shape() == Shape{3, 4, 3, 3});
        LazyConvTranspose1d lazy1(2, 3);
        CHECK(lazy1(randn({1, 5, 6})).shape() == Shape{1, 2, 8});
        CHECK(lazy1.in_channels() == 5);
        LazyConvTranspose2d loaded(4, 3);
        loaded.load_state_dict(eager.state_dict());
        CHECK(loaded.in_channels() == 3);
        CHECK(loaded.name() == "ConvTranspose2d");
    }

    TEST_CASE("LazyInstanceNorm has PyTorch's lazy defaults and infers num_features") {
        LazyInstanceNorm2d norm;
        CHECK(norm.str() == "LazyInstanceNorm2d(0, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
        norm(randn({2, 5, 3, 3}));
        CHECK(norm.name() == "InstanceNorm2d");
        CHECK(norm.num_features() == 5);
        CHECK(norm.running_mean.shape() == Shape{5});
        LazyInstanceNorm1d norm1;
        norm1(randn({2, 3, 6}));
        CHECK(norm1.num_features() == 3);
        LazyInstanceNorm3d norm3;
        CHECK(norm3(randn({1, 2, 3, 3, 3})).shape() == Shape{1, 2, 3, 3, 3});
        CHECK(norm3.num_features() == 2);
    }
}

TEST_SUITE("recurrent layers") {
    TEST_CASE("states: h_n and c_n agree with the output sequence; given states are used") {
        manual_seed(2);
        LSTM lstm(RNNOptions(3, 4).num_layers(2));
        const Tensor x = randn({5, 2, 3});
        const RNNResult r = lstm.forward_with_state(x);
        CHECK(r.output.shape() == Shape{5, 2, 4});
        CHECK(r.h_n.shape() == Shape{2, 2, 4});
        CHECK(r.c_n.shape() == Shape{2, 2, 4});
        CHECK(equal(r.h_n.select(0, 1), r.output.select(0, 4)));
        // Continuing from the returned state equals running the whole sequence at once.
        const RNNResult first = lstm(x.narrow(0, 0, 3), Tensor(), Tensor());
        const RNNResult rest = lstm(x.narrow(0, 3, 2), first.h_n, first.c_n);
        CHECK(allclose(rest.output, r.output.narrow(0, 3, 2), 1e-5, 1e-6));
        CHECK_THROWS_AS(lstm(x, zeros({1, 2, 4}), Tensor()), ShapeError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(lstm(randn({5, 2, 7})), ShapeError,
                                        "input.size(-1) must be equal to input_size. Expected 3, got 7");
        CHECK(lstm.str() == "LSTM(3, 4, num_layers=2)");
        CHECK(lstm.named_parameters()[4].first == "weight_ih_l1");
    }

    TEST_CASE("lazy recurrent layers infer input_size and load checkpoints") {
        manual_seed(6);
        LSTM eager(RNNOptions(7, 5).bidirectional(true));
        manual_seed(6);
        LazyLSTM lazy(RNNOptions(0, 5).bidirectional(true));
        CHECK(lazy.str() == "LazyLSTM(0, 5, bidirectional=True)");
        const Tensor x = randn({4, 2, 7});
        CHECK(equal(lazy(x), eager(x)));
        CHECK(lazy.name() == "LSTM");
        CHECK(lazy.str() == "LSTM(7, 5, bidirectional=True)");
        LazyGRU gru(8);
        CHECK(gru(randn({3, 6})).shape() == Shape{3, 8});  // unbatched
        LazyRNN loaded(5);
        loaded.load_state_dict(RNN(9, 5).state_dict());
        CHECK(loaded.str() == "RNN(9, 5)");
        LazyLSTMCell cell(6);
        CHECK(cell.step(randn({2, 3})).c_n.shape() == Shape{2, 6});
        CHECK(cell.input_size() == 3);
        CHECK(cell.name() == "LSTMCell");
        LazyGRUCell gcell(4);
        CHECK(gcell(randn({2, 5})).shape() == Shape{2, 4});
        LazyRNNCell rcell(4);
        rcell.load_state_dict(RNNCell(3, 4).state_dict());
        CHECK(rcell.input_size() == 3);
    }
}

TEST_SUITE("norms and embeddings") {
    TEST_CASE("functional layer_norm and group_norm: the modules' results, float32 against float64, PyTorch's errors") {
        manual_seed(12);
        const Tensor x = randn({6, 4, 5}) * 4 + 2;
        LayerNorm ln(Shape{4, 5});
        ln.to(kFloat64);
        {
            NoGradGuard no_grad;
            ln.weight.copy_(randn({4, 5}));
            ln.bias.copy_(randn({4, 5}));
        }
        const Tensor x64 = x.to(kFloat64);
        check_close(functional::layer_norm(x64, Shape{4, 5}, ln.weight, ln.bias), ln(x64), 0, 0);
        GroupNorm gn(2, 4);
        gn.to(kFloat64);
        check_close(functional::group_norm(x64, 2, gn.weight, gn.bias), gn(x64), 0, 0);
        // The float32 kernels accumulate in double: float32 results stay within float32 rounding.
        for (const bool affine : {false, true}) {
            CAPTURE(affine);
            const Tensor w = affine ? randn({5}) : Tensor(), b = affine ? randn({5}) : Tensor();
            const Tensor in32 = x.detach().requires_grad_(), in64 = x.to(kFloat64).detach().requires_grad_();
            const Tensor out32 = functional::layer_norm(in32, Shape{5}, w, b);
            const Tensor out64 = functional::layer_norm(in64, Shape{5}, affine ? w.to(kFloat64) : Tensor(),
                                                        affine ? b.to(kFloat64) : Tensor());
            check_close(out32, out64, 1e-5, 1e-5);
            (out32 * out32.detach()).sum().backward();
            (out64 * out64.detach()).sum().backward();
            check_close(in32.grad(), in64.grad(), 1e-4, 1e-4);
        }
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            functional::layer_norm(x, Shape{4}), ShapeError,
            "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size [6, 4, 5]");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(functional::layer_norm(x, Shape{5}, ones({4})), ShapeError,
                                        "layer_norm: expected weight and bias of shape [5], got [4]");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            functional::layer_norm(x, Shape{5}, ones({5}, kFloat64)), DtypeError,
            "layer_norm: expected weight and bias of the input's dtype float32, got float64");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            functional::group_norm(x, 3), ValueError,
            "group_norm: expected the number of channels 4 to be divisible by num_groups=3");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(functional::group_norm(x, 2, ones({5})), ShapeError,
                                        "group_norm: expected weight and bias of shape [4], got [5]");
    }

    TEST_CASE("LazyLayerNorm and LazyGroupNorm infer their sizes (PyTorch ships neither)") {
        LazyLayerNorm ln(2);
        CHECK(ln(randn({3, 4, 5})).shape() == Shape{3, 4, 5});
        CHECK(ln.name() == "LayerNorm");
        CHECK(ln.normalized_shape() == Shape{4, 5});
        CHECK(ln.weight.shape() == Shape{4, 5});
        CHECK(ln.str() == "LayerNorm((4, 5), eps=1e-05, elementwise_affine=True)");
        LazyLayerNorm loaded;
        loaded.load_state_dict(LayerNorm(Shape{7}).state_dict());
        CHECK(loaded.normalized_shape() == Shape{7});
        LazyGroupNorm gn(2);
        CHECK(gn(randn({2, 6, 3})).shape() == Shape{2, 6, 3});
        CHECK(gn.num_channels() == 6);
        CHECK(gn.str() == "GroupNorm(2, 6, eps=1e-05, affine=True)");
        LazyGroupNorm bad(4);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bad(randn({2, 6, 3})), ValueError,
                                        "num_channels must be divisible by num_groups");
        CHECK(bad.is_lazy());
    }

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
            LazyMultiheadAttention lazy(MultiheadAttentionOptions(0, 2).batch_first(true));
            CHECK(lazy.name() == "LazyMultiheadAttention");
            CHECK(lazy.named_parameters().size() == 7);             // every projection listed, all uninitialised
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
            std::vector<std::string> names, eager_names;
            for (const auto& [name, p] : lazy.named_parameters()) names.push_back(name);
            for (const auto& [name, p] : eager.named_parameters()) eager_names.push_back(name);
            CHECK(names == eager_names);
            CHECK(lazy.str() == eager.str());
            CHECK(held[separate ? 1 : 0].is_same(separate ? lazy.q_proj_weight : lazy.in_proj_weight));
            CHECK_FALSE(is_lazy(held[separate ? 1 : 0]));

            LazyMultiheadAttention loaded(MultiheadAttentionOptions(0, 2).batch_first(true));
            CHECK(loaded.load_state_dict(eager.state_dict()).ok());  // no forward needed
            CHECK(loaded.name() == "MultiheadAttention");
            CHECK(loaded.options().kdim() == kdim);
            CHECK(loaded.out_proj.in_features() == 6);
            CHECK(equal(loaded(q, k, v).output, expected.output));
        }
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

namespace {
/// The fixtures name PyTorch's mode strings.
EmbeddingBagMode bag_mode(const std::string& mode) {
    return mode == "sum" ? EmbeddingBagMode::Sum : mode == "mean" ? EmbeddingBagMode::Mean : EmbeddingBagMode::Max;
}
}  // namespace

TEST_SUITE("EmbeddingBag") {
    TEST_CASE("sum, mean and max bags with offsets (an empty bag included) match PyTorch") {
        const auto bags = lazynn::testing::load_fixture("layers.json").at("embedding_bag");
        for (const std::string mode : {"sum", "mean", "max"}) {
            CAPTURE(mode);
            const auto& c = bags.at(mode);
            EmbeddingBag bag(7, 3, bag_mode(mode));
            bag.to(kFloat64);
            StateDict sd;
            sd.insert("weight", fixture_tensor(c.at("weight")));
            bag.load_state_dict(sd);
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
            bag.to(kFloat64);
            StateDict sd;
            sd.insert("weight", fixture_tensor(c.at("weight")));
            bag.load_state_dict(sd);
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

TEST_SUITE("3-D layers and transposed output sizes") {
    TEST_CASE("MaxPool3d's indices match PyTorch's, ties included") {
        const auto c = lazynn::testing::load_fixture("layers.json").at("maxpool3d_indices");
        MaxPool3d pool(MaxPoolOptions<3>({2, 3, 2}).stride({1, 2, 2}).padding({1, 1, 0}).ceil_mode(true));
        const ValuesIndices r = pool.forward_with_indices(fixture_tensor(c.at("input")));
        check_close(r.values, fixture_tensor(c.at("values")), 0, 0);
        CHECK(r.indices.dtype() == kInt64);
        check_close(r.indices.to(kFloat64), fixture_tensor(c.at("indices")), 0, 0);
    }

    TEST_CASE("MaxPool2d follows PyTorch with ties and NaN, on the 2x2 fast path and the general kernels") {
        // Fixture inputs hold small integers (ties) and NaN, written as null.
        auto with_nan = [](const nlohmann::json& entry, Dtype dtype) {
            std::vector<double> data;
            for (const auto& v : entry.at("data")) data.push_back(v.is_null() ? std::nan("") : v.get<double>());
            return tensor(data, entry.at("shape").get<Shape>(), kFloat64).to(dtype);
        };
        const nlohmann::json cases = lazynn::testing::load_fixture("layers.json").at("maxpool2d_ties_nan");
        REQUIRE(cases.size() == 5);
        for (const auto& c : cases) {
            for (const Dtype dtype : {kFloat64, kFloat32}) {
                const Tensor x = with_nan(c.at("input"), dtype).requires_grad_(true);
                CAPTURE(shape_to_list(x.shape()));
                CAPTURE(dtype_name(dtype));
                MaxPool2d pool(MaxPoolOptions<2>(c.at("kernel").get<std::int64_t>())
                                   .stride(c.at("stride").get<std::int64_t>())
                                   .padding(c.at("padding").get<std::int64_t>())
                                   .ceil_mode(c.at("ceil_mode").get<bool>()));
                const Tensor values = pool(x);
                const std::vector<double> got = values.to_vector<double>(),
                                          want = with_nan(c.at("values"), kFloat64).to_vector<double>();
                REQUIRE(got.size() == want.size());
                for (std::size_t i = 0; i < got.size(); ++i)
                    CHECK((std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i]));
                (values * fixture_tensor(c.at("seed"), dtype)).sum().backward();
                // Overlapping windows add two seeds: exact in float64, rounded in float32.
                check_close(x.grad(), fixture_tensor(c.at("grad")), dtype == kFloat32 ? 1e-6 : 0, 0);
                check_close(pool.forward_with_indices(x).indices.to(kFloat64), fixture_tensor(c.at("indices")), 0, 0);
            }
        }
    }

    TEST_CASE("ConvTranspose forward(input, output_size) picks PyTorch's output_padding") {
        const auto c = lazynn::testing::load_fixture("layers.json").at("conv_transpose_output_size");
        ConvTranspose2d ct(ConvTranspose2dOptions(2, 3, 3).stride(3).padding(1));
        ct.to(kFloat64);
        StateDict sd;
        for (auto it = c.at("state").begin(); it != c.at("state").end(); ++it)
            sd.insert(it.key(), fixture_tensor(it.value()));
        ct.load_state_dict(sd);
        const Tensor x = fixture_tensor(c.at("input"));
        check_close(ct(x, Shape{11, 14}), fixture_tensor(c.at("output")), 1e-12, 1e-12);
        CHECK(ct(x, Shape{1, 3, 10, 13}).shape() == Shape{1, 3, 10, 13});  // batch and channel dims may be included
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ct(x, Shape{13, 14}), ValueError,
                                        "requested an output size of [13, 14], but valid sizes range from [10, 13] to "
                                        "[12, 15] (for an input of [4, 5])");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ct(x, Shape{11}), ValueError, "output_size must have 2 or 4 elements (got 1)");
        ConvTranspose3d ct3(ConvTranspose3dOptions(1, 1, 2).stride(2));
        CHECK(ct3(randn({1, 1, 2, 2, 2}), Shape{5, 4, 5}).shape() == Shape{1, 1, 5, 4, 5});
    }

    TEST_CASE("LazyConv3d and LazyConvTranspose3d infer in_channels, match the eager layers and load checkpoints") {
        manual_seed(8);
        Conv3d eager(Conv3dOptions(4, 6, 3).groups(2).padding(1));
        manual_seed(8);
        LazyConv3d lazy(Conv3dOptions(0, 6, 3).groups(2).padding(1));
        const Tensor x = randn({1, 4, 3, 4, 5});
        CHECK(equal(lazy(x), eager(x)));
        CHECK(lazy.name() == "Conv3d");
        CHECK(lazy.str() == eager.str());
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            LazyConv3d(2, 3)(randn({2, 3, 3})), RuntimeError,
            "Expected 4D (unbatched) or 5D (batched) input to LazyConv3d, but got input of size: [2, 3, 3]");
        LazyConv3d loaded(Conv3dOptions(0, 6, 3).groups(2).padding(1));
        loaded.load_state_dict(eager.state_dict());
        CHECK(loaded.in_channels() == 4);
        CHECK(equal(loaded(x), eager(x)));

        manual_seed(9);
        ConvTranspose3d eager_t(ConvTranspose3dOptions(3, 2, 2).stride(2));
        manual_seed(9);
        LazyConvTranspose3d lazy_t(ConvTranspose3dOptions(0, 2, 2).stride(2));
        const Tensor y = randn({2, 3, 2, 3, 2});
        CHECK(equal(lazy_t(y), eager_t(y)));
        CHECK(lazy_t.weight.shape() == Shape{3, 2, 2, 2, 2});
        CHECK(lazy_t.name() == "ConvTranspose3d");
        LazyConvTranspose3d loaded_t(2, 2);
        loaded_t.load_state_dict(eager_t.state_dict());
        CHECK(loaded_t.in_channels() == 3);
    }
}

TEST_SUITE("dropout variants") {
    TEST_CASE("channel dropout zeroes whole channels and keeps the expectation; identity in eval") {
        manual_seed(3);
        Dropout2d drop(0.5);
        const Tensor x = ones({64, 16, 3, 3});
        const Tensor y = drop(x);
        const Tensor per_channel = y.sum({2, 3});  // 0 or 9 / (1 - p) = 18
        const std::vector<float> v = per_channel.to_vector<float>();
        CHECK(std::all_of(v.begin(), v.end(), [](float s) { return s == 0.0f || s == 18.0f; }));
        CHECK(std::abs(y.mean().item<float>() - 1.0f) < 0.1f);
        drop.eval();
        CHECK(equal(drop(x), x));
        CHECK(Dropout1d(0.1).str() == "Dropout1d(p=0.1, inplace=False)");
        CHECK_THROWS_AS(Dropout3d(0.5)(ones({2, 3})), ShapeError);
    }

    TEST_CASE("AlphaDropout keeps mean 0 and variance 1 of SELU-normalised inputs") {
        manual_seed(4);
        AlphaDropout drop(0.2);
        const Tensor x = randn({200000}, kFloat64);
        const Tensor y = drop(x);
        CHECK(std::abs(y.mean().item<double>()) < 0.01);
        CHECK(std::abs(y.var().item<double>() - 1.0) < 0.02);
        drop.eval();
        CHECK(equal(drop(x), x));
    }
}

TEST_SUITE("layer errors") {
    TEST_CASE("shape errors name the module and both shapes") {
        Conv2d conv(3, 8, 3);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(conv(ones({2, 4, 5, 5})), ShapeError,
                                        "Given groups=1, weight of size [8, 3, 3, 3], expected input[2, 4, 5, 5] to "
                                        "have 3 channels, but got 4 channels instead");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(conv(ones({4, 5})), ShapeError,
                                        "Expected 3D (unbatched) or 4D (batched) input to Conv2d");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(conv(ones({1, 3, 2, 2})), ShapeError, "smaller than the dilated kernel");
        BatchNorm2d bn(3);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bn(ones({2, 3, 4})), ShapeError,
                                        "BatchNorm2d: expected 4D input (got 3D input");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bn(ones({2, 5, 4, 4})), ShapeError, "expected input with 3 channels");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(BatchNorm1d(3)(ones({1, 3})), ValueError,
                                        "Expected more than 1 value per channel when training");
        CHECK_THROWS_AS(Conv2d(Conv2dOptions(3, 8, 3).stride(2).padding(kSame)), ValueError);
        // padding_mode is an enum: an unknown mode ("mirror") no longer compiles.
        static_assert(!std::is_constructible_v<PaddingMode, const char*>);
        CHECK_THROWS_AS(Conv2d(Conv2dOptions(3, 8, 3).groups(2)), ValueError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(MaxPool2d(MaxPoolOptions<2>(2).padding(2))(ones({1, 1, 4, 4})), ValueError,
                                        "pad should be at most half");
    }
}

TEST_SUITE("layer + ReLU fusion in Sequential") {
    // Sequential runs Linear/Conv1d/Conv2d followed by ReLU as one pass; everything observable
    // must equal the two separate calls.
    struct Run {
        Tensor out, input_grad;
        std::vector<Tensor> param_grads;
    };

    Run run(Module & model, const Tensor& x, bool through_sequential) {
        model.zero_grad();
        const Tensor in = x.detach().requires_grad_();
        Tensor out;
        if (through_sequential) {
            out = model(in);
        } else {  // each child on its own
            out = in;
            for (Module* child : model.children()) out = (*child)(out);
        }
        (out * out.detach().sin()).sum().backward();
        Run r{out, in.grad(), {}};
        for (const Tensor& p : model.parameters()) r.param_grads.push_back(p.grad().clone());
        return r;
    }

    TEST_CASE("fused layers equal the separate layer and ReLU exactly, in float32 and float64") {
        manual_seed(21);
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            CAPTURE(dtype_name(dtype));
            Sequential mlp{Linear(6, 5), ReLU(), Linear(5, 4), ReLU()};
            Sequential cnn{Conv2d(Conv2dOptions(2, 3, 3).padding(1)),
                           ReLU(),
                           Conv2d(3, 2, 2),
                           ReLU(),
                           Flatten(),
                           LazyLinear(3),
                           ReLU()};
            Sequential cnn1d{Conv1d(Conv1dOptions(2, 4, 3).stride(2)), ReLU()};
            const std::vector<std::pair<Sequential*, Tensor>> cases{
                {&mlp, randn({7, 6})}, {&cnn, randn({3, 2, 6, 5})}, {&cnn1d, randn({2, 2, 9})}};
            for (const auto& [model, x] : cases) {
                model->to(dtype);
                model->initialize(x.to(dtype));
                const Run fused = run(*model, x.to(dtype), true), separate = run(*model, x.to(dtype), false);
                if (model != &cnn1d) CHECK(fused.out.grad_fn()->name() == "ReluBackward0");  // Conv1d ends in a squeeze
                CHECK(equal(fused.out, separate.out));
                CHECK(equal(fused.input_grad, separate.input_grad));
                REQUIRE(fused.param_grads.size() == separate.param_grads.size());
                for (std::size_t i = 0; i < fused.param_grads.size(); ++i)
                    CHECK(equal(fused.param_grads[i], separate.param_grads[i]));
            }
        }
    }

    TEST_CASE("a batch norm followed by a ReLU fuses in training and in evaluation, running statistics included") {
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            CAPTURE(dtype_name(dtype));
            auto build = [dtype] {
                manual_seed(24);
                Sequential model{Conv2d(Conv2dOptions(2, 3, 3).padding(1)),
                                 BatchNorm2d(3),
                                 ReLU(),
                                 Flatten(),
                                 Linear(90, 4),
                                 BatchNorm1d(4),
                                 ReLU()};
                model.to(dtype);
                return model;
            };
            Sequential fused_model = build(), separate_model = build();
            const Tensor x = randn({5, 2, 6, 5}).to(dtype);
            for (const bool training : {true, false, true}) {
                CAPTURE(training);
                fused_model.train(training);
                separate_model.train(training);
                const Run fused = run(fused_model, x, true), separate = run(separate_model, x, false);
                CHECK(fused.out.grad_fn()->name() == "ReluBackward0");
                CHECK(fused.out.min().item<double>() >= 0);
                CHECK(equal(fused.out, separate.out));
                CHECK(equal(fused.input_grad, separate.input_grad));
                REQUIRE(fused.param_grads.size() == separate.param_grads.size());
                for (std::size_t i = 0; i < fused.param_grads.size(); ++i)
                    CHECK(equal(fused.param_grads[i], separate.param_grads[i]));
                const auto fused_buffers = fused_model.named_buffers(),
                           separate_buffers = separate_model.named_buffers();
                REQUIRE(fused_buffers.size() == separate_buffers.size());
                for (std::size_t i = 0; i < fused_buffers.size(); ++i)
                    CHECK(equal(fused_buffers[i].second, separate_buffers[i].second));
            }
        }
        // The fused pass in float64 against finite differences, with batch statistics, and
        // PyTorch's ReLU at NaN (passes, gradient 1).
        manual_seed(25);
        BatchNorm2d norm(3);
        norm.to(kFloat64);
        const auto check = autograd::gradcheck([&](const std::vector<Tensor>& in) { return norm.forward_relu(in[0]); },
                                               {randn({4, 3, 3, 2}, kFloat64).requires_grad_()});
        CHECK_MESSAGE(check.ok, check.message);
        BatchNorm1d plain(1);
        plain.to(kFloat64);
        plain.eval();
        const Tensor specials = tensor(std::vector<double>{std::nan(""), -1.0, 2.0}, {3, 1}, kFloat64).requires_grad_();
        const Tensor y = plain.forward_relu(specials);
        CHECK(std::isnan(y.to_vector<double>()[0]));
        y.sum().backward();
        const auto grads = specials.grad().to_vector<double>();
        CHECK(grads[0] == doctest::Approx(1.0 / std::sqrt(1.0 + 1e-5)));
        CHECK(grads[1] == 0.0);
        CHECK(grads[2] == doctest::Approx(1.0 / std::sqrt(1.0 + 1e-5)));
    }

    TEST_CASE("without autograd, an eval-mode BatchNorm2d after a Conv2d is folded into it") {
        manual_seed(23);
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            CAPTURE(dtype_name(dtype));
            Sequential model{Conv2d(Conv2dOptions(3, 6, 3).padding(1)),
                             BatchNorm2d(6),
                             ReLU(),
                             Conv2d(6, 4, 3),
                             LazyBatchNorm2d(),
                             MaxPool2d(MaxPoolOptions<2>(2))};
            model.to(dtype);
            const Tensor x = randn({5, 3, 9, 8}).to(dtype);
            for (int step = 0; step < 3; ++step) (void)model(x * (step + 1.0));  // running statistics away from 0 and 1
            {
                NoGradGuard no_grad;
                for (auto& [name, p] : model.named_parameters()) {
                    if (name.rfind("1.", 0) == 0 || name.rfind("4.", 0) == 0)
                        p.copy_(randn(p.shape()).to(dtype));  // affine weights
                }
            }
            model.eval();
            auto separately = [&] {
                Tensor out = x;
                for (Module* child : model.children()) out = (*child)(out);
                return out;
            };
            const Tensor reference = separately();
            {
                NoGradGuard no_grad;
                const Tensor folded = model(x);
                check_close(folded, reference, dtype == kFloat32 ? 1e-5 : 1e-12, dtype == kFloat32 ? 1e-5 : 1e-12);
            }
            // With autograd the layers run as written (only the ReLU fuses), bit for bit.
            CHECK(equal(model(x), reference));
            // A hook on a batch norm keeps it (and its convolution) separate calls, its output visible.
            const Tensor first_norm = model[1](model[0](x));
            Tensor seen;
            auto handle = model[1].register_forward_hook(
                [&](Module&, const std::vector<Tensor>&, const Tensor& out) { seen = out; });
            NoGradGuard no_grad;
            check_close(model(x), reference, dtype == kFloat32 ? 1e-5 : 1e-12, dtype == kFloat32 ? 1e-5 : 1e-12);
            REQUIRE(seen.defined());
            CHECK(equal(seen, first_norm));
        }
    }

    TEST_CASE("fused layers pass gradcheck, follow PyTorch's ReLU at NaN and -0.0, and step aside for hooks") {
        manual_seed(22);
        const Tensor x = randn({2, 3, 5, 4}, kFloat64).requires_grad_();
        const Tensor w = randn({4, 3, 3, 3}, kFloat64).requires_grad_(), b = randn({4}, kFloat64).requires_grad_();
        auto conv = [](const std::vector<Tensor>& in) {
            return functional::conv2d_relu(in[0], in[1], in[2], {1, 1}, {1, 1, 0, 0}, {1, 1}, 1);
        };
        const auto conv_check = autograd::gradcheck(conv, {x, w, b});
        CHECK_MESSAGE(conv_check.ok, conv_check.message);
        const Tensor a = randn({5, 3}, kFloat64).requires_grad_(), wl = randn({4, 3}, kFloat64).requires_grad_();
        const auto linear_check = autograd::gradcheck(
            [](const std::vector<Tensor>& in) { return functional::linear_relu(in[0], in[1], in[2]); },
            {a, wl, randn({4}, kFloat64).requires_grad_()});
        CHECK_MESSAGE(linear_check.ok, linear_check.message);
        // relu(NaN) = NaN with gradient 1; relu(-0.0) = -0.0 with gradient 0 (PyTorch 1.13, measured).
        const double nan = std::nan("");
        const Tensor specials = tensor(std::vector<double>{nan, -1.0, 2.0}, {3, 1}, kFloat64).requires_grad_();
        const Tensor y = functional::linear_relu(specials, ones({1, 1}, kFloat64));
        CHECK(std::isnan(y.to_vector<double>()[0]));
        y.sum().backward();
        CHECK(specials.grad().to_vector<double>() == std::vector<double>{1.0, 0.0, 1.0});
        const Tensor unfused = tensor(std::vector<double>{nan, -0.0, 2.0}, {3}, kFloat64).requires_grad_();
        const Tensor r = unfused.relu();
        CHECK(std::isnan(r.to_vector<double>()[0]));
        CHECK(std::signbit(r.to_vector<double>()[1]));
        r.sum().backward();
        CHECK(unfused.grad().to_vector<double>() == std::vector<double>{1.0, 0.0, 1.0});
        // A hook on the layer must see the layer's own output, before the ReLU.
        Sequential model{Linear(4, 8), ReLU()};
        Tensor seen;
        auto handle =
            model[0].register_forward_hook([&](Module&, const std::vector<Tensor>&, const Tensor& out) { seen = out; });
        const Tensor out = model(randn({16, 4}));
        CHECK(seen.min().item<double>() < 0);
        CHECK(out.min().item<double>() >= 0);
        CHECK(out.grad_fn()->name() == "ReluBackward0");
        CHECK(equal(out, seen.relu()));
    }
}

TEST_SUITE("float32 3x3 convolutions") {
    TEST_CASE("float32 3x3 stride-1 convolutions (oneDNN) match the float64 im2col kernel") {
        // Shapes cover odd and even sizes, rows narrower and wider than a vector, padding 0/1/2 and
        // "same", the fused ReLU, and small and large channel counts.
        manual_seed(31);
        struct Case {
            std::int64_t n, c, o, h, w, pad;
            bool relu;
        };
        for (const Case& k :
             {Case{3, 8, 16, 9, 9, 0, false}, Case{2, 16, 8, 13, 13, 1, true}, Case{2, 8, 5, 20, 31, 2, false},
              Case{1, 12, 7, 8, 16, 1, false}, Case{2, 4, 6, 10, 10, 1, true}, Case{1, 9, 3, 5, 40, 0, true}}) {
            CAPTURE(k.c);
            CAPTURE(k.h);
            CAPTURE(k.w);
            CAPTURE(k.pad);
            const Tensor x = randn({k.n, k.c, k.h, k.w}), w = randn({k.o, k.c, 3, 3}), b = randn({k.o});
            const auto conv = k.relu ? functional::conv2d_relu : functional::conv2d;
            const std::array<std::int64_t, 4> pad{k.pad, k.pad, k.pad, k.pad};
            const Tensor x32 = x.detach().requires_grad_(), w32 = w.detach().requires_grad_();
            const Tensor x64 = x.to(kFloat64).requires_grad_(), w64 = w.to(kFloat64).requires_grad_();
            const Tensor y32 = conv(x32, w32, b, {1, 1}, pad, {1, 1}, 1);
            const Tensor y64 = conv(x64, w64, b.to(kFloat64), {1, 1}, pad, {1, 1}, 1);
            // Sums of 9c products of unit-variance values: absolute error scales with sqrt(9c).
            check_close(y32, y64, 1e-5, 1e-5 * std::sqrt(9.0 * static_cast<double>(k.c)));
            (y32 * y32.detach()).sum().backward();
            (y64 * y64.detach()).sum().backward();
            check_close(x32.grad(), x64.grad(), 1e-4, 1e-4 * static_cast<double>(k.c));
            check_close(w32.grad(), w64.grad(), 1e-4, 1e-3 * static_cast<double>(k.c));
        }
        // The "same" padding of a Conv2d module takes the same path.
        Conv2d same(Conv2dOptions(8, 4, 3).padding(kSame));
        const Tensor x = randn({2, 8, 11, 12});
        Conv2d same64(same);
        same64.to(kFloat64);
        check_close(same(x), same64(x.to(kFloat64)), 1e-5, 1e-4);
    }
}
