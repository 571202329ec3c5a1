#include <lazynn/error.hpp>
#include <lazynn/nn/activation.hpp>

namespace lazynn::nn {

GELU::GELU(GELUOptions options) : options_(std::move(options)) {
    set_name("GELU");
    if (options_.approximate_ != "none" && options_.approximate_ != "tanh") {
        throw ValueError("GELU: approximate must be 'none' or 'tanh', got '" + options_.approximate_ + "'");
    }
}

}  // namespace lazynn::nn
