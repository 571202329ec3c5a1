#pragma once
// Batch transforms for images [N, C, H, W], for DataLoaderOptions::transform.

#include <lazynn/data/dataloader.hpp>

#include <vector>

namespace lazynn::data::transforms {

/// (x - mean[c]) / std[c] per channel.
BatchTransform normalize(std::vector<double> mean, std::vector<double> std);
/// Pads by `padding` (zeros) and crops a random size x size window per image.
BatchTransform random_crop(std::int64_t size, std::int64_t padding = 0);
/// Mirrors each image left-right with probability p.
BatchTransform random_horizontal_flip(double p = 0.5);
/// Applies transforms in order.
BatchTransform compose(std::vector<BatchTransform> transforms);

}  // namespace lazynn::data::transforms
