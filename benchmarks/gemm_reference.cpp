// The machine's best float32 GEMM rate on the GEMM-bound inference workload (mlp1024_inference_b512:
// X[512, 1024] W^T twice, then a 10-wide head), as the target of issue 12 defines it: the better of
// oneDNN's dnnl_sgemm with its own OpenMP threads and OpenBLAS's cblas_sgemm with its own threads.
// Run OpenBLAS once more with OPENBLAS_CORETYPE naming the CPU's best core type (run_side_by_side.sh does).
// Usage: gemm_reference [threads]. Prints "name milliseconds" lines like the workload programs.
#include "step_timer.hpp"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <cstdio>
#include <string>
#include <vector>

extern "C" void omp_set_num_threads(int threads);

int main(int argc, char** argv) {
    const int threads = bench::count_arg(argc, argv, "THREADS", 2, 1, 256);
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    const int batch = 512, width = 1024, classes = 10;
    std::vector<float> x(batch * width, 0.5f), w1(width * width, 0.01f), w2(width * width, 0.01f),
        w3(classes * width, 0.01f);
    std::vector<float> h1(batch * width), h2(batch * width), out(batch * classes);
    auto onednn = [&] {
        dnnl_sgemm('N', 'T', batch, width, width, 1.0f, x.data(), width, w1.data(), width, 0.0f, h1.data(), width);
        dnnl_sgemm('N', 'T', batch, width, width, 1.0f, h1.data(), width, w2.data(), width, 0.0f, h2.data(), width);
        dnnl_sgemm('N', 'T', batch, classes, width, 1.0f, h2.data(), width, w3.data(), width, 0.0f, out.data(),
                   classes);
    };
    auto openblas = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, width, width, 1.0f, x.data(), width, w1.data(),
                    width, 0.0f, h1.data(), width);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, width, width, 1.0f, h1.data(), width, w2.data(),
                    width, 0.0f, h2.data(), width);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, classes, width, 1.0f, h2.data(), width, w3.data(),
                    width, 0.0f, out.data(), classes);
    };
    bench::report("gemm_ref_onednn_mlp1024_b512", bench::median_ms(onednn, 5, 50));
    bench::report(std::string("gemm_ref_openblas_") + openblas_get_corename() + "_mlp1024_b512",
                  bench::median_ms(openblas, 5, 50));
    return 0;
}
