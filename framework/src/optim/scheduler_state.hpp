#pragma once
// Reading schedulers' state_dict entries: each is checked (and throws a ValueError naming the
// key) before a scheduler changes anything.

#include <lazynn/module.hpp>

#include <string>
#include <vector>

namespace lazynn::optim::detail {

/// A finite number stored as a one-element tensor.
double stored_number(const StateDict& state, const std::string& key, const char* who);
/// A whole number stored as a float64 scalar (last_epoch, counters), checked before the cast.
std::int64_t stored_count(const StateDict& state, const std::string& key, const char* who);
/// One finite lr per parameter group.
std::vector<double> stored_lrs(const StateDict& state, const std::string& key, std::size_t groups, const char* who);
/// The entries under "prefix" with the prefix removed (a nested scheduler's state).
StateDict sub_state(const StateDict& state, const std::string& prefix);

}  // namespace lazynn::optim::detail
