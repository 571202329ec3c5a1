// Dropout variants (modules/src/dropout.cpp): channel dropout and AlphaDropout.
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace lazynn;
using namespace lazynn::nn;

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
