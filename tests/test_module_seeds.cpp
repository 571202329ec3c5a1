// Module seeds (docs/design.md, decision 5): a module draws its seed from the global generator when
// it registers its first parameter, so parameter-free layers shift nothing; model building on
// several threads neither races nor, inside a ModuleSeedScope, depends on the other threads.
#include "test_support.hpp"

#include <algorithm>
#include <thread>

using namespace lazynn;

namespace {

/// The parameters of `m` in order, as values (for comparing two models).
std::vector<Tensor> weights_of(const Module& m) {
    std::vector<Tensor> out;
    for (const auto& p : m.parameters()) out.push_back(p.detach());
    return out;
}

void check_same_weights(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        CHECK(equal(a[i], b[i]));
    }
}

}  // namespace

TEST_SUITE("module seeds") {
    TEST_CASE("parameter-free modules draw nothing, so inserting one keeps every later layer's weights") {
        manual_seed(3);
        nn::Linear a(5, 4);
        manual_seed(3);
        nn::ReLU relu;
        nn::Sequential empty;
        nn::Dropout dropout;
        nn::Flatten flatten;
        nn::Identity identity;
        nn::Linear b(5, 4);
        CHECK(equal(a.weight, b.weight));
        CHECK(equal(a.bias, b.bias));

        manual_seed(3);
        nn::Sequential plain(nn::Linear(4, 8), nn::Linear(8, 2));
        manual_seed(3);
        nn::Sequential with_activations(nn::Linear(4, 8), nn::ReLU(), nn::Tanh(), nn::Linear(8, 2));
        check_same_weights(weights_of(plain), weights_of(with_activations));
    }

    TEST_CASE("lazy and eager models with and without activations start identical") {
        Generator data(42);
        Tensor x = empty({3, 6});
        init::normal_(x, 0.0, 1.0, data);
        manual_seed(8);
        nn::Sequential eager(nn::Linear(6, 5), nn::Linear(5, 2));
        manual_seed(8);
        nn::Sequential lazy(nn::LazyLinear(5), nn::GELU(), nn::LazyLinear(2));
        (void)lazy(x);
        check_same_weights(weights_of(eager), weights_of(lazy));
    }

    TEST_CASE("two models built in a row differ") {
        nn::Linear a(4, 4);
        nn::Linear b(4, 4);
        CHECK_FALSE(equal(a.weight, b.weight));
        CHECK(a.seed() != b.seed());
    }

    TEST_CASE("a parameter-free module draws its seed only when asked, and its copies draw nothing") {
        manual_seed(9);
        nn::ReLU relu;
        const std::string before = default_generator().state();
        nn::ReLU copy = relu;
        auto cloned = relu.clone();
        CHECK(default_generator().state() == before);
        const std::uint64_t seed = relu.seed();
        manual_seed(9);
        CHECK(default_generator().next_u64() == seed);
        CHECK(relu.seed() == seed);  // drawn once
    }

    TEST_CASE("ModuleSeedScope: the same model on any thread, and the global stream does not move") {
        auto build = [] { return nn::Sequential(nn::Linear(16, 16), nn::ReLU(), nn::Linear(16, 4)); };
        std::vector<Tensor> reference;
        manual_seed(1);
        const std::string global_before = default_generator().state();
        {
            ModuleSeedScope scope(11);
            reference = weights_of(build());
            ModuleSeedScope inner(12);  // scopes nest: the innermost one serves
            nn::Linear from_inner(2, 2);
            ModuleSeedScope again(12);
            nn::Linear from_again(2, 2);
            CHECK(equal(from_inner.weight, from_again.weight));
        }
        CHECK(default_generator().state() == global_before);

        std::vector<std::vector<Tensor>> built(2);
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t) {
            threads.emplace_back([&built, &build, t] {
                ModuleSeedScope scope(11);
                for (int i = 0; i < 20; ++i) {
                    auto model = build();
                    if (i == 0) built[static_cast<std::size_t>(t)] = weights_of(model);
                }
            });
        }
        for (auto& thread : threads) thread.join();
        check_same_weights(reference, built[0]);
        check_same_weights(reference, built[1]);
        CHECK(default_generator().state() == global_before);
    }

    TEST_CASE("building models on two threads at once loses no draw of the global generator") {
        constexpr int kPerThread = 200;
        manual_seed(5);
        std::vector<std::vector<std::uint64_t>> seeds(2);
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t) {
            threads.emplace_back([&seeds, t] {
                for (int i = 0; i < kPerThread; ++i) {
                    nn::Linear layer(2, 2);
                    seeds[static_cast<std::size_t>(t)].push_back(layer.seed());
                }
            });
        }
        for (auto& thread : threads) thread.join();
        std::vector<std::uint64_t> all = seeds[0];
        all.insert(all.end(), seeds[1].begin(), seeds[1].end());
        std::sort(all.begin(), all.end());
        manual_seed(5);
        std::vector<std::uint64_t> expected;
        for (int i = 0; i < 2 * kPerThread; ++i) expected.push_back(default_generator().next_u64());
        std::sort(expected.begin(), expected.end());
        CHECK(all == expected);
    }
}
