// Pooling (modules/src/pooling.cpp): max pooling's values, gradients and indices against PyTorch with ties
// and NaN (tests/fixtures/layers.json).
#include "test_support.hpp"

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;
using lazynn::testing::fixture_tensor;

TEST_SUITE("max pooling indices, ties and NaN") {
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
}

TEST_SUITE("functional lp_pool1d / lp_pool2d") {
    TEST_CASE("F.lp_pool1d/2d match PyTorch's LPPool outputs and name themselves in errors") {
        const auto fixture = lazynn::testing::load_fixture("layers.json");
        const auto& cases = fixture.at("cases");
        auto check_case = [&](const std::string& name, auto pool) {
            CAPTURE(name);
            const auto& c = cases.at(name);
            check_close(pool(fixture_tensor(c.at("input"))), fixture_tensor(c.at("output")), 1e-12, 1e-12);
        };
        check_case("lppool1d",
                   [](const Tensor& x) { return functional::lp_pool1d(x, LPPool1dOptions(2.0, 3).stride(2)); });
        check_case("lppool1d_p1_ceil_unbatched",
                   [](const Tensor& x) { return functional::lp_pool1d(x, LPPool1dOptions(1.0, 2).ceil_mode(true)); });
        check_case("lppool2d", [](const Tensor& x) { return functional::lp_pool2d(x, LPPool2dOptions(2.0, 2)); });
        check_case("lppool2d_p4_rect_stride", [](const Tensor& x) {
            return functional::lp_pool2d(x, LPPool2dOptions(4.0, {3, 2}).stride(ExpandingArray<2>({2, 1})));
        });
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(functional::lp_pool2d(ones({4, 4}), LPPool2dOptions(2.0, 2)), ShapeError,
                                        "lp_pool2d: expected 3D or 4D input, got [4, 4]");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(functional::lp_pool1d(ones({2, 4}), LPPool1dOptions(-1.0, 2)), ValueError,
                                        "lp_pool1d: norm_type must be finite and positive, got -1.0");
    }

    TEST_CASE("F.lp_pool2d's gradient matches finite differences in float64") {
        const Tensor x = (randn({1, 2, 4, 5}, kFloat64).abs() + 0.5).requires_grad_();
        const auto check = autograd::gradcheck(
            [](const std::vector<Tensor>& in) { return functional::lp_pool2d(in[0], LPPool2dOptions(3.0, 2)); }, {x});
        CHECK_MESSAGE(check.ok, check.message);
    }
}

TEST_SUITE("adaptive max pooling with indices") {
    TEST_CASE("AdaptiveMaxPool1d/2d/3d's values, indices and gradients match PyTorch, ties and NaN included") {
        const auto fixture = lazynn::testing::load_fixture("layers.json").at("adaptive_max_indices");
        std::map<std::string, std::function<ValuesIndices(const Tensor&)>> pools{
            {"1d_ties",
             [](const Tensor& x) { return AdaptiveMaxPool1d(ExpandingArray<1>(4)).forward_with_indices(x); }},
            {"2d_ties",
             [](const Tensor& x) {
                 return AdaptiveMaxPool2d(ExpandingArray<2>({3, 2})).forward_with_indices(x);
             }},
            {"2d_unbatched",
             [](const Tensor& x) { return AdaptiveMaxPool2d(ExpandingArray<2>(3)).forward_with_indices(x); }},
            {"3d_ties",
             [](const Tensor& x) {
                 return AdaptiveMaxPool3d(ExpandingArray<3>({2, 3, 2})).forward_with_indices(x);
             }},
            {"3d_unbatched_random",
             [](const Tensor& x) { return AdaptiveMaxPool3d(ExpandingArray<3>(2)).forward_with_indices(x); }},
            {"2d_nan", [](const Tensor& x) { return AdaptiveMaxPool2d(ExpandingArray<2>(2)).forward_with_indices(x); }},
        };
        CHECK(pools.size() == fixture.size());
        for (const auto& entry : pools) {
            const std::string& name = entry.first;
            const auto& pool = entry.second;
            CAPTURE(name);
            const auto& c = fixture.at(name);
            const Tensor x = lazynn::testing::typed_fixture_tensor(c.at("input")).requires_grad_();
            const ValuesIndices r = pool(x);
            check_close(r.values, lazynn::testing::typed_fixture_tensor(c.at("values")), 0, 0);
            CHECK(r.indices.dtype() == kInt64);
            check_close(r.indices.to(kFloat64), fixture_tensor(c.at("indices")), 0, 0);
            // NaN outputs take no gradient (PyTorch's test multiplies nan_to_num(values)).
            (where(r.values != r.values, zeros_like(r.values), r.values) * fixture_tensor(c.at("seed")))
                .sum()
                .backward();
            check_close(x.grad(), lazynn::testing::typed_fixture_tensor(c.at("grad")), 1e-12, 1e-12);
        }
        CHECK(AdaptiveMaxPool3d(ExpandingArray<3>({2, 3, 2})).str() ==
              fixture.at("3d_ties").at("repr").get<std::string>());
        CHECK(AdaptiveMaxPool2d(ExpandingArray<2>(3)).str() ==
              fixture.at("2d_unbatched").at("repr").get<std::string>());
    }

    TEST_CASE("adaptive max pooling's indices feed MaxUnpool, and its errors name the layer") {
        const Tensor x = randn({2, 3, 4, 6, 4}, kFloat64);
        const ValuesIndices r = functional::adaptive_max_pool_with_indices<3>(x, ExpandingArray<3>({2, 3, 2}));
        // Each value sits at its index in the unpooled plane (windows of 2 here: no overlap).
        const Tensor unpooled = MaxUnpool3d(MaxUnpoolOptions<3>(2))(r.values, r.indices);
        CHECK(equal(unpooled.reshape({6, -1}).gather(1, r.indices.reshape({6, -1})), r.values.reshape({6, -1})));
        CHECK(equal(functional::adaptive_max_pool3d(x, ExpandingArray<3>({2, 3, 2})), r.values));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(AdaptiveMaxPool3d(ExpandingArray<3>(2))(randn({4, 4})), ShapeError,
                                        "AdaptiveMaxPool3d: expected 4D or 5D input, got [4, 4]");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(functional::adaptive_max_pool2d(ones({1, 4, 4}, kInt64), ExpandingArray<2>(2)),
                                        DtypeError, "adaptive_max_pool2d: expected a floating point input");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(functional::adaptive_max_pool1d(ones({1, 4}), ExpandingArray<1>(0)), ValueError,
                                        "output_size must be positive");
    }

    TEST_CASE("adaptive average pooling refuses an int64 input naming itself, as PyTorch's kernels do") {
        // PyTorch: "adaptive_avg_pool2d" not implemented for 'Long' (1-d and 2-d), likewise 3-d.
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(functional::adaptive_avg_pool2d(ones({1, 1, 4, 4}, kInt64), {2, 2}), DtypeError,
                                        "adaptive_avg_pool2d: expected a floating point input, got int64");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(AdaptiveAvgPool1d(ExpandingArray<1>(2))(ones({1, 1, 4}, kInt64)), DtypeError,
                                        "adaptive_avg_pool2d: expected a floating point input, got int64");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(functional::adaptive_avg_pool3d(ones({1, 1, 4, 4, 4}, kInt64), {2, 2, 2}),
                                        DtypeError, "adaptive_avg_pool3d: expected a floating point input, got int64");
    }

    TEST_CASE("AdaptiveMaxPool3d's gradient matches finite differences in float64") {
        const Tensor x = randn({1, 2, 3, 4, 5}, kFloat64).requires_grad_();
        AdaptiveMaxPool3d pool(ExpandingArray<3>({2, 3, 3}));
        const auto check = autograd::gradcheck([&](const std::vector<Tensor>& in) { return pool(in[0]); }, {x});
        CHECK_MESSAGE(check.ok, check.message);
    }
}
