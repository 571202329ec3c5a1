#include "python_repr.hpp"

#include <lazynn/nn/unpool.hpp>

namespace lazynn::nn {

namespace {

std::string sizes_text(const std::vector<std::int64_t>& sizes, const char* separator) {
    std::string s;
    for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? separator : "") + std::to_string(sizes[i]);
    return s;
}

}  // namespace

namespace functional {

template <std::size_t N>
Tensor max_unpool(const Tensor& input, const Tensor& indices, const MaxUnpoolOptions<N>& options,
                  const std::optional<std::vector<std::int64_t>>& output_size) {
    // Shapes: [B, C, *in] or [C, *in] -> [B, C, *out] or [C, *out].
    const std::string op = "max_unpool" + std::to_string(N) + "d";
    if (!input.defined() || !indices.defined()) throw ValueError(op + ": input and indices must be defined tensors");
    const auto rank = static_cast<std::int64_t>(N);
    if (input.dim() != rank + 1 && input.dim() != rank + 2) {
        throw ShapeError(op + ": input should be a " + std::to_string(N + 1) + "d or " + std::to_string(N + 2) +
                         "d Tensor, but got a tensor with " + std::to_string(input.dim()) + " dimensions");
    }
    if (indices.dtype() != kInt64) {
        throw DtypeError(op + ": elements in indices should be type int64 but got: " + dtype_name(indices.dtype()));
    }
    if (indices.shape() != input.shape()) {
        throw ShapeError(op + ": expected shape of indices to be same as that of the input tensor (" +
                         shape_to_list(input.shape()) +
                         ") but got indices tensor with shape: " + shape_to_list(indices.shape()));
    }
    const ExpandingArray<N>& kernel = options.kernel_size();
    const ExpandingArray<N> stride = options.stride().value_or(kernel);
    const ExpandingArray<N>& padding = options.padding();
    std::vector<std::int64_t> sizes(N);
    for (std::size_t d = 0; d < N; ++d) {
        if (kernel[d] <= 0 || stride[d] <= 0 || padding[d] < 0) {
            throw ValueError(op + ": kernel_size and stride must be positive and padding non-negative");
        }
        sizes[d] = (input.size(input.dim() - rank + static_cast<std::int64_t>(d)) - 1) * stride[d] + kernel[d] -
                   2 * padding[d];
    }
    if (output_size) {
        std::vector<std::int64_t> requested = *output_size;
        if (requested.size() == N + 2) requested.erase(requested.begin(), requested.begin() + 2);
        if (requested.size() != N) {
            throw ValueError(op + ": output_size should be a sequence containing " + std::to_string(N) + " or " +
                             std::to_string(N + 2) + " elements, but it has a length of '" +
                             std::to_string(output_size->size()) + "'");
        }
        for (std::size_t d = 0; d < N; ++d) {
            const std::int64_t low = sizes[d] - stride[d], high = sizes[d] + stride[d];
            if (!(low < requested[d] && requested[d] < high)) {
                throw ValueError(op + ": invalid output_size \"(" + sizes_text(requested, ", ") + (N == 1 ? "," : "") +
                                 ")\" (dim " + std::to_string(d) + " must be between " + std::to_string(low) + " and " +
                                 std::to_string(high) + ")");
            }
        }
        sizes = requested;
    }
    for (std::size_t d = 0; d < N; ++d) {
        if (sizes[d] <= 0) throw ShapeError(op + ": the output size " + sizes_text(sizes, "x") + " is empty");
    }
    const bool batched = input.dim() == rank + 2;
    const Tensor x = batched ? input : input.unsqueeze(0);
    const Tensor index = (batched ? indices : indices.unsqueeze(0)).flatten(2);
    std::int64_t plane = 1;
    for (auto s : sizes) plane *= s;
    if (index.numel() > 0) {
        const std::int64_t low = index.min().item<std::int64_t>(), high = index.max().item<std::int64_t>();
        if (low < 0 || high >= plane) {
            throw RuntimeError(op + ": found an invalid max index: " + std::to_string(low < 0 ? low : high) +
                               " (output volumes are of size " + sizes_text(sizes, "x") + ")");
        }
    }
    // Each value goes to its index in its own plane; scatter's backward gathers the gradient back.
    Shape out_shape{x.size(0), x.size(1)};
    out_shape.insert(out_shape.end(), sizes.begin(), sizes.end());
    const Tensor flat =
        zeros({x.size(0), x.size(1), plane}, TensorOptions().dtype(input.dtype())).scatter(2, index, x.flatten(2));
    const Tensor out = flat.view(out_shape);
    return batched ? out : out.squeeze(0);
}

template Tensor max_unpool<1>(const Tensor&, const Tensor&, const MaxUnpoolOptions<1>&,
                              const std::optional<std::vector<std::int64_t>>&);
template Tensor max_unpool<2>(const Tensor&, const Tensor&, const MaxUnpoolOptions<2>&,
                              const std::optional<std::vector<std::int64_t>>&);
template Tensor max_unpool<3>(const Tensor&, const Tensor&, const MaxUnpoolOptions<3>&,
                              const std::optional<std::vector<std::int64_t>>&);

}  // namespace functional

template <std::size_t N>
Tensor MaxUnpoolNd<N>::forward(const Tensor& input, const Tensor& indices) {
    return functional::max_unpool<N>(input, indices, options_);
}

template <std::size_t N>
Tensor MaxUnpoolNd<N>::operator()(const Tensor& input, const Tensor& indices,
                                  const std::vector<std::int64_t>& output_size) {
    return call_with_hooks({input, indices}, [&](const std::vector<Tensor>& in) {
        return functional::max_unpool<N>(in[0], in[1], options_, output_size);
    });
}

template <std::size_t N>
std::string MaxUnpoolNd<N>::extra_repr() const {
    // PyTorch stores the sizes as tuples, so they always print as tuples.
    const ExpandingArray<N> stride = options_.stride().value_or(options_.kernel_size());
    return "kernel_size=" + detail::tuple_or_int<N>(options_.kernel_size(), true) +
           ", stride=" + detail::tuple_or_int<N>(stride, true) +
           ", padding=" + detail::tuple_or_int<N>(options_.padding(), true);
}

template class MaxUnpoolNd<1>;
template class MaxUnpoolNd<2>;
template class MaxUnpoolNd<3>;

}  // namespace lazynn::nn
