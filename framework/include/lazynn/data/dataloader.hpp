#pragma once
// DataLoader: batches, a seeded shuffle per epoch, drop_last, per-batch transforms, and a
// background prefetch so the next batch is being built while the current step runs.
//
//     data::DataLoader loader(dataset, data::DataLoaderOptions(64).shuffle(true).seed(1));
//     for (const data::Example& batch : loader) { ... }      // one epoch per range-for
//
// Determinism: epoch e's order is a function of (seed, e) alone, and each batch's transform
// draws from a Generator seeded by (seed, e, batch index), so runs are reproducible whatever the
// thread timing. An exception thrown while building a batch is rethrown by the iterator that
// reaches that batch.

#include <lazynn/arg.hpp>
#include <lazynn/data/dataset.hpp>
#include <lazynn/data/sampler.hpp>
#include <lazynn/random.hpp>

#include <functional>
#include <future>
#include <memory>
#include <vector>

namespace lazynn::data {

using BatchTransform = std::function<Example(Example, Generator&)>;

/// How a DataLoader batches and orders a dataset (LAZYNN_ARG knobs: getter + fluent setter).
///
/// Example:
///     data::DataLoader loader(dataset, data::DataLoaderOptions(64).shuffle(true).seed(1).drop_last(true));
struct DataLoaderOptions {
    explicit DataLoaderOptions(std::size_t batch_size = 1) : batch_size_(batch_size) {}
    LAZYNN_ARG(std::size_t, batch_size);
    LAZYNN_ARG(bool, shuffle) = false;
    LAZYNN_ARG(std::uint64_t, seed) = 0;
    LAZYNN_ARG(bool, drop_last) = false;
    /// Builds the next batch on a background thread while the current one is used.
    LAZYNN_ARG(bool, prefetch) = true;
    LAZYNN_ARG(BatchTransform, transform);
    /// Takes the epoch's indices from a Sampler (e.g. a DistributedSampler); excludes shuffle.
    LAZYNN_ARG(std::shared_ptr<const Sampler>, sampler);
};

/// Iterates a dataset in batches, one epoch per range-for (see the file comment).
///
/// Example:
///     auto dataset = std::make_shared<data::TensorDataset>(images, labels);   // [N, 1, 28, 28], [N]
///     data::DataLoader loader(dataset, data::DataLoaderOptions(64).shuffle(true).seed(1));
///     for (const data::Example& batch : loader) { ... }   // one epoch; batch.data [64, 1, 28, 28]
class DataLoader {
public:
    DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);

    /// Batches per epoch.
    std::size_t size() const;
    const Dataset& dataset() const { return *dataset_; }
    /// The epoch the next begin() starts (counts from 0; begin() advances it).
    std::uint64_t epoch() const { return epoch_; }
    void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
    /// The example order of an epoch (the sampler's indices, or all of them; batches are
    /// consecutive slices).
    std::vector<std::int64_t> order(std::uint64_t epoch) const;
    /// Builds batch `b` of `epoch` synchronously (what the prefetch thread runs).
    Example batch(std::uint64_t epoch, const std::vector<std::int64_t>& order, std::size_t b) const;

    class Iterator {
    public:
        using value_type = Example;
        using difference_type = std::ptrdiff_t;
        const Example& operator*() const { return current_; }
        const Example* operator->() const { return &current_; }
        Iterator& operator++();
        bool operator==(const Iterator& other) const { return index_ == other.index_; }
        ~Iterator();
        Iterator(Iterator&&) noexcept = default;
        Iterator& operator=(Iterator&&) noexcept = default;

    private:
        friend class DataLoader;
        Iterator(const DataLoader* loader, std::uint64_t epoch, std::size_t index);
        void load(std::size_t b);
        const DataLoader* loader_ = nullptr;
        std::uint64_t epoch_ = 0;
        std::size_t index_ = 0;
        std::shared_ptr<std::vector<std::int64_t>> order_;
        Example current_;
        std::future<Example> next_;
    };

    Iterator begin();
    Iterator end() const;

private:
    std::shared_ptr<const Dataset> dataset_;
    DataLoaderOptions options_;
    std::uint64_t epoch_ = 0;
};

}  // namespace lazynn::data
