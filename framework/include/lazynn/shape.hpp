#pragma once
// Shapes and the helpers every op uses to validate and describe them.

#include <cstdint>
#include <string>
#include <vector>

namespace lazynn {

using Shape = std::vector<std::int64_t>;

/// Product of the extents (1 for a scalar shape).
std::int64_t shape_numel(const Shape& shape);
/// "64x784" — the form PyTorch uses in matmul errors.
std::string shape_to_string(const Shape& shape);
/// "[64, 784]" — the form used in most other messages.
std::string shape_to_list(const Shape& shape);
/// Contiguous (row-major) strides for `shape`.
Shape contiguous_strides(const Shape& shape);
/// NumPy broadcasting; throws ShapeError naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
/// Wraps a possibly negative dim into [0, rank); throws IndexError naming the valid range.
std::int64_t normalize_dim(std::int64_t dim, std::int64_t rank);

}  // namespace lazynn
