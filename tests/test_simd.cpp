// The SIMD kernels (framework/src/simd) on the architecture the dispatcher picks: ctest runs this
// suite once per architecture with LAZYNN_SIMD=sse2|avx2|avx512 (tests/CMakeLists.txt).
//  - edge values of every dispatched unary op and activation against PyTorch
//    (tests/fixtures/simd_edges.json, made by tools/fixtures/gen_simd_edges.py);
//  - float32 math against float64 libm on dense grids;
//  - 2x2 max pooling, float32 (oneDNN) / float64 (im2col) convolution and batch / layer norm on row lengths that
//    reach every register width and tail, against references written with plain tensor ops.
#include "test_support.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <string>

namespace lazynn::detail {
std::string simd_arch_name();  // framework/src/simd/simd.hpp (internal)
}
namespace lazynn::ops::detail {  // framework/src/ops/channel_blocks.hpp (internal)
void planes_to_channel_block(const std::uint16_t* planes, std::int64_t plane_stride, std::int64_t channels,
                             std::int64_t pixels, std::uint16_t* block);
void channel_block_to_planes(const std::uint16_t* block, std::int64_t channels, std::int64_t pixels,
                             std::uint16_t* planes, std::int64_t plane_stride);
}  // namespace lazynn::ops::detail

using namespace lazynn;
namespace F = lazynn::nn::functional;

namespace {

using Op = std::function<Tensor(const Tensor&)>;

const std::map<std::string, Op>& edge_ops() {
    static const std::map<std::string, Op> table = {
        {"exp", [](const Tensor& t) { return t.exp(); }},
        {"log", [](const Tensor& t) { return t.log(); }},
        {"sqrt", [](const Tensor& t) { return t.sqrt(); }},
        {"sin", [](const Tensor& t) { return t.sin(); }},
        {"cos", [](const Tensor& t) { return t.cos(); }},
        {"softplus", [](const Tensor& t) { return t.softplus(2.0, 5.0); }},
        {"tanh", [](const Tensor& t) { return t.tanh(); }},
        {"sigmoid", [](const Tensor& t) { return t.sigmoid(); }},
        {"silu", [](const Tensor& t) { return t.silu(); }},
        {"gelu", [](const Tensor& t) { return t.gelu(); }},
        {"gelu_tanh", [](const Tensor& t) { return t.gelu(true); }},
    };
    return table;
}

std::vector<double> decode(const nlohmann::json& values) {
    std::vector<double> out;
    // strtod, not stod: stod throws on the subnormal values the fixture holds.
    for (const auto& v : values) out.push_back(std::strtod(v.get<std::string>().c_str(), nullptr));
    return out;
}

/// Whether `actual` is PyTorch's `expected` at an edge input: NaN for NaN, the same infinity, the
/// same signed zero where `zero_sign_matters`, else within rtol relative or atol absolute.
bool same_edge_value(double actual, double expected, bool zero_sign_matters, double rtol, double atol) {
    if (std::isnan(expected)) return std::isnan(actual);
    if (std::isinf(expected)) return actual == expected;
    if (expected == 0 && actual == 0 && zero_sign_matters) return std::signbit(actual) == std::signbit(expected);
    return std::abs(actual - expected) <= rtol * std::abs(expected) + atol;
}

/// Inputs and results of an op on a grid, in float32 (from float32-rounded inputs) and float64.
struct Float32AndFloat64 {
    std::vector<double> x, v32, v64, g32, g64;
};

Float32AndFloat64 run_in_both(const Op& op, const std::vector<double>& grid) {
    const auto n = static_cast<std::int64_t>(grid.size());
    const Tensor x32 = tensor(grid, {n}, kFloat64).to(kFloat32).requires_grad_(true);
    const Tensor x64 = x32.detach().to(kFloat64).requires_grad_(true);
    const Tensor y32 = op(x32), y64 = op(x64);
    y32.sum().backward();
    y64.sum().backward();
    return {x64.detach().to_vector<double>(), y32.to_vector<double>(), y64.to_vector<double>(),
            x32.grad().to_vector<double>(), x64.grad().to_vector<double>()};
}

/// PyTorch's 2x2 / stride 2 max pooling, one window at a time: the first maximum in scan order,
/// but every NaN replaces the pick before it. Returns the output and the input gradient for
/// the upstream gradient `g`.
std::pair<std::vector<double>, std::vector<double>> reference_max_pool(const std::vector<double>& x,
                                                                       const std::vector<double>& g,
                                                                       std::int64_t planes, std::int64_t h,
                                                                       std::int64_t w) {
    const std::int64_t oh = h / 2, ow = w / 2;
    std::vector<double> out(static_cast<std::size_t>(planes * oh * ow)), grad(x.size(), 0.0);
    for (std::int64_t p = 0; p < planes; ++p) {
        for (std::int64_t y = 0; y < oh; ++y) {
            for (std::int64_t c = 0; c < ow; ++c) {
                const std::int64_t at[4] = {(p * h + 2 * y) * w + 2 * c, (p * h + 2 * y) * w + 2 * c + 1,
                                            (p * h + 2 * y + 1) * w + 2 * c, (p * h + 2 * y + 1) * w + 2 * c + 1};
                std::int64_t pick = at[0];
                for (int q = 1; q < 4; ++q) {
                    const double v = x[static_cast<std::size_t>(at[q])];
                    if (v > x[static_cast<std::size_t>(pick)] || std::isnan(v)) pick = at[q];
                }
                const auto o = static_cast<std::size_t>((p * oh + y) * ow + c);
                out[o] = x[static_cast<std::size_t>(pick)];
                grad[static_cast<std::size_t>(pick)] += g[o];
            }
        }
    }
    return {out, grad};
}

}  // namespace

TEST_SUITE("SIMD dispatch") {
    TEST_CASE("the dispatcher runs the architecture LAZYNN_SIMD asks for, capped at what the CPU has") {
        const std::string name = lazynn::detail::simd_arch_name();
        INFO("picked ", name);
#if defined(__x86_64__)
        CHECK((name == "avx512f" || name == "avx2+fma" || name == "sse2"));
        const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
        const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        const char* env = std::getenv("LAZYNN_SIMD");
        const std::string asked = env ? env : "";
        if (asked == "sse2") CHECK(name == "sse2");
        if (asked == "avx2") CHECK(name == (avx2 ? "avx2+fma" : "sse2"));
        if (asked == "avx512" || asked.empty()) CHECK(name == (avx512 ? "avx512f" : avx2 ? "avx2+fma" : "sse2"));
#elif defined(__aarch64__)
        CHECK(name == "neon64");
#endif
    }
}

TEST_SUITE("SIMD math vs PyTorch") {
    TEST_CASE("every edge-fixture case has an op and vice versa") {
        const auto fixture = lazynn::testing::load_fixture("simd_edges.json");
        CHECK(fixture.at("cases").size() == edge_ops().size());
        for (const auto& entry : edge_ops()) CHECK_MESSAGE(fixture.at("cases").contains(entry.first), entry.first);
    }

    TEST_CASE("values and gradients at NaN, infinities, signed zeros and the overflow edges match PyTorch") {
        const auto fixture = lazynn::testing::load_fixture("simd_edges.json");
        for (const auto& [name_entry, op] : edge_ops()) {
            const auto& name = name_entry;  // clang 14 cannot capture structured bindings
            const auto& c = fixture.at("cases").at(name);
            const auto& e32 = c.at("float32");
            const auto& e64 = c.at("float64");
            const std::vector<double> out32 = decode(e32.at("output")), out64 = decode(e64.at("output"));
            const std::vector<double> grad32 = decode(e32.at("grad")), grad64 = decode(e64.at("grad"));
            for (const Dtype dtype : {kFloat32, kFloat64}) {
                const bool single = dtype == kFloat32;
                const std::vector<double> input = decode((single ? e32 : e64).at("input"));
                const Tensor x =
                    tensor(input, {static_cast<std::int64_t>(input.size())}, kFloat64).to(dtype).requires_grad_(true);
                const Tensor y = op(x);
                REQUIRE(y.dtype() == dtype);
                y.sum().backward();
                const std::vector<double> got = y.to_vector<double>(), got_grad = x.grad().to_vector<double>();
                for (std::size_t i = 0; i < input.size(); ++i) {
                    CAPTURE(name);
                    CAPTURE(single);
                    CAPTURE(input[i]);
                    // PyTorch's float32 exact GELU (a vectorised erf) gives +0.0 where float64 gives
                    // -0.0 (at -0.0 and far below zero): only zero signs both dtypes agree on count.
                    const bool signs_agree = std::signbit(out32[i]) == std::signbit(out64[i]);
                    if (!single) {
                        // The float64 tolerances of the PyTorch fixture suite (test_tensor_ops.cpp).
                        CHECK_MESSAGE(same_edge_value(got[i], out64[i], signs_agree, 1e-10, 1e-300), "value ", got[i],
                                      " vs ", out64[i]);
                        CHECK_MESSAGE(same_edge_value(got_grad[i], grad64[i], true, 1e-9, 1e-300), "gradient ",
                                      got_grad[i], " vs ", grad64[i]);
                        continue;
                    }
                    // float32: PyTorch's float32 result, or its float64 one where float32 PyTorch is
                    // less accurate (the subnormal results of exp). PyTorch's GELU formulas cancel in
                    // 1 + erf and 1 + tanh far below zero (2e-7 |x| in float32, and to 0 in float64
                    // once erf rounds to -1); lazynn's erfc and sigmoid forms keep the tail.
                    // Gradients computed from a saturated output (1 - y^2) are quantised to
                    // float32's spacing below 1.
                    const double tail = name.rfind("gelu", 0) == 0 ? 2e-7 * std::abs(input[i]) : 0.0;
                    CHECK_MESSAGE((same_edge_value(got[i], out32[i], signs_agree, 4e-6, 1e-37 + tail) ||
                                   same_edge_value(got[i], out64[i], signs_agree, 4e-6, 1e-37)),
                                  "value ", got[i], " vs ", out32[i], " (float64 ", out64[i], ")");
                    CHECK_MESSAGE((same_edge_value(got_grad[i], grad32[i], true, 4e-6, 2.5e-7) ||
                                   same_edge_value(got_grad[i], grad64[i], true, 4e-6, 2.5e-7)),
                                  "gradient ", got_grad[i], " vs ", grad32[i], " (float64 ", grad64[i], ")");
                }
            }
        }
    }

    TEST_CASE(
        "float32 exp, log, sqrt, sin, cos and softplus follow float64 libm on dense grids, in value and gradient") {
        struct Case {
            const char* name;
            Op op;
            double low, high;
            double rtol, atol;  // of the value and the gradient
        };
        // A few float32 ulps of the result; sin, cos and log also an absolute 2^-23 near their
        // zeros (the float32 argument reduction / the rounding of the result near 1). softplus
        // rounds beta * x to float32 before its exp: |beta x| 2^-24 more, up to 2e-6 here.
        const std::vector<Case> cases{
            {"exp", [](const Tensor& t) { return t.exp(); }, -87.0, 88.0, 5e-7, 0.0},
            {"log", [](const Tensor& t) { return t.log(); }, 1e-6, 1e6, 5e-7, 1.2e-7},
            {"sqrt", [](const Tensor& t) { return t.sqrt(); }, 0.0, 1e4, 2e-7, 0.0},
            {"sin", [](const Tensor& t) { return t.sin(); }, -100.0, 100.0, 5e-7, 1.2e-7},
            {"cos", [](const Tensor& t) { return t.cos(); }, -100.0, 100.0, 5e-7, 1.2e-7},
            {"softplus", [](const Tensor& t) { return t.softplus(1.5, 20.0); }, -20.0, 20.0, 2.5e-6, 1e-37},
        };
        for (const auto& c : cases) {
            CAPTURE(std::string(c.name));
            std::vector<double> grid;
            for (int i = 0; i <= 20011; ++i)
                grid.push_back(c.low + (c.high - c.low) * i / 20011.0);  // not a multiple of any width
            const Float32AndFloat64 r = run_in_both(c.op, grid);  // not a structured binding: CAPTURE in clang 14
            const auto &x = r.x, &v32 = r.v32, &v64 = r.v64, &g32 = r.g32, &g64 = r.g64;
            for (std::size_t i = 0; i < grid.size(); ++i) {
                CAPTURE(x[i]);
                CHECK(std::abs(v32[i] - v64[i]) <= c.rtol * std::abs(v64[i]) + c.atol);
                // The backward formulas run in float32 too (libm or from the float32 output);
                // sqrt's gradient at 0 is inf in both.
                CHECK((g32[i] == g64[i] ||
                       std::abs(g32[i] - g64[i]) <= std::max(2e-6, c.rtol) * std::abs(g64[i]) + 2 * c.atol));
            }
        }
    }
}

TEST_SUITE("SIMD layer kernels") {
    TEST_CASE("bfloat16 <-> float32 conversion of whole tensors equals the element-by-element conversion") {
        // Contiguous conversions run the SIMD conversion kernels; the scalar conversion they must
        // equal is pinned to PyTorch's by test_bfloat16's fixtures. Edge values (ties both ways,
        // NaN, infinities, -0.0, subnormals, the overflow edge) at every position of a register and
        // of a partial last one.
        const float inf = std::numeric_limits<float>::infinity();
        const std::vector<float> edges = {0.0f,
                                          -0.0f,
                                          1.0f,
                                          std::bit_cast<float>(0x3F808000u),  // a tie, rounds down to even
                                          std::bit_cast<float>(0x3F818000u),  // a tie, rounds up to even
                                          std::bit_cast<float>(0x3F808001u),  // just above a tie
                                          std::numeric_limits<float>::quiet_NaN(),
                                          -std::numeric_limits<float>::quiet_NaN(),
                                          std::bit_cast<float>(0x7F800001u),  // a signalling NaN
                                          inf,
                                          -inf,
                                          std::numeric_limits<float>::max(),  // rounds to infinity
                                          std::bit_cast<float>(0x7F7F7FFFu),  // the largest that does not
                                          std::numeric_limits<float>::denorm_min(),
                                          std::bit_cast<float>(0x00018000u),  // a subnormal tie
                                          -3e-41f,
                                          65504.0f};
        for (const std::int64_t n : {1, 7, 8, 15, 16, 17, 31, 33, 100, 1000}) {
            CAPTURE(n);
            std::vector<double> values(static_cast<std::size_t>(n));
            const std::vector<double> noise = randn({n}, kFloat64).to_vector<double>();
            for (std::size_t k = 0; k < values.size(); ++k)
                values[k] = k % 3 == 0
                                ? static_cast<double>(edges[(k / 3 + static_cast<std::size_t>(n)) % edges.size()])
                                : noise[k];
            const Tensor wide = tensor(values, {n}, kFloat64).to(kFloat32);
            const std::vector<float> floats = wide.to_vector<float>();
            const std::vector<BFloat16> narrowed = wide.to(kBFloat16).to_vector<BFloat16>();
            REQUIRE(narrowed.size() == floats.size());
            for (std::size_t k = 0; k < floats.size(); ++k) {
                CAPTURE(k);
                CHECK(narrowed[k].bits == BFloat16(floats[k]).bits);
            }
            const std::vector<float> widened = wide.to(kBFloat16).to(kFloat32).to_vector<float>();
            for (std::size_t k = 0; k < floats.size(); ++k) {
                CAPTURE(k);
                CHECK(std::bit_cast<std::uint32_t>(widened[k]) ==
                      std::bit_cast<std::uint32_t>(static_cast<float>(narrowed[k])));
            }
        }
    }

    TEST_CASE("16-bit channel planes to 16-channel blocks and back move every value's bits to its place") {
        // The transpositions the bfloat16 convolutions use (ops/channel_blocks.hpp), against the
        // index formula: every channel count of a block (a padded last block gets zeros), pixel
        // counts that reach every register width and a partial last one, planes further apart
        // than their length, and bit patterns that are NaN with payloads (moved, never converted).
        constexpr std::int64_t kBlock = 16;
        const std::uint16_t canary = 0xBEEF;
        std::uint32_t state = 12345;
        const auto next_bits = [&state] {
            state = state * 1664525u + 1013904223u;
            return static_cast<std::uint16_t>(state >> 16);
        };
        for (const std::int64_t pixels : {0, 1, 3, 4, 5, 8, 15, 16, 17, 31, 33, 64, 100}) {
            for (std::int64_t channels = 1; channels <= kBlock; ++channels) {
                CAPTURE(pixels);
                CAPTURE(channels);
                const std::int64_t stride = pixels + 3;
                std::vector<std::uint16_t> planes(static_cast<std::size_t>(kBlock * stride));
                for (std::size_t k = 0; k < planes.size(); ++k)
                    planes[k] = k % 5 == 0 ? static_cast<std::uint16_t>(0x7F81 + k % 7) : next_bits();
                const auto at = [](std::int64_t i) { return static_cast<std::size_t>(i); };
                std::vector<std::uint16_t> block(at(pixels * kBlock + 1), canary);
                ops::detail::planes_to_channel_block(planes.data(), stride, channels, pixels, block.data());
                int misplaced = 0;
                for (std::int64_t p = 0; p < pixels; ++p) {
                    for (std::int64_t j = 0; j < kBlock; ++j) {
                        const std::uint16_t expected = j < channels ? planes[at(j * stride + p)] : 0;
                        misplaced += block[at(p * kBlock + j)] != expected;
                    }
                }
                CHECK(misplaced == 0);
                CHECK(block.back() == canary);  // nothing written past the block

                std::vector<std::uint16_t> back(planes.size(), canary);
                ops::detail::channel_block_to_planes(block.data(), channels, pixels, back.data(), stride);
                for (std::int64_t j = 0; j < kBlock; ++j) {
                    for (std::int64_t p = 0; p < stride; ++p) {
                        // Each channel's pixels come back; the gaps between planes and the padding
                        // channels' planes are left alone.
                        const bool written = j < channels && p < pixels;
                        misplaced += back[at(j * stride + p)] != (written ? planes[at(j * stride + p)] : canary);
                    }
                }
                CHECK(misplaced == 0);
            }
        }
    }

    TEST_CASE("a bfloat16 linear_relu on oneDNN's bfloat16 kernels keeps PyTorch's ReLU at every edge value") {
        // The fused ReLU runs on the output's bfloat16 bits (ReluKernels): negatives, -inf and
        // negative subnormals become +0.0, NaN and +values stay. x = 1 and no bias, so each output
        // is a sum of its weights; 100 outputs reach every register width and a partial last one.
        const BFloat16Kernels before = get_bfloat16_kernels();
        set_bfloat16_kernels(BFloat16Kernels::native);
        if (backend_info().bfloat16.find("on oneDNN's bfloat16 kernels") == std::string::npos) {
            set_bfloat16_kernels(before);
            MESSAGE("no bfloat16 kernels on this CPU: the float32 route's ReLU is tested elsewhere");
            return;
        }
        const double inf = std::numeric_limits<double>::infinity();
        const std::vector<double> edges = {-1.5, 2.0, std::nan(""), -inf, inf, -1e-39, 1e-39, -3.0e38, 0.0, -7.0};
        // Two inputs: output k is weights[k][0] + weights[k][1]. Row 11 sums inf and -inf: a NaN made
        // inside the product, not given.
        std::vector<double> weights(200, 0.0);
        for (std::size_t k = 0; k < 100; ++k) weights[2 * k] = edges[(k * 7) % edges.size()];
        weights[22] = inf;
        weights[23] = -inf;
        const Tensor w = tensor(weights, {100, 2}, kFloat64).to(kBFloat16);
        const Tensor x = ones({3, 2}).to(kBFloat16);
        const Tensor fused = ops::linear_relu(x, w), separate = ops::linear(x, w).relu();
        set_bfloat16_kernels(before);
        const std::vector<BFloat16> got = fused.to_vector<BFloat16>(), expected = separate.to_vector<BFloat16>();
        REQUIRE(got.size() == expected.size());
        for (std::size_t k = 0; k < got.size(); ++k) {
            CAPTURE(k);
            CHECK(got[k].bits == expected[k].bits);
        }
        CHECK(std::isnan(static_cast<float>(got[6])));   // weights[k] = edges[7k mod 10]
        CHECK(got[9].bits == 0);                         // -inf
        CHECK(got[5].bits == 0);                         // a negative subnormal
        CHECK(std::isnan(static_cast<float>(got[11])));  // inf - inf
    }

    TEST_CASE("2x2 max pooling matches a window-by-window reference on every row width, with NaN and ties") {
        // Widths from 2 to 70: no register, each register width of float and double, and every
        // partial last block.
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            for (std::int64_t w = 2; w <= 70; w += (w < 40 ? 1 : 7)) {
                CAPTURE(w);
                const std::int64_t h = 5, planes = 3;
                std::vector<double> x =
                    randint(-4, 5, {planes * h * w}, kFloat64).to_vector<double>();  // small integers: ties
                if (w == 33) x[static_cast<std::size_t>(w + 3)] = NAN;               // one row holds NaN
                std::vector<double> g = randn({planes * (h / 2) * (w / 2)}).to_vector<double>();
                const auto [expected, expected_grad] = reference_max_pool(x, g, planes, h, w);
                const Tensor input = tensor(x, {1, planes, h, w}, kFloat64).to(dtype).requires_grad_(true);
                const Tensor out = F::max_pool2d(input, {2, 2}, {2, 2});
                (out * tensor(g, {1, planes, h / 2, w / 2}, kFloat64).to(dtype)).sum().backward();
                const std::vector<double> got = out.to_vector<double>(), got_grad = input.grad().to_vector<double>();
                REQUIRE(got.size() == expected.size());
                for (std::size_t i = 0; i < got.size(); ++i) {
                    CHECK(((std::isnan(got[i]) && std::isnan(expected[i])) || got[i] == expected[i]));
                }
                for (std::size_t i = 0; i < got_grad.size(); ++i) {
                    // Gradients are the float-rounded g: exact in float64, to float32 rounding otherwise.
                    CHECK(std::abs(got_grad[i] - expected_grad[i]) <= 1e-7 * std::abs(expected_grad[i]));
                }
            }
        }
    }

    TEST_CASE("float32 3x3 convolutions (oneDNN) follow float64 (im2col) on every width, forward and backward") {
        // Stride 1, stride 2 and dilation, on row widths around every vector width.
        struct Conv {
            std::int64_t c, stride, pad, dilation;
        };
        for (const Conv conv : {Conv{8, 1, 1, 1}, Conv{3, 2, 1, 1}, Conv{4, 1, 0, 2}}) {
            for (const std::int64_t w : {5, 8, 9, 12, 17, 26, 33, 40}) {
                CAPTURE(conv.c);
                CAPTURE(conv.stride);
                CAPTURE(w);
                const Tensor x64 = randn({2, conv.c, 7, w}, kFloat64).requires_grad_(true);
                const Tensor k64 = randn({5, conv.c, 3, 3}, kFloat64).requires_grad_(true);
                const Tensor b64 = randn({5}, kFloat64);
                const Tensor x32 = x64.detach().to(kFloat32).requires_grad_(true),
                             k32 = k64.detach().to(kFloat32).requires_grad_(true);
                const auto run = [&](const Tensor& x, const Tensor& k, const Tensor& b) {
                    return F::conv2d(x, k, b, {conv.stride, conv.stride}, {conv.pad, conv.pad, conv.pad, conv.pad},
                                     {conv.dilation, conv.dilation}, 1);
                };
                const Tensor y64 = run(x64, k64, b64), y32 = run(x32, k32, b64.to(kFloat32));
                const Tensor weight = randn(y64.shape(), kFloat64);
                (y64 * weight).sum().backward();
                (y32 * weight.to(kFloat32)).sum().backward();
                lazynn::testing::check_close(y32, y64, 1e-4, 1e-5);
                lazynn::testing::check_close(x32.grad(), x64.grad(), 1e-4, 1e-5);
                lazynn::testing::check_close(k32.grad(), k64.grad(), 1e-4, 1e-4);
            }
        }
    }

    TEST_CASE(
        "batch norm and layer norm kernels match plain tensor-op formulas on every length, forward and backward") {
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            const double tol = dtype == kFloat32 ? 2e-5 : 1e-11;
            for (const std::int64_t len : {2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100}) {
                CAPTURE(len);
                // Layer norm over the last dim, with weight and bias (a row of one element has
                // variance 0, where float32 rounding is amplified by 1 / sqrt(eps)).
                const Tensor x = (randn({6, len}, kFloat64) * 3.0 + 1.0).to(dtype).requires_grad_(true);
                const Tensor wt = randn({len}, kFloat64).to(dtype).requires_grad_(true),
                             bs = randn({len}, kFloat64).to(dtype);
                const Tensor upstream = randn({6, len}, kFloat64).to(dtype);
                (F::layer_norm(x, {len}, wt, bs) * upstream).sum().backward();
                const Tensor x_ref = x.detach().to(kFloat64).requires_grad_(true),
                             w_ref = wt.detach().to(kFloat64).requires_grad_(true);
                const Tensor centred = x_ref - x_ref.mean({1}, true);
                const Tensor normed = centred / (centred.pow(2).mean({1}, true) + 1e-5).sqrt();
                ((normed * w_ref + bs.to(kFloat64)) * upstream.to(kFloat64)).sum().backward();
                lazynn::testing::check_close(x.grad(), x_ref.grad(), tol, tol);
                lazynn::testing::check_close(wt.grad(), w_ref.grad(), tol, tol);

                // Batch norm in training over [N, C, len] (spatial size len).
                nn::BatchNorm1d bn(3);
                if (dtype == kFloat64) bn.to(kFloat64);
                const Tensor xb = randn({4, 3, len}, kFloat64).to(dtype).requires_grad_(true);
                const Tensor ub = randn({4, 3, len}, kFloat64).to(dtype);
                const Tensor yb = bn(xb);
                (yb * ub).sum().backward();
                const Tensor xb_ref = xb.detach().to(kFloat64).requires_grad_(true);
                const Tensor cb = xb_ref - xb_ref.mean({0, 2}, true);
                const Tensor yb_ref = cb / (cb.pow(2).mean({0, 2}, true) + 1e-5).sqrt();
                (yb_ref * ub.to(kFloat64)).sum().backward();
                lazynn::testing::check_close(yb, yb_ref, tol, tol);
                lazynn::testing::check_close(xb.grad(), xb_ref.grad(), tol, tol);
            }
        }
    }
}
