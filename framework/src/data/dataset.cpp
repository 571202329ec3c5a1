#include <lazynn/autograd.hpp>
#include <lazynn/data/dataset.hpp>
#include <lazynn/error.hpp>

namespace lazynn::data {

Example Dataset::get_batch(const std::vector<std::int64_t>& indices) const {
    std::vector<Tensor> data, targets;
    for (auto i : indices) {
        Example e = get(static_cast<std::size_t>(i));
        data.push_back(e.data);
        targets.push_back(e.target);
    }
    NoGradGuard no_grad;
    return {stack(data), targets.front().defined() ? stack(targets) : Tensor()};
}

TensorDataset::TensorDataset(Tensor data, Tensor targets) : data_(std::move(data)), targets_(std::move(targets)) {
    if (data_.dim() == 0) throw ShapeError("TensorDataset: data needs a leading example dimension, got a 0-dim tensor");
    if (targets_.defined() && (targets_.dim() == 0 || targets_.size(0) != data_.size(0))) {
        throw ShapeError("TensorDataset: data has " + std::to_string(data_.size(0)) +
                         " examples but targets have shape " + shape_to_list(targets_.shape()) +
                         "; the first dimensions must match");
    }
}

std::size_t TensorDataset::size() const { return static_cast<std::size_t>(data_.size(0)); }

Example TensorDataset::get(std::size_t index) const {
    if (index >= size())
        throw IndexError("TensorDataset: index " + std::to_string(index) + " out of range for " +
                         std::to_string(size()) + " examples");
    const auto i = static_cast<std::int64_t>(index);
    return {data_.select(0, i), targets_.defined() ? targets_.select(0, i) : Tensor()};
}

Example TensorDataset::get_batch(const std::vector<std::int64_t>& indices) const {
    NoGradGuard no_grad;
    const Tensor idx = tensor(indices, {static_cast<std::int64_t>(indices.size())});
    return {data_.index_select(0, idx), targets_.defined() ? targets_.index_select(0, idx) : Tensor()};
}

ByteImageDataset::ByteImageDataset(std::vector<std::uint8_t> pixels, Shape image_shape, Tensor targets, float divisor)
    : pixels_(std::move(pixels)),
      image_shape_(std::move(image_shape)),
      image_size_(shape_numel(image_shape_)),
      targets_(std::move(targets)),
      divisor_(divisor) {
    if (image_size_ <= 0)
        throw ValueError("ByteImageDataset: image shape " + shape_to_list(image_shape_) + " holds no pixels");
    if (pixels_.size() % static_cast<std::size_t>(image_size_) != 0) {
        throw ValueError("ByteImageDataset: " + std::to_string(pixels_.size()) + " bytes is not a whole number of " +
                         shape_to_list(image_shape_) + " images");
    }
    if (targets_.defined() && (targets_.dim() != 1 || static_cast<std::size_t>(targets_.size(0)) != size())) {
        throw ValueError("ByteImageDataset: " + std::to_string(size()) + " images but targets of shape " +
                         shape_to_list(targets_.shape()));
    }
}

std::size_t ByteImageDataset::size() const { return pixels_.size() / static_cast<std::size_t>(image_size_); }

Example ByteImageDataset::get(std::size_t index) const {
    Example e = get_batch({static_cast<std::int64_t>(index)});
    return {e.data.squeeze(0), e.target.defined() ? e.target.squeeze(0) : Tensor()};
}

Example ByteImageDataset::get_batch(const std::vector<std::int64_t>& indices) const {
    NoGradGuard no_grad;
    Shape shape = image_shape_;
    shape.insert(shape.begin(), static_cast<std::int64_t>(indices.size()));
    Tensor images = empty(shape);
    float* out = images.data_ptr<float>();
    for (std::size_t b = 0; b < indices.size(); ++b) {
        const std::int64_t i = indices[b];
        if (i < 0 || static_cast<std::size_t>(i) >= size()) {
            throw IndexError("ByteImageDataset: index " + std::to_string(i) + " out of range for " +
                             std::to_string(size()) + " images");
        }
        const std::uint8_t* src = pixels_.data() + i * image_size_;
        float* dst = out + static_cast<std::int64_t>(b) * image_size_;
        for (std::int64_t p = 0; p < image_size_; ++p) dst[p] = static_cast<float>(src[p]) / divisor_;
    }
    Tensor targets;
    if (targets_.defined())
        targets = targets_.index_select(0, tensor(indices, {static_cast<std::int64_t>(indices.size())}));
    return {images, targets};
}

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<std::int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
    for (auto i : indices_) {
        if (i < 0 || static_cast<std::size_t>(i) >= base_->size()) {
            throw IndexError("Subset: index " + std::to_string(i) + " out of range for a dataset of " +
                             std::to_string(base_->size()));
        }
    }
}

Example Subset::get(std::size_t index) const { return base_->get(static_cast<std::size_t>(indices_.at(index))); }

Example Subset::get_batch(const std::vector<std::int64_t>& indices) const {
    std::vector<std::int64_t> mapped;
    mapped.reserve(indices.size());
    for (auto i : indices) mapped.push_back(indices_.at(static_cast<std::size_t>(i)));
    return base_->get_batch(mapped);
}

}  // namespace lazynn::data
