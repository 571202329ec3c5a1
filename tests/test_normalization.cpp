// Normalization layers (modules/src/normalization.cpp): the lazy batch and instance norms, functional
// layer_norm and group_norm against the modules and float32 against float64, and the lazy layer and group norms.
#include "test_support.hpp"

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;

TEST_SUITE("lazy batch and instance norms") {
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

TEST_SUITE("layer and group norms") {
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
}
