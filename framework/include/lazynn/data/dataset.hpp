#pragma once
// Datasets: an indexable collection of (data, target) examples.

#include <lazynn/tensor.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace lazynn::data {

/// One (data, target) example, or a batch of them (get_batch, the DataLoader).
///
/// Example:
///     data::Example ex = dataset->get(0);   // ex.data, ex.target; a batch has a leading batch dim
struct Example {
    Tensor data;
    Tensor target;
};

/// Requires: get(i) for every i < size(); get and get_batch may be called from a background
/// thread (the DataLoader's prefetch) while the caller trains, so they must not mutate shared state.
///
/// Example:
///     struct Squares : data::Dataset {   // (x, x^2) for x = 0..99
///         std::size_t size() const override { return 100; }
///         data::Example get(std::size_t i) const override { Tensor x = full({1}, i); return {x, x * x}; }
///     };
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

/// Images kept as the bytes they were stored in (a quarter of float32's memory), converted to
/// float32 and divided by `divisor` one batch at a time (torchvision's ToTensor for 255); int64
/// targets. What load_mnist returns.
///
/// Example:
///     data::ByteImageDataset images(std::move(pixels), {1, 28, 28}, labels);   // pixels: N*784 bytes, labels: [N]
///     data::Example first = images.get(0);   // data [1, 28, 28] float32 in [0, 1], target int64
class ByteImageDataset : public Dataset {
public:
    /// `pixels` holds size() images of `image_shape` (e.g. [1, 28, 28]) back to back.
    ByteImageDataset(std::vector<std::uint8_t> pixels, Shape image_shape, Tensor targets, float divisor = 255.0f);
    std::size_t size() const override;
    Example get(std::size_t index) const override;
    Example get_batch(const std::vector<std::int64_t>& indices) const override;
    const Shape& image_shape() const { return image_shape_; }
    const Tensor& targets() const { return targets_; }

private:
    std::vector<std::uint8_t> pixels_;
    Shape image_shape_;
    std::int64_t image_size_;
    Tensor targets_;
    float divisor_;
};

/// The first `count` examples of another dataset (or the examples at `indices`).
///
/// Example:
///     std::vector<std::int64_t> first(50000);
///     std::iota(first.begin(), first.end(), 0);
///     auto train = std::make_shared<data::Subset>(mnist, first);   // examples 0..49999 of mnist
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
