// Layers against PyTorch (tests/fixtures/layers.json from tools/fixtures/gen_layers.py): outputs,
// input and parameter gradients, buffers after the forward and printing; the same in float32;
// gradcheck in float64. One table covers every layer; each layer's own tests live in the
// test file named after its modules/src file (test_conv.cpp, test_rnn.cpp, ...), except the
// activations' and shape layers' argument errors, which are short enough to live here.
#include "test_support.hpp"
#include "fixture_values.hpp"

#include <cmath>
#include <limits>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

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
        {"adaptive_avgpool2d_global", make<AdaptiveAvgPool2d>(ExpandingArray<2>(1))},
        {"adaptive_avgpool2d_global_one_row", make<AdaptiveAvgPool2d>(ExpandingArray<2>({1, 1}))},
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
        {"upsample_bilinear_align_corners",
         make<Upsample>(UpsampleOptions().size(UpsampleSize{5, 3}).mode(UpsampleMode::Bilinear).align_corners(true))},
        {"upsample_linear", make<Upsample>(UpsampleOptions().scale_factor(2.5).mode(UpsampleMode::Linear))},
        {"upsample_linear_align_corners",
         make<Upsample>(UpsampleOptions().size(UpsampleSize{7}).mode(UpsampleMode::Linear).align_corners(true))},
        {"upsample_bicubic", make<Upsample>(UpsampleOptions().scale_factor(2.0).mode(UpsampleMode::Bicubic))},
        {"upsample_bicubic_size_down", make<Upsample>(UpsampleOptions().size(UpsampleSize{2, 3}).mode(UpsampleMode::Bicubic))},
        {"upsample_bicubic_align_corners",
         make<Upsample>(UpsampleOptions().size(UpsampleSize{4, 6}).mode(UpsampleMode::Bicubic).align_corners(true))},
        {"upsample_trilinear", make<Upsample>(UpsampleOptions().scale_factor(1.5).mode(UpsampleMode::Trilinear))},
        {"upsample_trilinear_align_corners",
         make<Upsample>(UpsampleOptions().size(UpsampleSize{3, 4, 2}).mode(UpsampleMode::Trilinear).align_corners(true))},
        {"upsample_nearest_1d", make<Upsample>(UpsampleOptions().scale_factor(3.0))},
        {"upsample_nearest_3d_size", make<Upsample>(UpsampleOptions().size(UpsampleSize{3, 2, 5}))},
        {"adaptive_maxpool2d", make<AdaptiveMaxPool2d>(ExpandingArray<2>({2, 3}))},
        {"adaptive_maxpool1d", make<AdaptiveMaxPool1d>(ExpandingArray<1>(3))},
        {"local_response_norm", make<LocalResponseNorm>(3, 0.1, 0.6, 2.0)},
        {"local_response_norm_even_3d", make<LocalResponseNorm>(4)},
        {"flatten", make<Flatten>()},
        {"gelu_tanh", make<GELU>(GELUOptions().approximate(GELUApproximate::Tanh))},
        {"hardshrink", make<Hardshrink>()},
        {"hardshrink_lambda", make<Hardshrink>(1.2)},
        {"softshrink", make<Softshrink>(0.3)},
        {"tanhshrink", make<Tanhshrink>()},
        {"glu", make<GLU>()},
        {"glu_dim1_4d", make<GLU>(1)},
        {"softmax2d", make<Softmax2d>()},
        {"softmax2d_unbatched", make<Softmax2d>()},
        {"pixel_unshuffle", make<PixelUnshuffle>(2)},
        {"pixel_unshuffle_3_unbatched", make<PixelUnshuffle>(3)},
        {"channel_shuffle", make<ChannelShuffle>(2)},
        {"channel_shuffle_3d_input", make<ChannelShuffle>(3)},
        {"rrelu_eval", make<RReLU>(RReLUOptions().lower(0.1).upper(0.3))},
        {"rnn_cell_relu", make<RNNCell>(RNNCellOptions(4, 5).nonlinearity(RNNNonlinearity::ReLU))},
        {"rnn_cell_relu_nobias", make<RNNCell>(RNNCellOptions(3, 4).bias(false).nonlinearity(RNNNonlinearity::ReLU))},
        {"lppool1d", make<LPPool1d>(LPPool1dOptions(2.0, 3).stride(2))},
        {"lppool1d_p1_ceil_unbatched", make<LPPool1d>(LPPool1dOptions(1.0, 2).ceil_mode(true))},
        {"lppool2d", make<LPPool2d>(LPPool2dOptions(2.0, 2))},
        {"lppool2d_p4_rect_stride", make<LPPool2d>(LPPool2dOptions(4.0, {3, 2}).stride(ExpandingArray<2>({2, 1})))},
        {"unfold", make<Unfold>(UnfoldOptions({2, 3}).padding(1).stride({1, 2}))},
        {"unfold_dilation_unbatched", make<Unfold>(UnfoldOptions(2).dilation(2))},
        {"fold", make<Fold>(FoldOptions({4, 5}, 2))},
        {"fold_overlap_padding_unbatched",
         make<Fold>(FoldOptions({5, 6}, {2, 3}).dilation({1, 2}).padding(1).stride(2))},
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
        for (const auto& [name_entry, factory] : cases()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
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

    TEST_CASE("a strided input gives what its contiguous copy gives, for every layer") {
        // The same values with the first and last dimensions' strides swapped: every kernel must
        // read through the strides (or make the input contiguous) rather than assume row-major data.
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        for (const auto& entry : cases()) {
            const std::string& name = entry.first;
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            const Tensor x = fixture_tensor(c.at("input"));
            if (x.dim() < 2) continue;
            const std::int64_t last = x.dim() - 1;
            const Tensor strided = x.transpose(0, last).contiguous().transpose(0, last);
            REQUIRE(!strided.is_contiguous());
            std::vector<Tensor> outputs, grads;
            for (const Tensor& input : {x, strided}) {
                auto m = entry.second();
                m->to(kFloat64);
                m->train(c.at("train").get<bool>());
                m->load_state_dict(fixture_state(c));
                manual_seed(5);  // the same dropout and RReLU draws for both
                const Tensor leaf = input.detach().requires_grad_();
                const Tensor y = (*m)(leaf);
                (y * fixture_tensor(c.at("weight"))).sum().backward();
                outputs.push_back(y.detach());
                grads.push_back(leaf.grad());
            }
            check_close(outputs[1], outputs[0], 1e-12, 1e-14);
            check_close(grads[1], grads[0], 1e-12, 1e-14);
        }
    }

    // Under UBSan this sweep found kernels forming pointers into the missing storage of empty
    // tensors (ConstantPad's cat, ConvTranspose3d's bias add, attention's batched matmul).
    TEST_CASE("an empty first dimension gives PyTorch's empty output, or an error where PyTorch raises one") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        const auto& empty = fixture.at("empty_batch");
        // PyTorch 1.13 fails on these through its own bugs (InstanceNorm's select on an empty
        // batch, PixelShuffle's backward returning a wrongly shaped gradient); lazynn gives the
        // empty result instead.
        const std::map<std::string, Shape> torch_bugs{{"instancenorm2d_affine_tracked", {0, 3, 4, 3}},
                                                      {"instancenorm1d_tracked_eval", {0, 2, 5}},
                                                      {"pixel_shuffle", {0, 2, 6, 4}}};
        for (const auto& entry : cases()) {
            const std::string& name = entry.first;
            if (!empty.contains(name)) continue;
            CAPTURE(name);
            const auto& c = fixture.at("cases").at(name);
            const auto& expected = empty.at(name);
            auto m = entry.second();
            m->to(kFloat64);
            m->train(c.at("train").get<bool>());
            Shape shape = fixture_tensor(c.at("input")).shape();
            shape[0] = 0;
            const Tensor x = zeros(shape, kFloat64).requires_grad_();
            const auto bug = torch_bugs.find(name);
            if (expected.contains("error") && bug == torch_bugs.end()) {
                CAPTURE(expected.at("message").get<std::string>());
                CHECK_THROWS_AS((*m)(x), Error);
                continue;
            }
            try {
                const Tensor y = (*m)(x);
                CHECK(y.shape() == (bug != torch_bugs.end() ? bug->second : expected.at("shape").get<Shape>()));
                y.sum().backward();
                if (x.grad().defined()) CHECK(x.grad().shape() == shape);
            } catch (const Error& e) {
                FAIL_CHECK("PyTorch gives an empty result, lazynn threw: " << e.what());
            }
        }
    }

    TEST_CASE("Upsample, adaptive average pooling and Threshold treat NaN and inf inputs as PyTorch does") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        const auto decode = [](const nlohmann::json& entry) { return lazynn::testing::tensor_with_nonfinite(entry); };
        std::size_t checked = 0;
        for (const auto& entry : cases()) {
            const std::string& name = entry.first;
            if (!fixture.at("nonfinite_inputs").contains(name)) continue;
            CAPTURE(name);
            const auto& c = fixture.at("nonfinite_inputs").at(name);
            auto m = entry.second();
            m->to(kFloat64);
            const Tensor y = (*m)(decode(c.at("input")));
            lazynn::testing::check_same(y, decode(c.at("output")), false, 1e-12);
            ++checked;
        }
        CHECK(checked == fixture.at("nonfinite_inputs").size());
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

TEST_SUITE("activation and shape layer errors") {
    TEST_CASE("shrink, GLU and Softmax2d refuse what PyTorch refuses, with its reasons") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Softshrink(-1.0), ValueError,
                                        "Softshrink: lambda must be greater or equal to 0, but found to be -1.0.");
        CHECK_NOTHROW(Hardshrink(-1.0));  // PyTorch accepts it too: nothing is zeroed then
        CHECK(Hardshrink(-1.0)(tensor({0.0, 0.5})).to_vector<float>() == std::vector<float>{0.0f, 0.5f});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(GLU(1)(ones({2, 3})), ShapeError,
                                        "GLU: Halving dimension must be even, but dimension 1 is size 3");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(GLU(2)(ones({2, 4})), IndexError, "Dimension out of range");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(GLU()(ones({})), ShapeError, "glu does not support scalars");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Softmax2d()(ones({2, 3})), ShapeError,
                                        "Softmax2d: requires a 3D or 4D tensor as input, got 2D [2, 3]");
    }

    TEST_CASE("LPPool refuses a norm_type that is not finite and positive, and names its expected input") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(LPPool2d(LPPool2dOptions(0.0, 2)), ValueError,
                                        "LPPool2d: norm_type must be finite and positive, got 0.0");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(LPPool1d(LPPool1dOptions(std::numeric_limits<double>::infinity(), 2)),
                                        ValueError, "got inf");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(LPPool2d(LPPool2dOptions(2.0, 2))(ones({4, 4})), ShapeError,
                                        "LPPool2d: expected 3D or 4D input, got [4, 4]");
    }

    TEST_CASE("Unfold and Fold: PyTorch's errors, conv2d as unfold + matmul, fold as unfold's adjoint") {
        // PyTorch's messages (RuntimeError there; ShapeError, a RuntimeError, here).
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            Unfold(7)(ones({1, 1, 5, 5})), ShapeError,
            "unfold: given input with spatial size (5, 5), kernel_size=(7, 7), dilation=(1, "
            "1), padding=(0, 0), calculated shape of the array of sliding blocks as (-1, "
            "-1), but its components must be at least one");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Fold(FoldOptions({4, 5}, 2))(ones({1, 13, 12})), ShapeError,
                                        "expected size of input's dimension 1 to be divisible by the product of "
                                        "kernel_size, but got input.size(1)=13 and kernel_size=(2, 2)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Fold(FoldOptions({4, 5}, 2))(ones({1, 12, 11})), ShapeError,
                                        "the calculated number of sliding blocks 3 * 4 = 12, but got input.size(2)=11");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Unfold(UnfoldOptions(2).stride(0))(ones({1, 1, 4, 4})), ValueError,
                                        "stride should be greater than zero");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Unfold(2)(ones({4, 4})), ShapeError, "got shape [4, 4]");
        CHECK_THROWS_AS(Unfold(2)(ones({1, 1, 4, 4}, kInt64)), DtypeError);

        // A convolution is its weight times the unfolded input (float64, and float32 on oneDNN).
        for (const Dtype dtype : {kFloat64, kFloat32}) {
            CAPTURE(dtype);
            const Tensor x = randn({2, 3, 7, 6}, dtype);
            const Tensor w = randn({4, 3, 3, 2}, dtype);
            const Tensor columns =
                nn::functional::unfold(x, UnfoldOptions({3, 2}).padding(1).stride(2).dilation({1, 2}));
            const Tensor via_unfold = w.view({4, -1}).matmul(columns).view({2, 4, 4, 3});
            const Tensor direct = nn::functional::conv2d(x, w, Tensor(), {2, 2}, {1, 1, 1, 1}, {1, 2}, 1);
            check_close(via_unfold, direct, dtype == kFloat64 ? 1e-12 : 1e-5, dtype == kFloat64 ? 1e-12 : 1e-5);
        }
        // fold(unfold(x)) counts each pixel once per window covering it.
        const Tensor x = randn({1, 2, 4, 5}, kFloat64);
        const UnfoldOptions u(2);
        const FoldOptions f({4, 5}, 2);
        const Tensor cover = nn::functional::fold(nn::functional::unfold(ones({1, 1, 4, 5}, kFloat64), u), f);
        check_close(nn::functional::fold(nn::functional::unfold(x, u), f), x * cover, 1e-15, 1e-15);
        CHECK(cover.flatten().to_vector<double>()[6] == 4.0);  // an inner pixel: four 2x2 windows

        // An empty batch, a bfloat16 input (float32 inside, one rounding), double backward.
        CHECK(Unfold(2)(zeros({0, 2, 3, 3})).shape() == Shape{0, 8, 4});
        const Tensor xb = randn({1, 2, 4, 4});
        const Tensor bf = Unfold(2)(xb.to(kBFloat16));
        CHECK(bf.dtype() == kBFloat16);
        CHECK(equal(bf.to(kFloat32), Unfold(2)(xb.to(kBFloat16).to(kFloat32))));
        const auto second = autograd::gradgradcheck(
            [&](const std::vector<Tensor>& in) {
                return nn::functional::fold(nn::functional::unfold(in[0], u).pow(2.0), f);
            },
            {randn({1, 2, 4, 5}, kFloat64).requires_grad_()});
        CHECK_MESSAGE(second.ok, second.message);
    }

    TEST_CASE("MaxUnpool1d/2d/3d match PyTorch: values, gradients, output_size, printing") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        const std::map<std::string, std::function<std::unique_ptr<Module>()>> unpools{
            {"unpool1d", [] { return std::make_unique<MaxUnpool1d>(2); }},
            {"unpool2d_output_size", [] { return std::make_unique<MaxUnpool2d>(2); }},
            {"unpool2d_padding_unbatched",
             [] {
                 return std::make_unique<MaxUnpool2d>(MaxUnpool2dOptions(3).stride(ExpandingArray<2>(2)).padding(1));
             }},
            {"unpool3d",
             [] {
                 return std::make_unique<MaxUnpool3d>(MaxUnpool3dOptions({2, 1, 2}));
             }},
        };
        REQUIRE(fixture.at("max_unpool").size() == unpools.size());
        for (const auto& [name_entry, make_unpool] : unpools) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(name);
            const auto& c = fixture.at("max_unpool").at(name);
            const Tensor x = fixture_tensor(c.at("input")).requires_grad_();
            const Tensor indices = fixture_tensor(c.at("indices"), kInt64);
            std::unique_ptr<Module> m = make_unpool();
            std::vector<Tensor> outputs;
            if (c.at("output_size").is_null()) {
                outputs = m->call({x, indices});
            } else {
                const auto size = c.at("output_size").get<std::vector<std::int64_t>>();
                outputs = {dynamic_cast<MaxUnpool2d&>(*m)(x, indices, size)};
            }
            REQUIRE(outputs.size() == 1);
            check_close(outputs[0], fixture_tensor(c.at("output")), 1e-15, 1e-15);
            (outputs[0] * fixture_tensor(c.at("weight"))).sum().backward();
            check_close(x.grad(), fixture_tensor(c.at("grad_input")), 1e-15, 1e-15);
            CHECK(m->str() == c.at("repr").get<std::string>());
        }
    }

    TEST_CASE("MaxUnpool: PyTorch's errors, float64 gradcheck, hooks see both inputs") {
        const auto pooled = MaxPool2d(MaxPool2dOptions(2)).forward_with_indices(randn({1, 1, 4, 4}, kFloat64));
        const Tensor values = pooled.values, indices = pooled.indices;
        REQUIRE((indices + 100).dtype() == kInt64);
        MaxUnpool2d unpool(2);
        // The largest index reported (all are 100 or more here), and the output size.
        const std::string largest = std::to_string(indices.max().item<std::int64_t>() + 100);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            unpool(values, indices + 100), RuntimeError,
            "max_unpool2d: found an invalid max index: " + largest + " (output volumes are of size 4x4)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(unpool(values, indices, {7, 5}), ValueError,
                                        "invalid output_size \"(7, 5)\" (dim 0 must be between 2 and 6)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(unpool(values, indices.narrow(3, 0, 1)), ShapeError,
                                        "expected shape of indices to be same as that of the input tensor ([1, 1, 2, "
                                        "2]) but got indices tensor with shape: [1, 1, 2, 1]");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(unpool(values, indices.to(kFloat64)), DtypeError,
                                        "elements in indices should be type int64");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(unpool(values.flatten(), indices.flatten()), ShapeError,
                                        "input should be a 3d or 4d Tensor, but got a tensor with 1 dimensions");
        const auto check = autograd::gradcheck(
            [&](const std::vector<Tensor>& in) {
                return unpool(in[0], indices, {5, 5});
            },
            {values.detach().requires_grad_()});
        CHECK_MESSAGE(check.ok, check.message);
        std::size_t seen = 0;
        unpool.register_forward_pre_hook([&](Module&, const std::vector<Tensor>& in) { seen = in.size(); });
        CHECK(unpool(values, indices).shape() == Shape{1, 1, 4, 4});
        CHECK(seen == 2);
    }

    TEST_CASE(
        "Unfold, Fold and MaxUnpool on non-contiguous views holding NaN and infinities, and on empty batches, "
        "match PyTorch") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        const auto& edges = fixture.at("fold_unpool_edges");
        using lazynn::testing::typed_fixture_tensor;
        const auto check_case = [](const nlohmann::json& c, const std::function<Tensor(const Tensor&)>& run) {
            const Tensor base = typed_fixture_tensor(c.at("base")).requires_grad_();
            const Tensor y = run(base);
            lazynn::testing::check_same(y, typed_fixture_tensor(c.at("output")), false, 1e-15);
            (y * fixture_tensor(c.at("weight"))).sum().backward();
            lazynn::testing::check_same(base.grad(), typed_fixture_tensor(c.at("grad")), false, 1e-15);
        };
        SUBCASE("unfold of a permuted view") {
            check_case(edges.at("unfold"), [](const Tensor& base) {
                const Tensor x = base.permute({0, 3, 1, 2});
                REQUIRE_FALSE(x.is_contiguous());
                return Unfold(UnfoldOptions(2).padding(1).stride({1, 2}))(x);
            });
        }
        SUBCASE("fold of a transposed view") {
            check_case(edges.at("fold"), [](const Tensor& base) {
                return Fold(FoldOptions({4, 5}, 2))(base.transpose(1, 2));
            });
        }
        SUBCASE("max_unpool2d of transposed values") {
            const Tensor indices =
                fixture_tensor(edges.at("unpool2d").at("indices"), kInt64).transpose(2, 3).contiguous();
            check_case(edges.at("unpool2d"),
                       [&](const Tensor& base) { return MaxUnpool2d(2)(base.transpose(2, 3), indices); });
        }
        SUBCASE("empty batches") {
            const auto& shapes = edges.at("empty");
            CHECK(Unfold(2)(zeros({0, 3, 4, 4}, kFloat64)).shape() == shapes.at("unfold").get<Shape>());
            CHECK(Fold(FoldOptions({4, 5}, 2))(zeros({0, 12, 12}, kFloat64)).shape() == shapes.at("fold").get<Shape>());
            CHECK(MaxUnpool1d(2)(zeros({0, 3, 3}, kFloat64), zeros({0, 3, 3}, kInt64)).shape() ==
                  shapes.at("unpool1d").get<Shape>());
        }
    }

    TEST_CASE("PixelUnshuffle and ChannelShuffle check their factors and the input's sizes") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(PixelUnshuffle(0), ValueError, "downscale_factor must be positive");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(PixelUnshuffle(2)(ones({1, 2, 3, 4})), ShapeError,
                                        "pixel_unshuffle expects height to be divisible by downscale_factor, but "
                                        "input.size(-2)=3 is not divisible by 2");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(PixelUnshuffle(2)(ones({1, 2, 4, 5})), ShapeError,
                                        "expects width to be divisible by downscale_factor, but input.size(-1)=5");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(PixelUnshuffle(2)(ones({4, 4})), ShapeError,
                                        "at least 3 dimensions, but got input with 2 dimension(s)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ChannelShuffle(0), ValueError,
                                        "Number of groups to divide channels in must be positive. Value of groups:0");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ChannelShuffle(2)(ones({1, 3, 2, 2})), ShapeError,
                                        "Number of channels must be divisible by groups. Got 3 channels and 2 groups.");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ChannelShuffle(2)(ones({2, 4})), ShapeError,
                                        "channel_shuffle expects input with > 2 dims, but got input with sizes [2, 4]");
    }

    TEST_CASE("PixelUnshuffle undoes PixelShuffle and ChannelShuffle(g) is undone by ChannelShuffle(C / g)") {
        const Tensor x = randn({2, 3, 6, 4});
        CHECK(equal(PixelShuffle(2)(PixelUnshuffle(2)(x)), x));
        const Tensor channels = randn({2, 6, 3});
        CHECK(equal(ChannelShuffle(3)(ChannelShuffle(2)(channels)), channels));
        // Channel g * (C / groups) + k moves to k * groups + g: 0 1 2 3 -> 0 2 1 3.
        const Tensor order = arange(4.0).reshape({1, 4, 1});
        CHECK(ChannelShuffle(2)(order).to_vector<float>() == std::vector<float>{0, 2, 1, 3});
    }

    TEST_CASE("RReLU draws one slope per non-positive element in [lower, upper] while training") {
        manual_seed(11);
        RReLU act(RReLUOptions().lower(0.1).upper(0.3));
        const Tensor x = (randn({2000}, kFloat64) - 0.5).requires_grad_();
        const Tensor y = act(x);
        y.sum().backward();
        const std::vector<double> xs = x.to_vector<double>(), ys = y.to_vector<double>(),
                                  gs = x.grad().to_vector<double>();
        double smallest = 1, largest = 0;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            if (xs[i] > 0) {
                CHECK(ys[i] == xs[i]);
                CHECK(gs[i] == 1.0);
                continue;
            }
            const double slope = ys[i] / xs[i];
            CHECK(gs[i] == doctest::Approx(slope).epsilon(1e-12));  // the gradient is the slope drawn
            smallest = std::min(smallest, slope);
            largest = std::max(largest, slope);
        }
        CHECK(smallest >= 0.1);
        CHECK(largest <= 0.3);
        CHECK(largest - smallest > 0.15);  // drawn, not one slope
        act.eval();
        CHECK(act(tensor({-2.0}, kFloat64)).item<double>() == doctest::Approx(-0.4));
        CHECK(act.str() == "RReLU(lower=0.1, upper=0.3)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(RReLU(RReLUOptions().lower(0.5).upper(0.1)), ValueError,
                                        "Lower bound should be less than or equal to the upper bound");
    }

    TEST_CASE("RNNCell's relu nonlinearity: its lazy twin keeps it; the gated cells refuse it") {
        LazyRNNCell lazy(RNNCellOptions(0, 5).nonlinearity(RNNNonlinearity::ReLU));
        const RNNResult r = lazy.step(randn({3, 4}));
        CHECK(lazy.str() == "RNNCell(4, 5, nonlinearity=relu)");
        CHECK(r.h_n.min().item<float>() >= 0.0f);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(LSTMCell(RNNCellOptions(4, 5).nonlinearity(RNNNonlinearity::ReLU)), ValueError,
                                        "LSTMCell: the nonlinearity option is RNNCell's");
    }
}
