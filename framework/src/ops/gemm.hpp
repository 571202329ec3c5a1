#pragma once
// The one GEMM entry point of every kernel (internal): row-major C = alpha op(A) op(B) + beta C,
// transposes passed as flags. float32 runs on oneDNN's dnnl_sgemm, which picks its kernels from
// the CPU's instruction set itself; float64, which oneDNN lacks, runs on OpenBLAS. Both run
// single-threaded per call (ops/onednn.hpp, parallel.hpp); a GEMM big enough to pay for waking a
// worker is split across lazynn's threads by rows of C (or by columns when C is wide and short,
// like a batch-1 forward), each part one call.

#include "ops/onednn.hpp"
#include "parallel.hpp"

#include <cblas.h>

#include <cstdint>
#include <type_traits>

namespace lazynn::kernels {

/// Below this many flops a GEMM runs on the calling thread.
inline constexpr double kParallelGemmFlops = 2.0e5;

/// float64 on OpenBLAS: oneDNN has no double-precision GEMM.
inline void dgemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* a,
                  std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c, std::int64_t ldc) {
    const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
    // One row or one column of C is a matrix-vector product: GEMV reads the matrix in place,
    // where GEMM would first pack all of it.
    auto gemv = [&](CBLAS_TRANSPOSE trans, blasint rows, blasint cols, const double* matrix, std::int64_t ld,
                    const double* x, std::int64_t incx, double* y, std::int64_t incy) {
        cblas_dgemv(CblasRowMajor, trans, rows, cols, alpha, matrix, static_cast<blasint>(ld), x,
                    static_cast<blasint>(incx), beta, y, static_cast<blasint>(incy));
    };
    if (m == 1 && k > 0) {  // c[1, n] = a[1, k] op(B)
        const std::int64_t inca = ta ? lda : 1;
        if (tb)
            gemv(CblasNoTrans, N, K, b, ldb, a, inca, c, 1);  // B is [n, k]
        else
            gemv(CblasTrans, K, N, b, ldb, a, inca, c, 1);  // B is [k, n]
        return;
    }
    if (n == 1 && k > 0) {  // c[m, 1] = op(A) b[k, 1]
        const std::int64_t incb = tb ? 1 : ldb;
        if (ta)
            gemv(CblasTrans, K, M, a, lda, b, incb, c, ldc);  // A is [k, m]
        else
            gemv(CblasNoTrans, M, K, a, lda, b, incb, c, ldc);  // A is [m, k]
        return;
    }
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, a,
                static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

/// One single-threaded GEMM call on the backend for T.
template <class T>
void blas_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
               const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "GEMM needs float or double");
    if constexpr (std::is_same_v<T, float>)
        onednn::sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// Runs block(m0, rows, n0, cols) over blocks of an [m, n] result that together cover it: one block
/// on the calling thread when the GEMM is too small to pay for waking a worker, else bands of rows
/// (or of columns when C is wide and short, like a batch-1 forward) across lazynn's threads.
template <class Block>
void split_gemm(std::int64_t m, std::int64_t n, std::int64_t k, Block&& block) {
    const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    if (flops < kParallelGemmFlops || lazynn::detail::intra_op_threads() < 2) {
        block(0, m, 0, n);
    } else if (m >= n || m >= 64) {
        lazynn::detail::parallel_for(m, 16,
                                     [&](std::int64_t first, std::int64_t end) { block(first, end - first, 0, n); });
    } else {
        lazynn::detail::parallel_for(n, 16,
                                     [&](std::int64_t first, std::int64_t end) { block(0, m, first, end - first); });
    }
}

template <class T>
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
          const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    // A block of C: rows [m0, m0 + rows) and columns [n0, n0 + cols).
    split_gemm(m, n, k, [&](std::int64_t m0, std::int64_t rows, std::int64_t n0, std::int64_t cols) {
        const T* ap = ta ? a + m0 : a + m0 * lda;
        const T* bp = tb ? b + n0 * ldb : b + n0;
        blas_gemm<T>(ta, tb, rows, cols, k, alpha, ap, lda, bp, ldb, beta, c + m0 * ldc + n0, ldc);
    });
}

}  // namespace lazynn::kernels
