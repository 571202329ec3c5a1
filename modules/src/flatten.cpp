#include <lazynn/nn/flatten.hpp>

namespace lazynn::nn {

Flatten::Flatten(FlattenOptions options) : options_(options) { set_name("Flatten"); }

std::string Flatten::extra_repr() const {
    return "start_dim=" + std::to_string(options_.start_dim()) + ", end_dim=" + std::to_string(options_.end_dim());
}

}  // namespace lazynn::nn
