#include "data/shuffle.hpp"

#include <lazynn/data/dataloader.hpp>
#include <lazynn/error.hpp>

#include <algorithm>
#include <numeric>

namespace lazynn::data {
namespace {

/// SplitMix64: decorrelates the seeds derived from (seed, epoch, batch).
std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
    if (!dataset_) throw ValueError("DataLoader: the dataset is null");
    if (options_.sampler() && options_.shuffle()) {
        throw ValueError(
            "DataLoader: sampler option is mutually exclusive with shuffle; shuffle in the sampler instead");
    }
    if (options_.batch_size() == 0)
        throw ValueError("DataLoader: batch_size should be a positive integer value, but got batch_size=0");
}

std::size_t DataLoader::size() const {
    const std::size_t n = options_.sampler() ? options_.sampler()->size() : dataset_->size(), b = options_.batch_size();
    // Not (n + b - 1) / b: that wraps to 0 batches for a batch size near SIZE_MAX.
    return options_.drop_last() || n % b == 0 ? n / b : n / b + 1;
}

std::vector<std::int64_t> DataLoader::order(std::uint64_t epoch) const {
    if (options_.sampler()) return options_.sampler()->indices(epoch);
    std::vector<std::int64_t> idx(dataset_->size());
    std::iota(idx.begin(), idx.end(), 0);
    if (options_.shuffle()) {
        Generator gen(mix(options_.seed() ^ mix(epoch)));
        detail::shuffle(idx, gen);
    }
    return idx;
}

Example DataLoader::batch(std::uint64_t epoch, const std::vector<std::int64_t>& order, std::size_t b) const {
    const std::size_t start = b * options_.batch_size();
    const std::size_t stop = start + std::min(options_.batch_size(), order.size() - start);
    const std::vector<std::int64_t> indices(order.begin() + static_cast<std::ptrdiff_t>(start),
                                            order.begin() + static_cast<std::ptrdiff_t>(stop));
    Example e = dataset_->get_batch(indices);
    if (options_.transform()) {
        Generator gen(mix(mix(options_.seed() ^ mix(epoch)) + b));
        e = options_.transform()(std::move(e), gen);
    }
    return e;
}

DataLoader::Iterator DataLoader::begin() { return Iterator(this, epoch_++, 0); }

DataLoader::Iterator DataLoader::end() const { return Iterator(nullptr, 0, size()); }

DataLoader::Iterator::Iterator(const DataLoader* loader, std::uint64_t epoch, std::size_t index)
    : loader_(loader), epoch_(epoch), index_(index) {
    if (!loader_) return;
    order_ = std::make_shared<std::vector<std::int64_t>>(loader_->order(epoch_));
    if (index_ < loader_->size()) {
        current_ = loader_->batch(epoch_, *order_, index_);
        load(index_ + 1);
    }
}

DataLoader::Iterator::~Iterator() = default;

void DataLoader::Iterator::load(std::size_t b) {
    if (b >= loader_->size()) return;
    if (loader_->options_.prefetch()) {
        next_ = std::async(std::launch::async, [loader = loader_, epoch = epoch_, order = order_, b] {
            return loader->batch(epoch, *order, b);
        });
    } else {
        next_ = std::async(std::launch::deferred, [loader = loader_, epoch = epoch_, order = order_, b] {
            return loader->batch(epoch, *order, b);
        });
    }
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
    ++index_;
    if (index_ < loader_->size()) {
        current_ = next_.get();  // rethrows whatever building the batch threw
        load(index_ + 1);
    } else {
        current_ = Example{};
    }
    return *this;
}

}  // namespace lazynn::data
