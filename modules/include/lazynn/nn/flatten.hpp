#pragma once
// Flatten.

#include <lazynn/arg.hpp>
#include <lazynn/module.hpp>

#include <cstdint>

namespace lazynn::nn {

struct FlattenOptions {
    LAZYNN_ARG(std::int64_t, start_dim) = 1;
    LAZYNN_ARG(std::int64_t, end_dim) = -1;
};

/// Merges dims start_dim..end_dim into one.
///
/// Example:
///     nn::Flatten flat;                                        // [N, C, H, W] -> [N, C*H*W]
///     nn::Flatten all(nn::FlattenOptions().start_dim(0));      // -> [N*C*H*W]
class Flatten : public Module {
    LAZYNN_MODULE(Flatten)
public:
    explicit Flatten(FlattenOptions options = {});
    Flatten(std::int64_t start_dim, std::int64_t end_dim)
        : Flatten(FlattenOptions().start_dim(start_dim).end_dim(end_dim)) {}
    /// Shapes: input [N, C, H, W] -> output [N, C*H*W] (defaults: start_dim 1, end_dim -1)
    Tensor forward(const Tensor& input) override { return input.flatten(options_.start_dim(), options_.end_dim()); }
    std::string extra_repr() const override;
    const FlattenOptions& options() const { return options_; }

private:
    FlattenOptions options_;
};

}  // namespace lazynn::nn
