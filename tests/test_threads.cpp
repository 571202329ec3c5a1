// lazynn's own threads (set_num_threads > 1): every split kernel gives what the serial one gives —
// elementwise ops, GEMMs split by rows and by columns, convolution over the batch (forward and
// backward), pooling, normalisation — and training is reproducible run to run with several threads.
#include "test_support.hpp"

#include <lazynn/lazynn.hpp>

#include <latch>
#include <thread>
#include <vector>

using namespace lazynn;
using lazynn::testing::check_close;

namespace {

/// Runs fn with `threads` threads and restores the previous count.
template <class Fn>
auto with_threads(int threads, Fn&& fn) {
    const int previous = get_num_threads();
    set_num_threads(threads);
    auto result = fn();
    set_num_threads(previous);
    return result;
}

struct Grads {
    Tensor out, input, weight, bias;
};

Grads conv_and_grads(int threads, const Tensor& x, const nn::Conv2d& conv_template) {
    return with_threads(threads, [&] {
        nn::Conv2d conv(conv_template);
        const Tensor in = x.detach().requires_grad_();
        Tensor out = conv(in);
        (out * out).sum().backward();
        return Grads{out, in.grad(), conv.weight.grad(), conv.bias.grad()};
    });
}

}  // namespace

TEST_SUITE("threads") {
    TEST_CASE("set_num_threads validates and reports the count") {
        const int previous = get_num_threads();
        set_num_threads(2);
        CHECK(get_num_threads() == 2);
        CHECK_THROWS_AS(set_num_threads(0), ValueError);
        set_num_threads(previous);
    }

    TEST_CASE("large elementwise ops split across threads equal the serial result exactly") {
        manual_seed(1);
        const Tensor a = randn({600, 700}), b = randn({600, 700});
        auto run = [&] { return std::vector<Tensor>{(a * b + a).relu(), a.exp(), a - 2.0}; };
        const auto serial = with_threads(1, run);
        const auto split = with_threads(2, run);
        for (std::size_t i = 0; i < serial.size(); ++i) CHECK(equal(serial[i], split[i]));
        Tensor inplace = a.clone();
        with_threads(2, [&] {
            inplace.add_(b);
            return 0;
        });
        CHECK(equal(inplace, a + b));
    }

    TEST_CASE("strided copies and row reductions split across threads equal the serial result exactly") {
        // Copies into a contiguous tensor split the source's rows over the threads, each thread
        // starting its walk at its first row; reductions split their output rows.
        manual_seed(2);
        const Tensor x = randn({5, 61, 33, 17}, kFloat64);
        const Tensor column = randn({5, 1, 33, 1});
        auto run = [&] {
            return std::vector<Tensor>{x.permute({2, 0, 3, 1}).contiguous(),
                                       x.transpose(1, 3).to(kFloat32),
                                       column.expand({5, 61, 33, 17}).to(kBFloat16),
                                       x.slice(1, 1, 61, 3).contiguous(),
                                       x.mean({2, 3}),
                                       x.sum({0, 2}),
                                       x.to(kBFloat16).mean({3}, true),
                                       x.max(1).values};
        };
        const auto serial = with_threads(1, run);
        const auto split = with_threads(3, run);
        for (std::size_t i = 0; i < serial.size(); ++i) {
            CAPTURE(i);
            CHECK(serial[i].shape() == split[i].shape());
            CHECK(equal(serial[i], split[i]));
        }
        // The walk's starting offsets against the index formula, not only against itself.
        const Tensor moved = split[0];
        const std::vector<double> values = x.to_vector<double>(), moved_values = moved.to_vector<double>();
        int misplaced = 0;
        for (std::int64_t a = 0; a < 5; ++a)
            for (std::int64_t b = 0; b < 61; ++b)
                for (std::int64_t c = 0; c < 33; ++c)
                    for (std::int64_t d = 0; d < 17; ++d) {
                        const auto from = static_cast<std::size_t>(((a * 61 + b) * 33 + c) * 17 + d);
                        const auto to = static_cast<std::size_t>(((c * 5 + a) * 17 + d) * 61 + b);
                        misplaced += values[from] != moved_values[to];
                    }
        CHECK(misplaced == 0);
    }

    TEST_CASE("GEMMs split by rows and by columns match the serial GEMM") {
        manual_seed(2);
        for (const auto& [m, k, n] :
             std::vector<std::array<std::int64_t, 3>>{{256, 300, 200}, {1, 784, 512}, {3, 500, 300}}) {
            const Tensor x = randn({m, k}), w = randn({n, k});
            const Tensor serial = with_threads(1, [&] { return x.matmul(w.transpose(0, 1)); });
            const Tensor split = with_threads(2, [&] { return x.matmul(w.transpose(0, 1)); });
            check_close(split, serial, 1e-5, 1e-4);
        }
        // One-row and one-column products go to GEMV, with every transpose combination.
        for (const auto& [m, k, n] :
             std::vector<std::array<std::int64_t, 3>>{{1, 300, 200}, {300, 200, 1}, {1, 5, 1}}) {
            const Tensor a = randn({m, k}), b = randn({k, n});
            const Tensor expected = (a.unsqueeze(2) * b.unsqueeze(0)).sum({1});  // no BLAS involved
            for (const bool ta : {false, true}) {
                for (const bool tb : {false, true}) {
                    const Tensor a_op = ta ? a.transpose(0, 1).contiguous().transpose(0, 1) : a;
                    const Tensor b_op = tb ? b.transpose(0, 1).contiguous().transpose(0, 1) : b;
                    check_close(with_threads(2, [&] { return a_op.matmul(b_op); }), expected, 1e-4, 1e-4);
                    check_close(with_threads(1, [&] { return a_op.matmul(b_op); }), expected, 1e-4, 1e-4);
                }
            }
        }
        nn::Linear fc(300, 200);
        const Tensor x = randn({128, 300});
        auto grads = [&] {
            fc.zero_grad();
            fc(x).pow(2.0).sum().backward();
            return std::vector<Tensor>{fc.weight.grad().clone(), fc.bias.grad().clone()};
        };
        const auto serial = with_threads(1, grads);
        const auto split = with_threads(2, grads);
        check_close(split[0], serial[0], 1e-4, 1e-3);
        check_close(split[1], serial[1], 1e-4, 1e-3);
    }

    TEST_CASE("convolution over the batch: outputs and gradients match the serial kernel") {
        manual_seed(3);
        const nn::Conv2d conv(nn::Conv2dOptions(4, 6, 3).padding(1).groups(2));
        const Tensor x = randn({7, 4, 9, 8});
        const Grads serial = conv_and_grads(1, x, conv);
        const Grads split = conv_and_grads(2, x, conv);
        check_close(split.out, serial.out, 1e-5, 1e-5);
        check_close(split.input, serial.input, 1e-5, 1e-5);
        check_close(split.weight, serial.weight, 1e-4, 1e-4);
        check_close(split.bias, serial.bias, 1e-4, 1e-4);
        // Reproducible with threads: chunks' gradients are added in batch order.
        const Grads again = conv_and_grads(2, x, conv);
        CHECK(equal(again.weight, split.weight));
    }

    TEST_CASE("max pooling split over planes keeps values, indices and gradients") {
        manual_seed(4);
        const Tensor x = randn({16, 8, 26, 26});
        nn::MaxPool2d pool(nn::MaxPoolOptions<2>(2));
        auto run = [&] {
            const Tensor in = x.detach().requires_grad_();
            const ValuesIndices r = pool.forward_with_indices(in);
            r.values.sum().backward();
            return std::vector<Tensor>{r.values, r.indices, in.grad()};
        };
        const auto serial = with_threads(1, run);
        const auto split = with_threads(2, run);
        for (std::size_t i = 0; i < serial.size(); ++i) CHECK(equal(serial[i], split[i]));
    }

    TEST_CASE("the 2x2 max-pool fast path follows PyTorch's tie and NaN rules") {
        // Ties keep the first position in scan order; a NaN wins, and a later NaN replaces an
        // earlier one (PyTorch 1.13's scan, measured).
        const Tensor x = tensor(std::vector<float>{1, 1, 0, 2, 1, 0, 2, 2}, {1, 1, 2, 4});
        const ValuesIndices r = nn::MaxPool2d(nn::MaxPoolOptions<2>(2)).forward_with_indices(x);
        CHECK(r.indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 3});
        Tensor with_nan = x.clone();
        with_nan.select(3, 1).fill_(NAN);
        const ValuesIndices n = nn::MaxPool2d(nn::MaxPoolOptions<2>(2)).forward_with_indices(with_nan);
        CHECK(std::isnan(n.values.to_vector<float>()[0]));
        CHECK(n.indices.to_vector<std::int64_t>()[0] == 5);
    }

    TEST_CASE("batch, layer and group norm split across threads match the serial kernels and are reproducible") {
        manual_seed(6);
        const Tensor images = randn({16, 8, 40, 40}) * 3 + 1,
                     rows = randn({512, 300}) * 2 - 1;  // large enough to split
        // Output, input gradient and parameter gradients of (norm(x) * seed).sum().
        auto run = [](Module& norm, const Tensor& x) {
            norm.zero_grad();
            const Tensor in = x.detach().requires_grad_();
            const Tensor out = norm(in);
            (out * out.detach().cos()).sum().backward();
            std::vector<Tensor> result{out, in.grad()};
            for (const Tensor& p : norm.parameters()) result.push_back(p.grad().clone());
            return result;
        };
        nn::BatchNorm2d batch(8);
        nn::LayerNorm layer(Shape{300});
        nn::GroupNorm group(4, 8);
        const std::vector<std::pair<Module*, Tensor>> cases{{&batch, images}, {&layer, rows}, {&group, images}};
        for (const auto& [norm_entry, x_entry] : cases) {
            const auto& norm = norm_entry;  // clang 14 cannot capture structured bindings
            const auto& x = x_entry;
            CAPTURE(norm->name());
            const auto serial = with_threads(1, [&] { return run(*norm, x); });
            const auto split = with_threads(2, [&] { return run(*norm, x); });
            const auto again = with_threads(2, [&] { return run(*norm, x); });
            REQUIRE(serial.size() == split.size());
            for (std::size_t i = 0; i < serial.size(); ++i) {
                CAPTURE(i);
                check_close(split[i], serial[i], 1e-5, 1e-5);  // parameter gradients add chunk sums in another grouping
                CHECK(equal(again[i], split[i]));
            }
        }
    }

    TEST_CASE("a small CNN trains identically twice with two threads") {
        auto train = [] {
            manual_seed(5);
            nn::Sequential cnn{nn::Conv2d(1, 4, 3), nn::ReLU(), nn::MaxPool2d(nn::MaxPoolOptions<2>(2)), nn::Flatten(),
                               nn::LazyLinear(3)};
            optim::Adam opt(cnn.parameters(), optim::AdamOptions(1e-2));
            const Tensor x = randn({8, 1, 12, 12}), y = randint(0, 3, {8});
            for (int step = 0; step < 3; ++step) {
                opt.zero_grad();
                nn::functional::cross_entropy(cnn(x), y).backward();
                opt.step();
            }
            return cnn.state_dict();
        };
        const StateDict first = with_threads(2, train);
        const StateDict second = with_threads(2, train);
        for (const auto& [key, value] : first) CHECK(equal(value, second.at(key)));
    }
}

TEST_SUITE("backward on several threads") {
    TEST_CASE("backward passes on four threads into one shared leaf add every gradient") {
        // Each of 4 threads runs (x * 1).sum().backward() repeatedly on one shared leaf, all starting
        // together: x.grad must hold every contribution, with no crash. Unserialised accumulation lost
        // updates (read-modify-write races in grad += g, two first gradients both installed) or
        // crashed; a large leaf makes every accumulation a wide window.
        constexpr int kThreads = 4, kIterations = 100;
        for (int round = 0; round < 20; ++round) {
            CAPTURE(round);
            const Tensor x = zeros({1 << 14}).requires_grad_();
            std::latch start(kThreads);
            std::vector<std::thread> threads;
            for (int t = 0; t < kThreads; ++t) {
                threads.emplace_back([x, &start] {
                    start.arrive_and_wait();
                    for (int i = 0; i < kIterations; ++i) (x * 1).sum().backward();
                });
            }
            for (auto& thread : threads) thread.join();
            REQUIRE(x.grad().defined());
            CHECK(x.grad().min().item<float>() == kThreads * kIterations);
            CHECK(x.grad().max().item<float>() == kThreads * kIterations);
        }
    }
}
