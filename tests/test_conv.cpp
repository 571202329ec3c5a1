// Convolutions (modules/src/conv.cpp): the lazy convolutions (size inference, equal outputs to the eager
// layers, loading without a forward), ConvTranspose's output_size against PyTorch, the float32 3x3 path
// against float64, and the errors of convolution, batch norm and pooling layers.
#include "test_support.hpp"

#include <array>
#include <cmath>
#include <type_traits>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

TEST_SUITE("lazy convolutions") {
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

TEST_SUITE("transposed output sizes") {
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
}

TEST_SUITE("float32 3x3 convolutions") {
    TEST_CASE("float32 3x3 stride-1 convolutions (oneDNN) match the float64 im2col kernel") {
        // Shapes cover odd and even sizes, rows narrower and wider than a vector, padding 0/1/2 and
        // "same", the fused ReLU, small and large channel counts, and batches run in pieces.
        manual_seed(31);
        struct Case {
            std::int64_t n, c, o, h, w, pad;
            bool relu;
        };
        for (const Case& k :
             {Case{3, 8, 16, 9, 9, 0, false}, Case{2, 16, 8, 13, 13, 1, true}, Case{2, 8, 5, 20, 31, 2, false},
              Case{1, 12, 7, 8, 16, 1, false}, Case{2, 4, 6, 10, 10, 1, true}, Case{1, 9, 3, 5, 40, 0, true},
              // Large maps: each thread's share of the batch runs in pieces of a few samples, whose
              // weight gradients are added up.
              Case{7, 3, 16, 72, 72, 1, false}}) {
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

    TEST_CASE("the fused ReLU's zeros are +0.0, as PyTorch's ReLU gives, whichever kernel oneDNN picks") {
        // Some oneDNN kernels compute the ReLU post-op as x * 0 below zero (-0.0). Few input channels
        // (the plain-layout kernels), blocked channel counts, groups, and 1-d and 3-d cover the paths.
        manual_seed(32);
        for (const std::int64_t c : {1, 3, 4, 8, 16, 32}) {
            for (const std::int64_t groups : {1, 2}) {
                if (c % groups != 0) continue;
                CAPTURE(c);
                CAPTURE(groups);
                const Tensor x = randn({2, c, 9, 10}), w = randn({16, c / groups, 3, 3}), b = randn({16});
                const std::vector<float> y =
                    functional::conv2d_relu(x, w, b, {1, 1}, {1, 1, 1, 1}, {1, 1}, groups).to_vector<float>();
                std::int64_t zeros = 0, negative_zeros = 0;
                for (const float v : y) {
                    zeros += v == 0.0f;
                    negative_zeros += v == 0.0f && std::signbit(v);
                }
                CHECK(zeros > 0);
                CHECK(negative_zeros == 0);
            }
        }
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
