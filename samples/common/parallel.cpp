#include "parallel.hpp"

#include <iostream>

#ifdef LAZYNN_SAMPLES_WITH_MPI
#include <lazynn/distributed.hpp>
#endif

namespace samples {

using namespace lazynn;

#ifdef LAZYNN_SAMPLES_WITH_MPI
struct Parallel::Impl {
    explicit Impl(Module& model) : ddp(model) {}
    distributed::Environment environment;  // constructed first: MPI is up before the wrapper
    distributed::DistributedDataParallel ddp;
};
#else
struct Parallel::Impl {};
#endif

Parallel::Parallel(Module& model, bool enabled) : model_(&model) {
    if (!enabled) return;
#ifdef LAZYNN_SAMPLES_WITH_MPI
    impl_ = std::make_unique<Impl>(model);
    rank_ = distributed::rank();
    world_size_ = distributed::world_size();
    // Only rank 0 talks; the others still report warnings and errors.
    if (rank_ != 0) logging::set_level(logging::Level::Warn);
    logging::info("data-parallel training on ", world_size_, " processes");
#else
    throw RuntimeError(
        "--distributed: this build has no MPI support; install libopenmpi-dev and openmpi-bin, "
        "then rebuild (lazynn::distributed is built when CMake finds MPI)");
#endif
}

Parallel::~Parallel() = default;

Tensor Parallel::forward(const Tensor& input) {
#ifdef LAZYNN_SAMPLES_WITH_MPI
    if (impl_) return impl_->ddp(input);
#endif
    return (*model_)(input);
}

std::shared_ptr<const data::Sampler> Parallel::sampler(std::size_t size, bool shuffle, std::uint64_t seed) const {
    if (!impl_) return nullptr;
    return std::make_shared<data::DistributedSampler>(
        size, data::DistributedSamplerOptions(static_cast<std::size_t>(world_size_), static_cast<std::size_t>(rank_))
                  .shuffle(shuffle)
                  .seed(seed));
}

void Parallel::sum([[maybe_unused]] std::vector<double>& values) const {
#ifdef LAZYNN_SAMPLES_WITH_MPI
    if (!impl_) return;
    Tensor t = tensor(values, {static_cast<std::int64_t>(values.size())}, kFloat64);
    distributed::all_reduce(t);
    values = t.to_vector<double>();
#endif
}

void Parallel::sync_buffers() {
#ifdef LAZYNN_SAMPLES_WITH_MPI
    if (impl_) impl_->ddp.sync_buffers();
#endif
}

void Parallel::fail(const std::string& message) const {
#ifdef LAZYNN_SAMPLES_WITH_MPI
    if (impl_ && world_size_ > 1) distributed::abort(message);
#endif
    std::cerr << message << "\n";
}

}  // namespace samples
