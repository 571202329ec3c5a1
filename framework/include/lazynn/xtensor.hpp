#pragma once
// Conversion between lazynn tensors and xtensor containers (copies in both directions).
// Kept out of lazynn.hpp so only code that wants xtensor pays for its headers.

#include <lazynn/tensor.hpp>

#include <xtensor/xarray.hpp>

#include <vector>

namespace lazynn {

/// A tensor holding a copy of `array` (dtype from T: float, double or int64_t).
template <class T>
Tensor from_xarray(const xt::xarray<T>& array) {
    const xt::xarray<T> contiguous = array;  // row-major copy of any expression layout
    Shape shape(contiguous.shape().begin(), contiguous.shape().end());
    std::vector<T> values(contiguous.begin(), contiguous.end());
    return tensor(values, shape.empty() ? Shape{} : shape, dtype_of<T>());
}

/// A row-major xt::xarray<T> copy of `t` (converted to T).
template <class T>
xt::xarray<T> to_xarray(const Tensor& t) {
    const std::vector<T> values = t.to_vector<T>();
    const Shape& shape = t.shape();
    std::vector<std::size_t> xshape(shape.begin(), shape.end());
    xt::xarray<T> out = xt::xarray<T>::from_shape(xshape);
    std::copy(values.begin(), values.end(), out.begin());
    return out;
}

}  // namespace lazynn
