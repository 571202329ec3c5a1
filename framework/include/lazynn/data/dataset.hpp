#pragma once
// Datasets: an indexable collection of (data, target) examples.

#include <lazynn/tensor.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace lazynn::data {

struct Example {
    Tensor data;
    Tensor target;
};

/// Requires: get(i) for every i < size(); get and get_batch may be called from a background
/// thread (the DataLoader's prefetch) while the caller trains, so they must not mutate shared state.
class Dataset {
public:
    virtual ~Dataset() = default;
    virtual std::size_t size() const = 0;
    virtual Example get(std::size_t index) const = 0;
    /// A batch with a leading batch dim. The default stacks get(i); datasets backed by one big
    /// tensor override it with a single gather.
    virtual Example get_batch(const std::vector<std::int64_t>& indices) const;
};

/// Examples are rows of two tensors with the same first dimension.
class TensorDataset : public Dataset {
public:
    TensorDataset(Tensor data, Tensor targets);
    std::size_t size() const override;
    Example get(std::size_t index) const override;
    Example get_batch(const std::vector<std::int64_t>& indices) const override;
    const Tensor& data() const { return data_; }
    const Tensor& targets() const { return targets_; }

private:
    Tensor data_;
    Tensor targets_;
};

/// The first `count` examples of another dataset (or the examples at `indices`).
class Subset : public Dataset {
public:
    Subset(std::shared_ptr<const Dataset> base, std::vector<std::int64_t> indices);
    std::size_t size() const override { return indices_.size(); }
    Example get(std::size_t index) const override;
    Example get_batch(const std::vector<std::int64_t>& indices) const override;

private:
    std::shared_ptr<const Dataset> base_;
    std::vector<std::int64_t> indices_;
};

}  // namespace lazynn::data
