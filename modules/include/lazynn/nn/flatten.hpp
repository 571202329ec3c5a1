#pragma once
// Flatten.

#include <lazynn/module.hpp>

#include <cstdint>

namespace lazynn::nn {

struct FlattenOptions {
    FlattenOptions(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
    FlattenOptions& start_dim(std::int64_t d) { start_dim_ = d; return *this; }
    FlattenOptions& end_dim(std::int64_t d) { end_dim_ = d; return *this; }
    std::int64_t start_dim_;
    std::int64_t end_dim_;
};

/// Merges dims start_dim..end_dim into one.
class Flatten : public Module {
    LAZYNN_MODULE(Flatten)
public:
    explicit Flatten(FlattenOptions options = {});
    Flatten(std::int64_t start_dim, std::int64_t end_dim) : Flatten(FlattenOptions(start_dim, end_dim)) {}
    /// Shapes: input [N, C, H, W] -> output [N, C*H*W] (defaults: start_dim 1, end_dim -1)
    Tensor forward(const Tensor& input) override { return input.flatten(options_.start_dim_, options_.end_dim_); }
    std::string extra_repr() const override;

private:
    FlattenOptions options_;
};

}  // namespace lazynn::nn
