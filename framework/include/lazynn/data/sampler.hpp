#pragma once
// Samplers decide which dataset indices an epoch visits, and in what order.
//
//     auto sampler = std::make_shared<data::DistributedSampler>(
//         dataset->size(), data::DistributedSamplerOptions(distributed::world_size(), distributed::rank()));
//     data::DataLoader loader(dataset, data::DataLoaderOptions(64).sampler(sampler));
//
// The DataLoader asks its sampler for epoch e's indices each time a pass begins, so a sampler
// that reshuffles per epoch needs no set_epoch call of its own (the loader's epoch is used).

#include <lazynn/arg.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lazynn::data {

/// Produces the indices one epoch visits. Implementations must be deterministic in `epoch`.
///
/// Example:
///     struct PrefixSampler : data::Sampler {   // the first n indices, in order, every epoch
///         explicit PrefixSampler(std::size_t n) : idx(n) { std::iota(idx.begin(), idx.end(), 0); }
///         std::vector<std::int64_t> indices(std::uint64_t /*epoch*/) const override { return idx; }
///         std::size_t size() const override { return idx.size(); }
///         std::vector<std::int64_t> idx;
///     };
class Sampler {
public:
    virtual ~Sampler() = default;
    /// Indices visited by `epoch`, in order; every call with the same epoch returns the same list.
    virtual std::vector<std::int64_t> indices(std::uint64_t epoch) const = 0;
    /// How many indices each epoch yields.
    virtual std::size_t size() const = 0;
};

/// Which shard a DistributedSampler yields (LAZYNN_ARG knobs: getter + fluent setter).
///
/// Example:
///     data::DistributedSamplerOptions(/*num_replicas=*/4, /*rank=*/1).shuffle(false).drop_last(true)
struct DistributedSamplerOptions {
    DistributedSamplerOptions(std::size_t num_replicas, std::size_t rank) : num_replicas_(num_replicas), rank_(rank) {}
    LAZYNN_ARG(std::size_t, num_replicas);
    LAZYNN_ARG(std::size_t, rank);
    LAZYNN_ARG(bool, shuffle) = true;
    LAZYNN_ARG(std::uint64_t, seed) = 0;
    LAZYNN_ARG(bool, drop_last) = false;
};

/// One rank's shard of a dataset, as PyTorch's torch.utils.data.DistributedSampler: every rank
/// permutes all indices with the shared (seed, epoch), then takes every num_replicas-th index
/// starting at its rank, so shards are disjoint and together cover the dataset. When the size does
/// not divide evenly, the permutation is padded by repeating its head (default) so every rank
/// sees the same number of samples, or truncated with drop_last.
///
/// Example:
///     auto sampler = std::make_shared<data::DistributedSampler>(
///         dataset->size(), data::DistributedSamplerOptions(/*num_replicas=*/4, /*rank=*/rank));
///     data::DataLoader loader(dataset, data::DataLoaderOptions(64).sampler(sampler));   // this rank's quarter
class DistributedSampler final : public Sampler {
public:
    /// Throws ValueError for num_replicas == 0 or a rank outside [0, num_replicas - 1].
    DistributedSampler(std::size_t dataset_size, DistributedSamplerOptions options);
    std::vector<std::int64_t> indices(std::uint64_t epoch) const override;
    std::size_t size() const override { return num_samples_; }
    /// Samples over all ranks (num_samples * num_replicas).
    std::size_t total_size() const { return num_samples_ * options_.num_replicas(); }

private:
    std::size_t dataset_size_;
    DistributedSamplerOptions options_;
    std::size_t num_samples_;
};

}  // namespace lazynn::data
