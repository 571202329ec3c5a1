// The float32 compute backend (oneDNN GEMM and convolution primitives) against the float64 kernels
// (OpenBLAS GEMM, im2col convolutions), which the PyTorch fixtures and gradcheck pin: forward, input,
// weight and bias gradients over strides, dilation, groups, asymmetric padding, 1-3 spatial dims,
// transposed convolutions, batch sizes that split unevenly across threads, and empty batches.
#include "test_support.hpp"

#include <lazynn/nn.hpp>

#include <filesystem>
#include <functional>
#include <thread>

using namespace lazynn;
using lazynn::testing::check_close;

namespace {

/// The threads of this process now: the main thread, lazynn's workers, OpenBLAS's and any OpenMP team's.
std::ptrdiff_t process_threads() {
    return std::distance(std::filesystem::directory_iterator("/proc/self/task"), std::filesystem::directory_iterator());
}

/// Runs `op` on float32 and on float64 copies of the same inputs and compares the outputs and every
/// input gradient for one random upstream gradient.
void check_float32_matches_float64(const std::function<Tensor(const std::vector<Tensor>&)>& op,
                                   const std::vector<Tensor>& inputs64, double rtol = 1e-4, double atol = 1e-5) {
    std::vector<Tensor> in32, in64;
    for (const Tensor& t : inputs64) {
        in32.push_back(t.defined() ? t.to(kFloat32).requires_grad_() : Tensor());
        in64.push_back(t.defined() ? t.detach().clone().requires_grad_() : Tensor());
    }
    const Tensor y64 = op(in64);
    const Tensor y32 = op(in32);
    REQUIRE(y32.dtype() == kFloat32);
    check_close(y32, y64, rtol, atol);
    const Tensor upstream = randn(y64.shape(), kFloat64);
    (y64 * upstream).sum().backward();
    (y32 * upstream.to(kFloat32)).sum().backward();
    for (std::size_t i = 0; i < in64.size(); ++i) {
        if (!in64[i].defined()) continue;
        CAPTURE(i);
        check_close(in32[i].grad(), in64[i].grad(), rtol, atol * 10);
    }
}

struct Conv2dCase {
    Shape input, weight;
    std::array<std::int64_t, 2> stride;
    std::array<std::int64_t, 4> padding;  // top, bottom, left, right
    std::array<std::int64_t, 2> dilation;
    std::int64_t groups;
    bool bias;
};

}  // namespace

TEST_SUITE("compute backend") {
    // First in the file, so that no earlier case has started an OpenMP team this one would reuse.
    TEST_CASE("oneDNN never starts an OpenMP team, also for primitives first created on a fresh thread") {
        if (std::thread::hardware_concurrency() < 2) return;  // OpenMP's default team is one thread there
        set_num_threads(2);
        (void)(randn({1 << 20}) + 1.0);  // starts lazynn's workers
        // A thread's OpenMP thread count defaults to the core count; a primitive created there keeps that
        // count, and its calls would start a team of OpenMP threads that spin against lazynn's workers.
        // (A team lives as long as the thread that started it, so the count is taken on that thread.)
        std::ptrdiff_t before = 0, after = 0;
        std::thread fresh([&] {
            before = process_threads();
            const Tensor x = randn({1, 32, 16, 16}).requires_grad_();
            const Tensor w = randn({64, 32, 3, 3}).requires_grad_();
            nn::functional::conv2d(x, w, Tensor(), {1, 1}, {1, 1, 1, 1}, {1, 1}, 1).sum().backward();
            after = process_threads();
        });
        fresh.join();
        CHECK(after == before);
    }

    TEST_CASE("float32 conv2d on oneDNN equals the float64 kernels, forward and backward, on 1 and 2 threads") {
        const std::vector<Conv2dCase> cases{
            {{4, 3, 9, 8}, {5, 3, 3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true},
            {{5, 4, 11, 7}, {6, 2, 3, 2}, {2, 1}, {1, 2, 0, 1}, {1, 2}, 2, true},      // groups, asymmetric padding
            {{3, 6, 10, 10}, {6, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {2, 2}, 6, false},    // depthwise, dilated
            {{1, 16, 12, 12}, {32, 16, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},  // a batch of one
            {{7, 1, 28, 28}, {8, 1, 5, 5}, {2, 2}, {2, 2, 2, 2}, {1, 1}, 1, true},     // one input channel, odd batch
            {{2, 8, 7, 9}, {4, 8, 1, 1}, {3, 2}, {0, 0, 0, 0}, {1, 1}, 1, true},       // 1x1, strides leave rows unused
            {{0, 3, 5, 5}, {2, 3, 3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true},       // an empty batch
            // Fewer samples than threads: the forward splits blocks of output channels over the threads,
            // a last block of 8 channels, then a block per thread writing every sample's channels.
            {{1, 5, 9, 9}, {40, 5, 3, 3}, {2, 2}, {1, 0, 1, 0}, {1, 1}, 1, true},
            {{3, 8, 6, 6}, {48, 8, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, false},
        };
        for (int threads : {1, 2, 4}) {
            set_num_threads(threads);
            for (const auto& c : cases) {
                CAPTURE(threads);
                CAPTURE(shape_to_list(c.input));
                manual_seed(7);
                std::vector<Tensor> inputs{randn(c.input, kFloat64), randn(c.weight, kFloat64),
                                           c.bias ? randn({c.weight[0]}, kFloat64) : Tensor()};
                check_float32_matches_float64(
                    [&](const std::vector<Tensor>& in) {
                        return nn::functional::conv2d(in[0], in[1], in[2], c.stride, c.padding, c.dilation, c.groups);
                    },
                    inputs);
                check_float32_matches_float64(
                    [&](const std::vector<Tensor>& in) {
                        return nn::functional::conv2d_relu(in[0], in[1], in[2], c.stride, c.padding, c.dilation,
                                                           c.groups);
                    },
                    inputs);
            }
        }
        set_num_threads(1);
    }

    TEST_CASE("float32 conv_transpose2d, conv3d and conv_transpose3d on oneDNN equal the float64 kernels") {
        for (int threads : {1, 2, 4}) {
            set_num_threads(threads);
            CAPTURE(threads);
            manual_seed(3);
            check_float32_matches_float64(
                [](const std::vector<Tensor>& in) {
                    return nn::functional::conv_transpose2d(in[0], in[1], in[2], {2, 3}, {1, 0}, {1, 2}, {1, 2}, 2);
                },
                {randn({3, 4, 5, 4}, kFloat64), randn({4, 3, 3, 2}, kFloat64), randn({6}, kFloat64)});
            check_float32_matches_float64(
                [](const std::vector<Tensor>& in) {
                    return nn::functional::conv3d(in[0], in[1], in[2], {1, 2, 1}, {1, 1, 0, 1, 2, 0}, {1, 1, 2}, 2);
                },
                {randn({3, 4, 5, 6, 7}, kFloat64), randn({6, 2, 3, 2, 3}, kFloat64), randn({6}, kFloat64)});
            check_float32_matches_float64(
                [](const std::vector<Tensor>& in) {
                    return nn::functional::conv_transpose3d(in[0], in[1], in[2], {2, 1, 2}, {1, 0, 1}, {1, 0, 0},
                                                            {1, 2, 1}, 1);
                },
                {randn({3, 3, 3, 4, 3}, kFloat64), randn({3, 2, 3, 2, 3}, kFloat64), Tensor()});
            // Batches smaller than the thread count: forwards split over output channels, the transposed
            // convolution's input gradient too (it is the forward of the convolution it transposes).
            check_float32_matches_float64(
                [](const std::vector<Tensor>& in) {
                    return nn::functional::conv3d(in[0], in[1], in[2], {1, 1, 1}, {1, 1, 1, 1, 1, 1}, {1, 1, 1}, 1);
                },
                {randn({1, 3, 4, 5, 4}, kFloat64), randn({33, 3, 3, 3, 3}, kFloat64), randn({33}, kFloat64)});
            check_float32_matches_float64(
                [](const std::vector<Tensor>& in) {
                    return nn::functional::conv_transpose2d(in[0], in[1], in[2], {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1);
                },
                {randn({1, 32, 4, 5}, kFloat64), randn({32, 5, 3, 3}, kFloat64), randn({5}, kFloat64)});
        }
        set_num_threads(1);
    }

    TEST_CASE("float32 matmul on oneDNN equals float64 on every transposition and odd sizes") {
        manual_seed(11);
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            for (const auto& mkn : std::vector<std::array<std::int64_t, 3>>{
                     {1, 7, 5}, {5, 7, 1}, {33, 65, 17}, {300, 129, 70}, {4, 0, 3}}) {
                const std::int64_t m = mkn[0], k = mkn[1], n = mkn[2];  // named: clang 14 cannot CAPTURE a binding
                CAPTURE(m);
                CAPTURE(k);
                const Tensor a = randn({m, k}, kFloat64), b = randn({k, n}, kFloat64);
                check_float32_matches_float64([](const std::vector<Tensor>& in) { return in[0].matmul(in[1]); },
                                              {a, b});
                // Transposed views reach the GEMM as flags, not copies.
                check_float32_matches_float64([](const std::vector<Tensor>& in) { return in[0].t().matmul(in[1].t()); },
                                              {a.t().contiguous(), b.t().contiguous()});
            }
        }
        set_num_threads(1);
    }

    TEST_CASE("conv errors name the op, the expected and the actual") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(nn::functional::conv3d(ones({1, 4, 3, 3, 3}), ones({2, 3, 1, 1, 1}), Tensor(),
                                                               {1, 1, 1}, {0, 0, 0, 0, 0, 0}, {1, 1, 1}, 1),
                                        ShapeError,
                                        "conv3d: expected input [1, 4, 3, 3, 3] to have 3 channels, but got 4");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            nn::functional::conv_transpose2d(ones({1, 2, 3, 3}), ones({2, 2, 3, 3}, kFloat64), Tensor(), {1, 1}, {0, 0},
                                             {0, 0}, {1, 1}, 1),
            DtypeError, "conv_transpose2d: input (float32) and weight (float64)");
    }

    TEST_CASE("backend_info names oneDNN's ISA, the OpenBLAS core and the thread count") {
        set_num_threads(2);
        const BackendInfo info = backend_info();
        CHECK(info.threads == 2);
        CHECK_FALSE(info.onednn_version.empty());
        CHECK_FALSE(info.onednn_isa.empty());
        CHECK_FALSE(info.openblas_core.empty());
        CHECK(info.summary().find("oneDNN " + info.onednn_version) != std::string::npos);
        CHECK(info.summary().find(info.openblas_core) != std::string::npos);
        CHECK(info.summary().find(info.simd_arch) != std::string::npos);
        // bfloat16 runs on oneDNN's bfloat16 kernels where they outrun float32 (AMX; AVX512-BF16 on AMD),
        // through float32 kernels elsewhere; whether oneDNN could do better there is said.
        CHECK(info.summary().find(info.bfloat16) != std::string::npos);
        const bool bfloat16_faster =
            info.onednn_isa == "avx512_core_amx" || (info.onednn_isa == "avx512_core_bf16" && testing::amd_cpu());
        CHECK(info.bfloat16.find(bfloat16_faster ? "on oneDNN's bfloat16 kernels (" + info.onednn_isa + ")"
                                                 : std::string("through float32 kernels")) != std::string::npos);
        if (info.onednn_isa == "avx512_core_bf16" && !bfloat16_faster)
            CHECK(info.bfloat16.find("without AMX on this CPU") != std::string::npos);
        const bool avx2_only = info.onednn_isa == "avx2" || info.onednn_isa == "avx2_vnni";
        if (avx2_only) CHECK(info.bfloat16.find("has no bfloat16 matmul for " + info.onednn_isa) != std::string::npos);
        for (const char* arch : {"avx512f", "avx2+fma", "sse2", "neon64"}) {
            if (info.simd_arch == arch) return;
        }
        FAIL("unexpected vector architecture " << info.simd_arch);
    }
}
