// The options convention (docs/design.md, "Options"): every knob reads back through its getter
// after a fluent setter, modules expose options(), choices are enums whose PyTorch strings appear
// only at the boundaries, and modules built from options behave as the functional forms do.
#include "test_support.hpp"

using namespace lazynn;
using namespace lazynn::nn;
namespace F = lazynn::nn::functional;

TEST_SUITE("options convention") {
    TEST_CASE("activation options read back and drive the layer") {
        LeakyReLU leaky(LeakyReLUOptions().negative_slope(0.2));
        CHECK(leaky.options().negative_slope() == 0.2);
        const Tensor x = tensor({-2.0, 3.0}, kFloat64);
        CHECK(leaky(x).to_vector<double>() == std::vector<double>{-2.0 * 0.2, 3.0});
        CHECK(Hardtanh(HardtanhOptions().min_val(-0.5).max_val(0.8)).options().max_val() == 0.8);
        CHECK(Softmax(1).options().dim() == 1);
        CHECK(Threshold(0.1, -2.0).options().value() == -2.0);
        PReLU prelu(PReLUOptions().num_parameters(3).init(0.1));
        CHECK(prelu.weight.shape() == Shape{3});
        CHECK(prelu.options().num_parameters() == 3);
        CHECK(GELU(GELUOptions().approximate(GELUApproximate::Tanh)).str() == "GELU(approximate='tanh')");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Hardtanh(HardtanhOptions().min_val(1.0).max_val(1.0)), ValueError,
                                        "max_val must be greater");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(PReLU(PReLUOptions().num_parameters(0)), ValueError,
                                        "num_parameters must be at least 1");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(CELU(CELUOptions().alpha(0.0)), ValueError, "alpha must not be 0");
    }

    TEST_CASE("pooling options: stride follows kernel_size unless set") {
        MaxPool2dOptions o(3);
        CHECK(o.stride()[0] == 3);
        o.stride(1).padding(1).ceil_mode(true);
        CHECK(o.stride()[1] == 1);
        CHECK(o.padding()[0] == 1);
        CHECK(o.ceil_mode());
        MaxPool2d pool(o);
        CHECK(pool.options().kernel_size()[1] == 3);
        CHECK(AvgPool1d(AvgPool1dOptions(2).count_include_pad(false)).options().count_include_pad() == false);
        CHECK(AdaptiveAvgPool2d(ExpandingArray<2>({2, 3})).options().output_size()[1] == 3);
        CHECK(AdaptiveMaxPool1d(ExpandingArray<1>(4)).options().output_size()[0] == 4);
    }

    TEST_CASE("Upsample takes an enum mode and checks its options") {
        Upsample up(UpsampleOptions().scale_factor(2.0).mode(UpsampleMode::Bilinear));
        CHECK(up.options().mode() == UpsampleMode::Bilinear);
        CHECK(up(ones({1, 1, 2, 3})).shape() == Shape{1, 1, 4, 6});
        CHECK(Upsample(UpsampleOptions().size(UpsampleSize{5, 7}))(ones({1, 2, 2, 3})).shape() == Shape{1, 2, 5, 7});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Upsample(UpsampleOptions()), ValueError,
                                        "either size or scale_factor should be defined");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Upsample(UpsampleOptions().scale_factor(2.0).size(UpsampleSize{4, 4})),
                                        ValueError, "only one of size or scale_factor should be defined");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Upsample(UpsampleOptions().scale_factor(2.0).align_corners(false)), ValueError,
                                        "align_corners option can only be set with the interpolating modes");
        CHECK_NOTHROW(Upsample(UpsampleOptions().scale_factor(2.0).mode(UpsampleMode::Bilinear).align_corners(false)));
        // Each interpolating mode takes its own rank, PyTorch's message otherwise.
        Upsample bicubic(UpsampleOptions().scale_factor(2.0).mode(UpsampleMode::Bicubic));
        CHECK_THROWS_WITH_AS(
            bicubic(ones({1, 2, 3})),
            "Input Error: Only 3D, 4D and 5D input Tensors supported (got 3D) for the modes: nearest | "
            "linear | bilinear | bicubic | trilinear (got bicubic)",
            NotImplementedError);
        CHECK_THROWS_WITH_AS(
            Upsample(UpsampleOptions().scale_factor(2.0).mode(UpsampleMode::Linear))(ones({1, 2, 3, 4})),
            "Got 4D input, but linear mode needs 3D input", NotImplementedError);
        CHECK_THROWS_WITH_AS(
            Upsample(UpsampleOptions().size(UpsampleSize{3, 4}))(ones({1, 2, 3})),
            "Input and output must have the same number of spatial dimensions, but got input with "
            "spatial dimensions of [3] and output size of [3, 4]. Please provide input tensor in (N, C, "
            "d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.",
            ValueError);
        CHECK(Upsample(UpsampleOptions().size(UpsampleSize{5}))(ones({1, 2, 3, 3})).shape() == Shape{1, 2, 5, 5});
        // A strided input gives what its contiguous copy gives, in every mode.
        const Tensor wide = randn({1, 3, 4, 5}).transpose(2, 3);
        for (const UpsampleMode mode : {UpsampleMode::Nearest, UpsampleMode::Bilinear, UpsampleMode::Bicubic}) {
            Upsample resize(UpsampleOptions().size(UpsampleSize{6, 3}).mode(mode));
            CHECK(allclose(resize(wide), resize(wide.contiguous())));
        }
        CHECK(
            Upsample(UpsampleOptions().size(UpsampleSize{5}).mode(UpsampleMode::Bilinear).align_corners(true)).str() ==
            "Upsample(size=5, mode=bilinear)");
    }

    TEST_CASE("dropout, flatten and unflatten options") {
        CHECK(Dropout(DropoutOptions().p(0.3)).options().p() == 0.3);
        CHECK(Dropout2d(0.25).options().p() == 0.25);
        CHECK(Dropout2d(0.25).str() == "Dropout2d(p=0.25, inplace=False)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(Dropout3d(1.5), ValueError, "dropout probability has to be between 0 and 1");
        Flatten flat(FlattenOptions().start_dim(0));
        CHECK(flat(ones({2, 3, 4})).shape() == Shape{24});
        CHECK(flat.options().end_dim() == -1);
        Unflatten unflat(UnflattenOptions(1, {2, 3}));
        CHECK(unflat(ones({4, 6})).shape() == Shape{4, 2, 3});
        CHECK(PixelShuffle(2).options().upscale_factor() == 2);
    }

    TEST_CASE("loss modules with options equal the functional forms") {
        const Tensor logits = tensor({{1.0, 2.0, 0.5}, {0.1, 0.2, 3.0}, {0.3, -1.0, 0.0}}, kFloat64);
        const Tensor labels = tensor({1, 0, 2});
        const auto ce = CrossEntropyLossOptions().label_smoothing(0.1).ignore_index(2).reduction(Reduction::Sum);
        CrossEntropyLoss loss(ce);
        CHECK(loss.options().ignore_index() == 2);
        CHECK(loss(logits, labels).item<double>() == F::cross_entropy(logits, labels, ce).item<double>());
        NLLLoss nll(NLLLossOptions().reduction(Reduction::None));
        CHECK(nll(logits.log_softmax(1), labels).shape() == Shape{3});
        const Tensor p = logits.log_softmax(1), q = logits.t().softmax(1);
        KLDivLoss kl(KLDivLossOptions().reduction(KLDivReduction::BatchMean));
        CHECK(kl(p, q).item<double>() == F::kl_div(p, q, KLDivReduction::BatchMean).item<double>());
        CHECK(F::kl_div(p, q, KLDivReduction::BatchMean).item<double>() ==
              doctest::Approx(F::kl_div(p, q, KLDivReduction::Sum).item<double>() / 3.0));
        CHECK(F::kl_div(p, q, KLDivReduction::None).shape() == Shape{3, 3});
        CHECK(HuberLoss(HuberLossOptions().delta(1.5))(logits, logits * 2.0).item<double>() ==
              F::huber_loss(logits, logits * 2.0, Reduction::Mean, 1.5).item<double>());
        CHECK(MSELoss(Reduction::Sum).options().reduction() == Reduction::Sum);
        CHECK(std::string(reduction_name(Reduction::None)) == "none");
        CHECK(parse_reduction(reduction_name(Reduction::Mean)) == Reduction::Mean);
        CHECK(TripletMarginLoss(TripletMarginLossOptions().margin(0.5).swap(true)).options().swap());
    }

    TEST_CASE("optimizer options read back, and fields() still reaches them") {
        Parameter w(ones({2}));
        optim::SGD sgd({w}, optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
        CHECK(sgd.defaults().momentum() == 0.9);
        sgd.set_lr(0.05, 0);
        CHECK(sgd.param_groups()[0].options.lr() == 0.05);
        optim::AdamW adamw({w}, optim::AdamWOptions(1e-3).betas(0.8, 0.9));
        CHECK(adamw.param_groups()[0].options.beta1() == 0.8);
        CHECK(adamw.param_groups()[0].options.weight_decay() == optim::AdamWOptions().weight_decay());
        auto fields = adamw.group_options(0);
        CHECK(*adamw.find_option(fields, "beta2")->number == 0.9);
    }

    TEST_CASE("scheduler enums convert to PyTorch's strings and back") {
        using namespace lazynn::optim;
        CHECK(std::string(to_string(CyclicLRMode::ExpRange)) == "exp_range");
        CHECK(parse_cyclic_lr_mode("triangular2") == CyclicLRMode::Triangular2);
        CHECK(std::string(to_string(AnnealStrategy::Cos)) == "cos");
        CHECK(parse_anneal_strategy("linear") == AnnealStrategy::Linear);
        CHECK(std::string(to_string(PlateauMode::Min)) == "min");
        CHECK(parse_plateau_mode("max") == PlateauMode::Max);
        CHECK(std::string(to_string(ThresholdMode::Rel)) == "rel");
        CHECK(parse_threshold_mode("abs") == ThresholdMode::Abs);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(parse_threshold_mode("relative"), ValueError,
                                        "threshold_mode must be one of 'rel', 'abs', got 'relative'");
        const auto o =
            ReduceLROnPlateauOptions().mode(PlateauMode::Max).threshold_mode(ThresholdMode::Abs).min_lr(0.01);
        CHECK(o.min_lrs() == std::vector<double>{0.01});
        CHECK(OneCycleOptions(1.0, 10).anneal_strategy() == AnnealStrategy::Cos);
        CHECK(CyclicLROptions(0.01, 0.1).mode() == CyclicLRMode::Triangular);
    }

    TEST_CASE("data options read back") {
        const auto o = data::DataLoaderOptions(8).shuffle(true).seed(3).drop_last(true);
        CHECK(o.batch_size() == 8);
        CHECK(o.seed() == 3);
        CHECK(o.prefetch());
        const auto s = data::DistributedSamplerOptions(4, 1).shuffle(false);
        CHECK(s.num_replicas() == 4);
        CHECK_FALSE(s.shuffle());
    }
}
