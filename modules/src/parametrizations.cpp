// SpectralNorm, WeightNorm and the functions that register them.
#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/conv.hpp>
#include <lazynn/nn/parametrizations.hpp>

#include <numeric>

namespace lazynn::nn::parametrizations {
namespace {

/// x / max(||x||, eps): PyTorch's F.normalize(x, dim=0, eps=eps) for a vector.
Tensor normalized(const Tensor& x, double eps) { return x / x.norm().clamp_min(eps); }

/// W [h, w] times the vector x [w] -> [h].
Tensor matrix_vector(const Tensor& w, const Tensor& x) { return w.matmul(x.unsqueeze(1)).squeeze(1); }

/// Whether `module` has tensor `name` of its own: a parameter, a buffer or a parametrized one.
bool has_tensor(const Module& module, const std::string& name) {
    if (parametrize::is_parametrized(module, name)) return true;
    for (const auto& [n, p] : module.named_parameters("", false)) {
        if (n == name) return true;
    }
    for (const auto& [n, b] : module.named_buffers("", false)) {
        if (n == name) return true;
    }
    return false;
}

bool is_transposed_convolution(const Module& module) {
    return dynamic_cast<const ConvTranspose1d*>(&module) || dynamic_cast<const ConvTranspose2d*>(&module) ||
           dynamic_cast<const ConvTranspose3d*>(&module);
}

}  // namespace

// ---- SpectralNorm ----

SpectralNorm::SpectralNorm(std::int64_t n_power_iterations, std::int64_t dim, double eps)
    : n_power_iterations_(n_power_iterations), dim_(dim), eps_(eps) {
    set_name("_SpectralNorm");
    if (n_power_iterations <= 0) {
        throw ValueError("Expected n_power_iterations to be positive, but got n_power_iterations=" +
                         std::to_string(n_power_iterations));
    }
}

void SpectralNorm::attach(const Tensor& weight) {
    const std::int64_t ndim = weight.dim();
    if (dim_ >= ndim || dim_ < -ndim) {
        throw IndexError("Dimension out of range (expected to be in range of [-" + std::to_string(ndim) + ", " +
                         std::to_string(ndim - 1) + "] but got " + std::to_string(dim_) + ")");
    }
    if (dim_ < 0) dim_ += ndim;
    if (ndim <= 1) return;
    // Random unit vectors, refined by 15 steps so that the first forward starts from a good
    // estimate (PyTorch's choice); drawn from this module's seed like every initialisation.
    NoGradGuard no_grad;
    const Tensor matrix = as_matrix(weight);
    Generator generator = init_generator();
    Tensor u = empty({matrix.shape()[0]}, weight.dtype());
    Tensor v = empty({matrix.shape()[1]}, weight.dtype());
    init::normal_(u, 0.0, 1.0, generator);
    init::normal_(v, 0.0, 1.0, generator);
    register_buffer("_u", normalized(u, eps_));
    register_buffer("_v", normalized(v, eps_));
    power_method(matrix, 15);
}

Tensor SpectralNorm::as_matrix(const Tensor& weight) const {
    if (dim_ == 0) return weight.flatten(1);
    Shape order{dim_};
    for (std::int64_t d = 0; d < weight.dim(); ++d) {
        if (d != dim_) order.push_back(d);
    }
    return weight.permute(order).flatten(1);
}

void SpectralNorm::power_method(const Tensor& weight_matrix, std::int64_t iterations) {
    NoGradGuard no_grad;
    Buffer& u = get_buffer("_u");
    Buffer& v = get_buffer("_v");
    for (std::int64_t i = 0; i < iterations; ++i) {
        u.copy_(normalized(matrix_vector(weight_matrix, v), eps_));
        v.copy_(normalized(matrix_vector(weight_matrix.t(), u), eps_));
    }
}

Tensor SpectralNorm::forward(const Tensor& weight) {
    if (weight.dim() == 1) return normalized(weight, eps_);
    const Tensor matrix = as_matrix(weight);
    if (is_training()) power_method(matrix.detach(), n_power_iterations_);
    // Copies, so the next call's in-place power steps do not touch what backward saved.
    const Tensor u = get_buffer("_u").clone();
    const Tensor v = get_buffer("_v").clone();
    const Tensor sigma = u.dot(matrix_vector(matrix, v));
    return weight / sigma;
}

std::optional<std::vector<Tensor>> SpectralNorm::right_inverse(const Tensor& value) {
    return std::vector<Tensor>{value};
}

// ---- WeightNorm ----

Tensor norm_except_dim(const Tensor& v, std::int64_t dim) {
    if (dim == -1) return v.norm(2.0);
    const std::int64_t d = dim < 0 ? dim + v.dim() : dim;
    if (d < 0 || d >= v.dim()) {
        throw IndexError("norm_except_dim: dim " + std::to_string(dim) + " is out of range for a tensor of " +
                         std::to_string(v.dim()) + " dimensions");
    }
    Shape others;
    for (std::int64_t i = 0; i < v.dim(); ++i) {
        if (i != d) others.push_back(i);
    }
    return v.norm(2.0, others, /*keepdim=*/true);
}

WeightNorm::WeightNorm(std::int64_t dim) : dim_(dim) { set_name("_WeightNorm"); }

Tensor WeightNorm::forward(const Tensor& g, const Tensor& v) { return v * (g / norm_except_dim(v, dim_)); }

std::optional<std::vector<Tensor>> WeightNorm::right_inverse(const Tensor& weight) {
    return std::vector<Tensor>{norm_except_dim(weight, dim_), weight};
}

// ---- registration ----

Module& spectral_norm(Module& module, const SpectralNormOptions& options) {
    if (!has_tensor(module, options.name())) {
        throw ValueError("Module '" + module.name() + "' has no parameter or buffer with name '" + options.name() +
                         "'");
    }
    const std::int64_t dim = options.dim().value_or(is_transposed_convolution(module) ? 1 : 0);
    return parametrize::register_parametrization(module, options.name(),
                                                 SpectralNorm(options.n_power_iterations(), dim, options.eps()));
}

Module& weight_norm(Module& module, const std::string& name, std::optional<std::int64_t> dim) {
    return parametrize::register_parametrization(module, name, WeightNorm(dim.value_or(-1)), /*unsafe=*/true);
}

}  // namespace lazynn::nn::parametrizations
