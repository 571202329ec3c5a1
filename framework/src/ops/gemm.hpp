#pragma once
// The one GEMM entry point of every kernel (internal): row-major C = alpha op(A) op(B) + beta C
// through OpenBLAS, transposes passed as flags. OpenBLAS runs single-threaded (parallel.hpp);
// a GEMM big enough to pay for waking a worker is split across lazynn's threads by rows of C (or
// by columns when C is wide and short, like a batch-1 forward), each part one OpenBLAS call.

#include "parallel.hpp"

#include <cblas.h>

#include <cstdint>
#include <type_traits>

namespace lazynn::kernels {

/// Below this many flops a GEMM runs on the calling thread.
inline constexpr double kParallelGemmFlops = 2.0e5;

template <class T>
void blas_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b,
               std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "BLAS GEMM needs float or double");
    const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n), K = static_cast<blasint>(k);
    // One row or one column of C is a matrix-vector product: GEMV reads the matrix in place,
    // where GEMM would first pack all of it (most of a batch-1 forward's time).
    auto gemv = [&](CBLAS_TRANSPOSE trans, blasint rows, blasint cols, const T* matrix, std::int64_t ld, const T* x, std::int64_t incx,
                    T* y, std::int64_t incy) {
        if constexpr (std::is_same_v<T, float>) {
            cblas_sgemv(CblasRowMajor, trans, rows, cols, alpha, matrix, static_cast<blasint>(ld), x, static_cast<blasint>(incx), beta, y,
                        static_cast<blasint>(incy));
        } else {
            cblas_dgemv(CblasRowMajor, trans, rows, cols, alpha, matrix, static_cast<blasint>(ld), x, static_cast<blasint>(incx), beta, y,
                        static_cast<blasint>(incy));
        }
    };
    if (m == 1 && k > 0) {   // c[1, n] = a[1, k] op(B)
        const std::int64_t inca = ta ? lda : 1;
        if (tb) gemv(CblasNoTrans, N, K, b, ldb, a, inca, c, 1);   // B is [n, k]
        else gemv(CblasTrans, K, N, b, ldb, a, inca, c, 1);        // B is [k, n]
        return;
    }
    if (n == 1 && k > 0) {   // c[m, 1] = op(A) b[k, 1]
        const std::int64_t incb = tb ? 1 : ldb;
        if (ta) gemv(CblasTrans, K, M, a, lda, b, incb, c, ldc);  // A is [k, m]
        else gemv(CblasNoTrans, M, K, a, lda, b, incb, c, ldc);   // A is [m, k]
        return;
    }
    if constexpr (std::is_same_v<T, float>) {
        cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                    static_cast<blasint>(ldc));
    } else {
        cblas_dgemm(CblasRowMajor, TA, TB, M, N, K, alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                    static_cast<blasint>(ldc));
    }
}

template <class T>
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda, const T* b,
          std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    // A block of C: rows [m0, m0 + rows) and columns [n0, n0 + cols).
    auto block = [&](std::int64_t m0, std::int64_t rows, std::int64_t n0, std::int64_t cols) {
        const T* ap = ta ? a + m0 : a + m0 * lda;
        const T* bp = tb ? b + n0 * ldb : b + n0;
        blas_gemm<T>(ta, tb, rows, cols, k, alpha, ap, lda, bp, ldb, beta, c + m0 * ldc + n0, ldc);
    };
    const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    if (flops < kParallelGemmFlops || lazynn::detail::intra_op_threads() < 2) {
        block(0, m, 0, n);
    } else if (m >= n || m >= 64) {
        lazynn::detail::parallel_for(m, 16, [&](std::int64_t first, std::int64_t end) { block(first, end - first, 0, n); });
    } else {
        lazynn::detail::parallel_for(n, 16, [&](std::int64_t first, std::int64_t end) { block(0, m, first, end - first); });
    }
}

}  // namespace lazynn::kernels
