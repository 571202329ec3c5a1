#pragma once
// Weight normalisation and spectral normalisation as parametrizations (PyTorch's
// torch.nn.utils.parametrizations; the machinery is <lazynn/parametrize.hpp>).
//
//     nn::Linear fc(20, 40);
//     nn::parametrizations::spectral_norm(fc);   // fc.weight / sigma_max(fc.weight) at every call
//     nn::LazyConv2d conv(16, 3);
//     nn::parametrizations::weight_norm(conv);   // applied once the first forward sizes the weight
//
// State-dict keys are PyTorch's: `parametrizations.weight.original` with `parametrizations.weight.0._u`
// and `_v` for spectral_norm; `parametrizations.weight.original0` (g) and `original1` (v) for
// weight_norm, as torch.nn.utils.parametrizations.weight_norm (PyTorch >= 2.1) writes them.

#include <lazynn/arg.hpp>
#include <lazynn/parametrize.hpp>
#include <lazynn/typed_module.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace lazynn::nn::parametrizations {

/// spectral_norm's options (PyTorch's spectral_norm(module, name='weight', n_power_iterations=1,
/// eps=1e-12, dim=None)).
struct SpectralNormOptions {
    LAZYNN_ARG(std::string, name) = "weight";
    LAZYNN_ARG(std::int64_t, n_power_iterations) = 1;
    LAZYNN_ARG(double, eps) = 1e-12;
    /// The dimension of the output channels: 0, or 1 for transposed convolutions, when unset.
    LAZYNN_ARG(std::optional<std::int64_t>, dim) = std::nullopt;
};

/// W / sigma(W), sigma the largest singular value of W seen as a matrix [W.size(dim), -1],
/// estimated by power iteration with vectors `_u` [W.size(dim)] and `_v` [numel / W.size(dim)]
/// (buffers): n_power_iterations steps per call in training mode, none in eval mode; 15 when
/// attached, from random unit vectors drawn from this module's seed. A 1-d tensor is divided by
/// its norm instead (no buffers). PyTorch's _SpectralNorm.
class SpectralNorm final : public Cloneable<SpectralNorm, parametrize::Parametrization> {
public:
    /// requires: n_power_iterations > 0 (ValueError otherwise).
    SpectralNorm(std::int64_t n_power_iterations, std::int64_t dim, double eps);

    /// Shapes: weight [d0, d1, ...] -> the same.
    Tensor forward(const Tensor& weight) override;
    /// requires: dim within the weight's dimensions (IndexError otherwise).
    /// ensures: for 2 or more dimensions, `_u` and `_v` registered and 15 power steps taken.
    void attach(const Tensor& weight) override;
    /// The identity: a spectrally normalised weight is stored as given.
    std::optional<std::vector<Tensor>> right_inverse(const Tensor& value) override;

private:
    Tensor as_matrix(const Tensor& weight) const;
    void power_method(const Tensor& weight_matrix, std::int64_t iterations);

    std::int64_t n_power_iterations_;
    std::int64_t dim_;  // as given; made non-negative on attach
    double eps_;
};

/// v * (g / ||v||), the norm over every dimension but `dim` (over all of them for dim = -1, as
/// PyTorch's norm_except_dim), from originals g (`original0`) and v (`original1`). PyTorch's
/// _WeightNorm.
class WeightNorm final
    : public Cloneable<WeightNorm, TypedModule<Tensor(const Tensor&, const Tensor&), parametrize::Parametrization>> {
public:
    explicit WeightNorm(std::int64_t dim);

    /// Shapes: g [the norm's shape: v's size at dim, ones elsewhere; [] for dim = -1], v [*] -> [*].
    Tensor forward(const Tensor& g, const Tensor& v) override;
    /// {||weight|| over every dimension but dim (keepdim), weight}.
    std::optional<std::vector<Tensor>> right_inverse(const Tensor& weight) override;
    std::int64_t dim() const { return dim_; }

private:
    std::int64_t dim_;
};

/// ||v|| over every dimension except `dim` (kept as size 1), or over all of them for dim = -1
/// (a 0-dim tensor): PyTorch's torch.norm_except_dim(v, 2, dim).
Tensor norm_except_dim(const Tensor& v, std::int64_t dim);

/// Registers SpectralNorm on `module`'s tensor `options.name()` and returns the module; on a lazy
/// module it applies once the tensor materialises (PyTorch raises ValueError there).
///   requires: the tensor exists (ValueError, PyTorch's message); n_power_iterations > 0.
Module& spectral_norm(Module& module, const SpectralNormOptions& options = {});

/// Registers WeightNorm on `module`'s tensor `name` (unsafe: g has another shape) and returns the
/// module. dim = std::nullopt normalises over the whole tensor (PyTorch's dim=None, i.e. -1).
/// On a lazy module it applies once the tensor materialises; g and v are new parameters then, so
/// build the optimizer after the first forward (or initialize()).
Module& weight_norm(Module& module, const std::string& name = "weight", std::optional<std::int64_t> dim = 0);

}  // namespace lazynn::nn::parametrizations
