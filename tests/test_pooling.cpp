// Pooling (modules/src/pooling.cpp): max pooling's values, gradients and indices against PyTorch with ties
// and NaN (tests/fixtures/layers.json).
#include "test_support.hpp"

#include <cmath>
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
