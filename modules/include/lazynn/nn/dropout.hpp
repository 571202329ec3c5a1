#pragma once
// Dropout layers: element-wise Dropout, the channel dropouts Dropout1d/2d/3d (one template,
// ChannelDropoutNd<N>) and AlphaDropout. All are the identity in eval mode.

#include <lazynn/arg.hpp>
#include <lazynn/module.hpp>

namespace lazynn::nn {

/// The drop probability of every dropout layer.
struct DropoutOptions {
    DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT(google-explicit-constructor): Dropout(0.2)
    LAZYNN_ARG(double, p);
};

/// While training, zeroes each element with probability p and scales the others by 1/(1-p);
/// in eval mode it is the identity. Throws ValueError for p outside [0, 1].
///
/// Example:
///     nn::Dropout drop(0.2);          // or nn::Dropout(nn::DropoutOptions().p(0.2))
///     drop.eval();                    // now the identity
class Dropout : public Module {
    LAZYNN_MODULE(Dropout)
public:
    explicit Dropout(DropoutOptions options = {});
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const DropoutOptions& options() const { return options_; }
    double p() const { return options_.p(); }

private:
    DropoutOptions options_;
};

/// Zeroes whole channels (dim 1) with probability p while training, scaling the rest by 1/(1-p).
/// N is the number of spatial dims after the channel dim (Dropout1d/2d/3d only name it).
template <std::size_t N>
class ChannelDropoutNd : public Module {
public:
    explicit ChannelDropoutNd(DropoutOptions options);
    /// Shapes: [B, C, *spatial] or [C, *spatial] (N spatial dims) -> same
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const DropoutOptions& options() const { return options_; }

protected:
    DropoutOptions options_;
};

/// Drops whole channels of [B, C, L] (or [C, L]).
///
/// Example:
///     nn::Dropout1d drop(0.1);
class Dropout1d : public ChannelDropoutNd<1> {
    LAZYNN_MODULE(Dropout1d)
public:
    explicit Dropout1d(DropoutOptions options = {}) : ChannelDropoutNd<1>(options) { set_name("Dropout1d"); }
};

/// Drops whole feature maps of [B, C, H, W] (or [C, H, W]).
///
/// Example:
///     nn::Dropout2d drop(0.5);
class Dropout2d : public ChannelDropoutNd<2> {
    LAZYNN_MODULE(Dropout2d)
public:
    explicit Dropout2d(DropoutOptions options = {}) : ChannelDropoutNd<2>(options) { set_name("Dropout2d"); }
};

/// Drops whole volumes of [B, C, D, H, W] (or [C, D, H, W]).
///
/// Example:
///     nn::Dropout3d drop(0.5);
class Dropout3d : public ChannelDropoutNd<3> {
    LAZYNN_MODULE(Dropout3d)
public:
    explicit Dropout3d(DropoutOptions options = {}) : ChannelDropoutNd<3>(options) { set_name("Dropout3d"); }
};

extern template class ChannelDropoutNd<1>;
extern template class ChannelDropoutNd<2>;
extern template class ChannelDropoutNd<3>;

/// Dropout that keeps SELU's self-normalising mean and variance (Klambauer et al.).
///
/// Example:
///     nn::Sequential net(nn::Linear(8, 8), nn::SELU(), nn::AlphaDropout(0.2));
class AlphaDropout : public Module {
    LAZYNN_MODULE(AlphaDropout)
public:
    explicit AlphaDropout(DropoutOptions options = {});
    /// Shapes: [*] -> [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const DropoutOptions& options() const { return options_; }

private:
    DropoutOptions options_;
};

}  // namespace lazynn::nn
