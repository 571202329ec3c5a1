#pragma once
// The SIMD kernel families (internal): class templates on an xsimd architecture, declared here
// for the callers and defined in *_simd.hpp headers that only the per-architecture translation
// units (simd/arch_*.cpp) include; each of those instantiates every family for its architecture.
// Callers pick the instantiation with simd::dispatch() (simd/dispatch.hpp).
//
// Member functions are overloads for float and double (not templates) so that one explicit
// instantiation of the class template compiles all of them.

#include <cstdint>

namespace lazynn::ops::detail {
struct ConvGeometry;
}

namespace lazynn::simd {

/// Elementwise math of Tensor's unary ops (framework/src/ops/unary.cpp).
enum class MathFunction { exp, log, sin, cos, sqrt };

/// y = f(x) over n elements, with libm's (and PyTorch's) values at NaN, ±inf and -0.0.
template <class Arch>
struct MathKernels {
    static void map(MathFunction f, const float* x, float* y, std::int64_t n);
    static void map(MathFunction f, const double* x, double* y, std::int64_t n);
    /// y = x where beta x > threshold, else log1p(exp(beta x)) / beta (PyTorch's softplus).
    static void softplus(const float* x, float* y, std::int64_t n, double beta, double threshold);
    static void softplus(const double* x, double* y, std::int64_t n, double beta, double threshold);
};

/// float32 activations (ops/activation_kernels.hpp documents each).
template <class Arch>
struct ActivationKernels {
    static void gelu_forward(const float* x, float* y, std::int64_t n, bool tanh_approximation);
    static void gelu_backward(const float* grad_y, const float* x, float* grad_x, std::int64_t n,
                              bool tanh_approximation);
    static void tanh_forward(const float* x, float* y, std::int64_t n);
    static void sigmoid_forward(const float* x, float* y, std::int64_t n);
    static void silu_forward(const float* x, float* y, std::int64_t n);
    static void silu_backward(const float* grad_y, const float* x, float* grad_x, std::int64_t n);
};

/// The fused ReLU (ops/fused_relu.hpp).
template <class Arch>
struct ReluKernels {
    static void relu(float* values, std::int64_t n);
    static void relu(double* values, std::int64_t n);
    /// On bfloat16 bit patterns: negatives other than -0.0 become +0.0, NaN stays.
    static void relu(std::uint16_t* bfloat16_bits, std::int64_t n);
    static void relu_backward(const float* grad, const float* output, float* out, std::int64_t n);
    static void relu_backward(const double* grad, const double* output, double* out, std::int64_t n);
};

/// 2x2 / stride 2 max pooling (ops/pooling_kernels.hpp). Rows need at least one
/// register of windows: callers pick the architecture with dispatch_fitting(ow).
template <class Arch>
struct MaxPool2x2Kernels {
    static void forward(const float* input, float* output, std::int64_t planes, std::int64_t h, std::int64_t w);
    static void forward(const double* input, double* output, std::int64_t planes, std::int64_t h, std::int64_t w);
    static void backward(const float* input, const float* grad_output, float* grad_input, std::int64_t planes,
                         std::int64_t h, std::int64_t w);
    static void backward(const double* input, const double* grad_output, double* grad_input, std::int64_t planes,
                         std::int64_t h, std::int64_t w);
};

/// Batch norm + ReLU + 2x2 / stride-2 max pooling (ops/batch_norm_pool_kernels.hpp documents
/// each; bfloat16_output only with float). Rows need at least one register of windows: callers
/// pick the architecture with dispatch_fitting(w / 2).
template <class Arch>
struct BatchNormPoolKernels {
    static void forward(const float* x, float* out, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                        std::int64_t first, std::int64_t end, const double* scale, const double* shift,
                        bool bfloat16_output);
    static void forward(const double* x, double* out, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                        std::int64_t first, std::int64_t end, const double* scale, const double* shift,
                        bool bfloat16_output);
    static void backward(const float* x, const float* grad_out, float* grad_x, std::int64_t n, std::int64_t c,
                         std::int64_t h, std::int64_t w, std::int64_t first, std::int64_t end, const double* scale,
                         const double* shift, const double* mean, const double* invstd, const double* weight,
                         bool batch_statistics, double* sum_dy, double* sum_dy_xhat, bool bfloat16_output);
    static void backward(const double* x, const double* grad_out, double* grad_x, std::int64_t n, std::int64_t c,
                         std::int64_t h, std::int64_t w, std::int64_t first, std::int64_t end, const double* scale,
                         const double* shift, const double* mean, const double* invstd, const double* weight,
                         bool batch_statistics, double* sum_dy, double* sum_dy_xhat, bool bfloat16_output);
};

/// Row normalisation and batch norm (ops/norm_kernels.hpp documents each).
template <class Arch>
struct NormKernels {
    static void normalize_rows_forward(const float* x, const float* weight, const float* bias, float* y, double* mean,
                                       double* invstd, std::int64_t rows, std::int64_t len, double eps);
    static void normalize_rows_forward(const double* x, const double* weight, const double* bias, double* y,
                                       double* mean, double* invstd, std::int64_t rows, std::int64_t len, double eps);
    static void normalize_rows_backward(const float* x, const float* g, const float* weight, const double* mean,
                                        const double* invstd, float* grad_x, double* grad_weight, double* grad_bias,
                                        std::int64_t rows, std::int64_t len);
    static void normalize_rows_backward(const double* x, const double* g, const double* weight, const double* mean,
                                        const double* invstd, double* grad_x, double* grad_weight, double* grad_bias,
                                        std::int64_t rows, std::int64_t len);
    static void batch_norm_statistics(const float* x, std::int64_t n, std::int64_t c, std::int64_t s,
                                      std::int64_t first, std::int64_t end, double* mean, double* var);
    static void batch_norm_statistics(const double* x, std::int64_t n, std::int64_t c, std::int64_t s,
                                      std::int64_t first, std::int64_t end, double* mean, double* var);
    static void batch_norm_transform(const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t s,
                                     std::int64_t first, std::int64_t end, const double* scale, const double* shift,
                                     bool relu);
    static void batch_norm_transform(const double* x, double* y, std::int64_t n, std::int64_t c, std::int64_t s,
                                     std::int64_t first, std::int64_t end, const double* scale, const double* shift,
                                     bool relu);
    static void batch_norm_backward(const float* x, const float* g, const float* relu_output, float* grad_x,
                                    std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                                    std::int64_t end, const double* mean, const double* invstd, const double* weight,
                                    bool batch_statistics, double* sum_dy, double* sum_dy_xhat);
    static void batch_norm_backward(const double* x, const double* g, const double* relu_output, double* grad_x,
                                    std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                                    std::int64_t end, const double* mean, const double* invstd, const double* weight,
                                    bool batch_statistics, double* sum_dy, double* sum_dy_xhat);
};

/// float32 <-> bfloat16 conversion over arrays of bfloat16 bit patterns (ops/bfloat16_conversion.hpp).
template <class Arch>
struct BFloat16ConversionKernels {
    static void widen(const std::uint16_t* bits, float* out, std::int64_t n);
    static void narrow(const float* in, std::uint16_t* bits, std::int64_t n);
    static void round(float* values, std::int64_t n, bool relu);
};

/// 16-bit values between channel planes and a 16-channel block (ops/channel_blocks.hpp).
template <class Arch>
struct ChannelBlockKernels {
    static void to_block(const std::uint16_t* planes, std::int64_t plane_stride, std::int64_t channels,
                         std::int64_t pixels, std::uint16_t* block);
    static void from_block(const std::uint16_t* block, std::int64_t channels, std::int64_t pixels,
                           std::uint16_t* planes, std::int64_t plane_stride);
};

/// im2col / col2im of one sample and group (ops/im2col.hpp).
template <class Arch>
struct Im2colKernels {
    using ConvGeometry = ops::detail::ConvGeometry;
    static void im2col(const ConvGeometry& s, const float* input, std::int64_t n, std::int64_t g, float* cols);
    static void im2col(const ConvGeometry& s, const double* input, std::int64_t n, std::int64_t g, double* cols);
    static void col2im(const ConvGeometry& s, const float* cols, std::int64_t n, std::int64_t g, float* grad_input);
    static void col2im(const ConvGeometry& s, const double* cols, std::int64_t n, std::int64_t g, double* grad_input);
};

}  // namespace lazynn::simd
