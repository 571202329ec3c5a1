#pragma once
// The samples' one switch between single-process and data-parallel training (--distributed,
// under mpirun). Without MPI in the build, asking for it is a clear error; everything else works.

#include <lazynn/lazynn.hpp>

#include <memory>
#include <string>
#include <vector>

namespace samples {

/// Rank/world of this run, the forward through DistributedDataParallel, sharded samplers and
/// sums over ranks. With enabled=false: one rank, plain forward, no samplers, sums unchanged.
/// Not copyable or movable (it owns the MPI environment and the DDP hooks).
class Parallel {
public:
    Parallel(lazynn::Module& model, bool enabled);
    ~Parallel();
    Parallel(const Parallel&) = delete;
    Parallel& operator=(const Parallel&) = delete;

    int rank() const { return rank_; }
    int world_size() const { return world_size_; }
    bool is_root() const { return rank_ == 0; }
    bool enabled() const { return impl_ != nullptr; }

    lazynn::Tensor forward(const lazynn::Tensor& input);
    /// This rank's shard of a dataset of `size` examples (null when not distributed).
    std::shared_ptr<const lazynn::data::Sampler> sampler(std::size_t size, bool shuffle, std::uint64_t seed) const;
    /// Sums each value over ranks, in place.
    void sum(std::vector<double>& values) const;
    /// Makes every rank's BatchNorm statistics rank 0's (before evaluating on shards).
    void sync_buffers();
    /// Reports an error: stops every rank when distributed (the others may be waiting), else returns.
    void fail(const std::string& message) const;

private:
    struct Impl;
    lazynn::Module* model_;
    std::unique_ptr<Impl> impl_;
    int rank_ = 0;
    int world_size_ = 1;
};

}  // namespace samples
