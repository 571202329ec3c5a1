#pragma once
// Dropout.

#include <lazynn/module.hpp>

namespace lazynn::nn {

struct DropoutOptions {
    DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT: Dropout(0.2)
    DropoutOptions& p(double v) { p_ = v; return *this; }
    double p_;
};

/// While training, zeroes each element with probability p and scales the others by 1/(1-p);
/// in eval mode it is the identity.
class Dropout : public Module {
    LAZYNN_MODULE(Dropout)
public:
    explicit Dropout(DropoutOptions options = {});
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    double p() const { return options_.p_; }

private:
    DropoutOptions options_;
};

}  // namespace lazynn::nn
