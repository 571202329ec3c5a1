#include "data/shuffle.hpp"

#include <lazynn/data/sampler.hpp>
#include <lazynn/error.hpp>
#include <lazynn/random.hpp>

#include <numeric>
#include <string>

namespace lazynn::data {

DistributedSampler::DistributedSampler(std::size_t dataset_size, DistributedSamplerOptions options)
    : dataset_size_(dataset_size), options_(options) {
    const std::size_t replicas = options_.num_replicas();
    if (replicas == 0) throw ValueError("DistributedSampler: num_replicas must be at least 1");
    if (options_.rank() >= replicas) {
        throw ValueError("DistributedSampler: invalid rank " + std::to_string(options_.rank()) +
                         ", rank should be in the interval [0, " + std::to_string(replicas - 1) + "]");
    }
    // PyTorch's arithmetic: drop the uneven tail, or round up and pad.
    if (options_.drop_last() && dataset_size_ % replicas != 0) {
        num_samples_ = dataset_size_ / replicas;
    } else {
        num_samples_ = (dataset_size_ + replicas - 1) / replicas;
    }
}

std::vector<std::int64_t> DistributedSampler::indices(std::uint64_t epoch) const {
    std::vector<std::int64_t> all(dataset_size_);
    std::iota(all.begin(), all.end(), 0);
    if (options_.shuffle()) {
        // Every rank draws the same permutation from (seed + epoch), as PyTorch seeds its generator.
        Generator gen(options_.seed() + epoch);
        detail::shuffle(all, gen);
    }
    const std::size_t total = total_size();
    if (all.size() > total) {
        all.resize(total);
    } else if (!all.empty()) {
        for (std::size_t i = 0; all.size() < total; ++i) all.push_back(all[i]);  // repeat the head
    }
    std::vector<std::int64_t> shard;
    shard.reserve(num_samples_);
    for (std::size_t i = options_.rank(); i < all.size(); i += options_.num_replicas()) shard.push_back(all[i]);
    return shard;
}

}  // namespace lazynn::data
