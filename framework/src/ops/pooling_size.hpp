#pragma once
// The pooled length of one dimension, shared by the 2-D pooling kernels and the 3-D pooling that
// is composed of them (internal).

#include <cstdint>

namespace lazynn::ops::detail {

/// PyTorch's output length for input length `in`, kernel `k`, stride `s`, padding `p`, dilation `d`:
/// floor (or ceil) of (in + 2p - d(k-1) - 1) / s + 1, the last window starting inside the input or
/// the left padding. Zero or negative when the window does not fit the padded input.
std::int64_t pooled_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d,
                         bool ceil_mode);

}  // namespace lazynn::ops::detail
