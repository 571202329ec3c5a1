// The op author's API (lazynn/extension.hpp) over the core's internal building blocks.
#include "autograd/function_node.hpp"
#include "ops/gemm.hpp"
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/extension.hpp>

namespace lazynn::extension {

bool needs_grad(std::initializer_list<const Tensor*> inputs) { return autograd::detail::needs_grad(inputs); }

void record_backward(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn backward,
                     bool saves_tensors, bool differentiable) {
    if (differentiable) {
        autograd::detail::record(out, name, inputs, std::move(backward), saves_tensors,
                                 autograd::detail::kDifferentiable);
    } else {
        autograd::detail::record(out, name, inputs, std::move(backward), saves_tensors);
    }
}

Tensor contiguous_data(const Tensor& t) { return lazynn::detail::contiguous_data(t); }

void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn) {
    lazynn::detail::parallel_for(n, grain, fn);
}

void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    kernels::gemm<float>(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
          std::int64_t ldc) {
    kernels::gemm<double>(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace lazynn::extension
