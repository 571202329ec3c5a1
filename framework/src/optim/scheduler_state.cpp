#include "scheduler_state.hpp"

#include <cmath>

namespace lazynn::optim::detail {

double stored_number(const StateDict& state, const std::string& key, const char* who) {
    const Tensor& t = state.at(key);
    if (!t.defined() || is_lazy(t) || t.numel() != 1)
        throw ValueError(std::string(who) + " load_state_dict: '" + key + "' must hold one number");
    const double v = t.item<double>();
    if (!std::isfinite(v))
        throw ValueError(std::string(who) + " load_state_dict: '" + key + "' is not finite (" + std::to_string(v) +
                         ")");
    return v;
}

std::int64_t stored_count(const StateDict& state, const std::string& key, const char* who) {
    const Tensor& t = state.at(key);
    if (!t.defined() || is_lazy(t) || t.numel() != 1)
        throw ValueError(std::string(who) + " load_state_dict: '" + key + "' must hold one number");
    const double v = t.item<double>();
    // 2^53: beyond it float64 no longer holds every integer, and no schedule runs that long.
    if (!(std::abs(v) <= 9007199254740992.0) || v != std::floor(v)) {
        throw ValueError(std::string(who) + " load_state_dict: '" + key + "' must be a whole number, got " +
                         std::to_string(v));
    }
    return static_cast<std::int64_t>(v);
}

std::vector<double> stored_lrs(const StateDict& state, const std::string& key, std::size_t groups, const char* who) {
    const Tensor& lrs = state.at(key);
    if (!lrs.defined() || is_lazy(lrs) || lrs.dim() != 1 || lrs.numel() != static_cast<std::int64_t>(groups)) {
        throw ValueError(std::string(who) + " load_state_dict: '" + key +
                         "' must hold one learning rate per parameter group (" + std::to_string(groups) +
                         "), got shape " + (lrs.defined() && !is_lazy(lrs) ? shape_to_list(lrs.shape()) : "none"));
    }
    std::vector<double> out = lrs.to_vector<double>();
    for (double lr : out) {
        if (!std::isfinite(lr))
            throw ValueError(std::string(who) + " load_state_dict: '" + key + "' holds a non-finite value " +
                             std::to_string(lr));
    }
    return out;
}

StateDict sub_state(const StateDict& state, const std::string& prefix) {
    StateDict out;
    for (const auto& [key, value] : state) {
        if (key.compare(0, prefix.size(), prefix) == 0) out.insert(key.substr(prefix.size()), value);
    }
    return out;
}

}  // namespace lazynn::optim::detail
