#include "python_repr.hpp"

#include <lazynn/error.hpp>
#include <lazynn/nn/dropout.hpp>
#include <lazynn/nn/functional.hpp>


namespace lazynn::nn {

Dropout::Dropout(DropoutOptions options) : options_(options) {
    set_name("Dropout");
    if (options.p_ < 0.0 || options.p_ > 1.0) {
        throw ValueError("dropout probability has to be between 0 and 1, but got " + std::to_string(options.p_));
    }
}

Tensor Dropout::forward(const Tensor& input) { return functional::dropout(input, options_.p_, is_training()); }

std::string Dropout::extra_repr() const { return "p=" + detail::python_float(options_.p_) + ", inplace=False"; }

}  // namespace lazynn::nn
