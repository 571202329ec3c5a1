#pragma once
// The one shuffle of the data layer (internal): the DataLoader's epoch order and the
// DistributedSampler's shared permutation both use it.

#include <lazynn/random.hpp>

#include <cstdint>
#include <utility>
#include <vector>

namespace lazynn::data::detail {

/// Fisher-Yates with lazynn's own generator, so a seed gives the same order on every platform.
inline void shuffle(std::vector<std::int64_t>& items, Generator& gen) {
    for (std::size_t i = items.size(); i > 1; --i) {
        const std::size_t j = static_cast<std::size_t>(gen.next_u64() % i);
        std::swap(items[i - 1], items[j]);
    }
}

}  // namespace lazynn::data::detail
