#include "ops/gemm_bf16.hpp"

#include "ops/fused_relu.hpp"
#include "ops/gemm.hpp"
#include "ops/onednn.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>

namespace lazynn::kernels {
namespace {

using dnnl::memory;

/// The matmul primitive of one block's problem: transposes, sizes, leading dimensions, output type and
/// bias. oneDNN reads the strided operands in place, so transposed views are never copied.
using Key = std::array<std::int64_t, 10>;

struct Plan {
    dnnl::matmul primitive;
    memory::desc a, b, bias, c, scratchpad;
};

std::unique_ptr<Plan> make_plan(const Key& key) {
    const auto [ta, tb, m, n, k, lda, ldb, ldc, bf16_out, bias] = key;
    const auto bf16 = memory::data_type::bf16, f32 = memory::data_type::f32;
    auto plan = std::make_unique<Plan>();
    // Row-major A is [m, k] with strides (lda, 1); transposed, it is stored [k, m]: strides (1, lda).
    plan->a = memory::desc({m, k}, bf16, ta ? memory::dims{1, lda} : memory::dims{lda, 1});
    plan->b = memory::desc({k, n}, bf16, tb ? memory::dims{1, ldb} : memory::dims{ldb, 1});
    plan->c = memory::desc({m, n}, bf16_out ? bf16 : f32, memory::dims{ldc, 1});
    if (bias) plan->bias = memory::desc({1, n}, f32, memory::dims{n, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // onednn::execute: per-thread scratchpads
    const auto desc = bias ? dnnl::matmul::desc(plan->a, plan->b, plan->bias, plan->c)
                           : dnnl::matmul::desc(plan->a, plan->b, plan->c);
    const dnnl::matmul::primitive_desc pd(desc, attr, onednn::engine());
    plan->primitive = dnnl::matmul(pd);
    plan->scratchpad = pd.scratchpad_desc();
    return plan;
}

/// Plans are kept per problem: a model meets few distinct ones. A stream of new shapes (varying
/// sequence lengths) empties the cache rather than growing it without bound; a plan another thread is
/// still running stays alive through that thread's reference.
std::shared_ptr<const Plan> plan_for(const Key& key) {
    static std::mutex mutex;
    static std::map<Key, std::shared_ptr<const Plan>> plans;
    constexpr std::size_t kMaxPlans = 512;
    std::lock_guard lock(mutex);
    auto it = plans.find(key);
    if (it == plans.end()) {
        if (plans.size() >= kMaxPlans) plans.clear();
        it = plans.emplace(key, make_plan(key)).first;
    }
    return it->second;
}

template <class Out>
void block_bf16(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const BFloat16* a, std::int64_t lda,
                const BFloat16* b, std::int64_t ldb, const float* bias, bool relu, Out* c, std::int64_t ldc) {
    const Key key{ta, tb, m, n, k, lda, ldb, ldc, std::is_same_v<Out, BFloat16>, bias != nullptr};
    const auto plan = plan_for(key);
    const dnnl::engine& engine = onednn::engine();
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(plan->a, engine, const_cast<BFloat16*>(a))},
                                         {DNNL_ARG_WEIGHTS, memory(plan->b, engine, const_cast<BFloat16*>(b))},
                                         {DNNL_ARG_DST, memory(plan->c, engine, c)}};
    if (bias) args.emplace(DNNL_ARG_BIAS, memory(plan->bias, engine, const_cast<float*>(bias)));
    onednn::execute(plan->primitive, plan->scratchpad, std::move(args));
    // PyTorch's ReLU, while the block is in cache: negatives become +0.0 (oneDNN's relu post-op gives
    // -0.0), NaN and -0.0 stay.
    if (relu) {
        for (std::int64_t i = 0; i < m; ++i) ops::detail::relu_span(c + i * ldc, n);
    }
}

/// Below this many multiply-adds a oneDNN primitive call costs more than the product (batches of
/// 8x8 pooling matrices ran 0.6 us a call): widen into the thread's buffers and run sgemm instead.
constexpr double kSmallGemm = 32.0 * 32.0 * 32.0;

template <class Out>
void small_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const BFloat16* a, std::int64_t lda,
                const BFloat16* b, std::int64_t ldb, const float* bias, bool relu, Out* c, std::int64_t ldc) {
    const auto count = [](std::int64_t rows, std::int64_t cols) { return static_cast<std::size_t>(rows * cols); };
    auto* wa = static_cast<float*>(onednn::thread_buffer(onednn::kSrcBuffer, count(m, k) * sizeof(float)));
    auto* wb = static_cast<float*>(onednn::thread_buffer(onednn::kWeightsBuffer, count(k, n) * sizeof(float)));
    auto* wc = static_cast<float*>(onednn::thread_buffer(onednn::kDstBuffer, count(m, n) * sizeof(float)));
    for (std::int64_t i = 0; i < m; ++i) {  // op(A) and op(B), row-major and widened
        for (std::int64_t p = 0; p < k; ++p) wa[i * k + p] = static_cast<float>(ta ? a[p * lda + i] : a[i * lda + p]);
    }
    for (std::int64_t p = 0; p < k; ++p) {
        for (std::int64_t j = 0; j < n; ++j) wb[p * n + j] = static_cast<float>(tb ? b[j * ldb + p] : b[p * ldb + j]);
    }
    onednn::sgemm(false, false, m, n, k, 1.0f, wa, k, wb, n, 0.0f, wc, n);
    for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < n; ++j) {
            float v = wc[i * n + j] + (bias ? bias[j] : 0.0f);
            c[i * ldc + j] = Out(relu && v < 0.0f ? 0.0f : v);
        }
    }
}

}  // namespace

template <class Out>
void gemm_bf16(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const BFloat16* a, std::int64_t lda,
               const BFloat16* b, std::int64_t ldb, const float* bias, bool relu, Out* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {  // an empty sum (oneDNN rejects K = 0): the bias, or zeros
        for (std::int64_t i = 0; i < m; ++i) {
            for (std::int64_t j = 0; j < n; ++j) {
                const float v = bias ? bias[j] : 0.0f;
                c[i * ldc + j] = Out(relu ? std::max(v, 0.0f) : v);
            }
        }
        return;
    }
    if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kSmallGemm) {
        small_gemm(ta, tb, m, n, k, a, lda, b, ldb, bias, relu, c, ldc);
        return;
    }
    onednn::use_calling_thread_only();
    try {
        split_gemm(m, n, k, [&](std::int64_t m0, std::int64_t rows, std::int64_t n0, std::int64_t cols) {
            onednn::use_calling_thread_only();
            block_bf16(ta, tb, rows, cols, k, ta ? a + m0 : a + m0 * lda, lda, tb ? b + n0 * ldb : b + n0, ldb,
                       bias ? bias + n0 : nullptr, relu, c + m0 * ldc + n0, ldc);
        });
    } catch (const dnnl::error& e) {
        onednn::rethrow("bfloat16 GEMM", e);
    }
}

template void gemm_bf16<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const BFloat16*, std::int64_t,
                               const BFloat16*, std::int64_t, const float*, bool, float*, std::int64_t);
template void gemm_bf16<BFloat16>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const BFloat16*, std::int64_t,
                                  const BFloat16*, std::int64_t, const float*, bool, BFloat16*, std::int64_t);

}  // namespace lazynn::kernels
