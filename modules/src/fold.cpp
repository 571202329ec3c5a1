#include "python_repr.hpp"

#include <lazynn/nn/fold.hpp>
#include <lazynn/ops/convolution.hpp>

namespace lazynn::nn {

namespace functional {

Tensor unfold(const Tensor& input, const UnfoldOptions& o) {
    return ops::unfold(input, o.kernel_size().values, o.dilation().values, o.padding().values, o.stride().values);
}

Tensor fold(const Tensor& input, const FoldOptions& o) {
    return ops::fold(input, o.output_size().values, o.kernel_size().values, o.dilation().values, o.padding().values,
                     o.stride().values);
}

}  // namespace functional

Tensor Unfold::forward(const Tensor& input) { return functional::unfold(input, options_); }

std::string Unfold::extra_repr() const {
    return "kernel_size=" + detail::tuple_or_int<2>(options_.kernel_size()) +
           ", dilation=" + detail::tuple_or_int<2>(options_.dilation()) +
           ", padding=" + detail::tuple_or_int<2>(options_.padding()) +
           ", stride=" + detail::tuple_or_int<2>(options_.stride());
}

Tensor Fold::forward(const Tensor& input) { return functional::fold(input, options_); }

std::string Fold::extra_repr() const {
    return "output_size=" + detail::tuple_or_int<2>(options_.output_size()) +
           ", kernel_size=" + detail::tuple_or_int<2>(options_.kernel_size()) +
           ", dilation=" + detail::tuple_or_int<2>(options_.dilation()) +
           ", padding=" + detail::tuple_or_int<2>(options_.padding()) +
           ", stride=" + detail::tuple_or_int<2>(options_.stride());
}

}  // namespace lazynn::nn
