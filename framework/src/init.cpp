// Parameter initialisers, following torch.nn.init's formulas.
#include "tensor_impl.hpp"

#include <lazynn/init.hpp>

#include <cmath>

namespace lazynn::init {
namespace {

template <class Draw>
Tensor& fill(Tensor& tensor, const char* name, Draw draw) {
    TensorImpl& impl = detail::checked(tensor, name);
    if (!impl.is_contiguous()) throw ValueError(std::string(name) + ": the tensor must be contiguous");
    visit_floating(impl.dtype, name, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* p = impl.data<T>();
        for (std::int64_t i = 0; i < impl.numel(); ++i) p[i] = static_cast<T>(draw());
    });
    impl.storage->bump_version();
    return tensor;
}

std::int64_t fan(const Tensor& tensor, FanMode mode) {
    const auto [in, out] = calculate_fan_in_and_fan_out(tensor);
    return mode == FanMode::FanIn ? in : out;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
    switch (nonlinearity) {
        case Nonlinearity::Linear:
        case Nonlinearity::Conv:
        case Nonlinearity::Sigmoid:
            return 1.0;
        case Nonlinearity::Tanh:
            return 5.0 / 3.0;
        case Nonlinearity::ReLU:
            return std::sqrt(2.0);
        case Nonlinearity::LeakyReLU:
            return std::sqrt(2.0 / (1.0 + param * param));
        case Nonlinearity::SELU:
            return 3.0 / 4.0;
    }
    return 1.0;
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
    const Shape& s = detail::checked(tensor, "calculate_fan_in_and_fan_out").shape;
    if (s.size() < 2) {
        throw ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (got shape " +
                         shape_to_list(s) + ")");
    }
    std::int64_t receptive = 1;
    for (std::size_t i = 2; i < s.size(); ++i) receptive *= s[i];
    return {s[1] * receptive, s[0] * receptive};
}

Tensor& uniform_(Tensor& tensor, double low, double high, Generator& generator) {
    return fill(tensor, "uniform_", [&] { return low + (high - low) * generator.uniform(); });
}

Tensor& normal_(Tensor& tensor, double mean, double std, Generator& generator) {
    return fill(tensor, "normal_", [&] { return mean + std * generator.normal(); });
}

Tensor& constant_(Tensor& tensor, double value) {
    return fill(tensor, "constant_", [value] { return value; });
}

Tensor& zeros_(Tensor& tensor) { return constant_(tensor, 0.0); }
Tensor& ones_(Tensor& tensor) { return constant_(tensor, 1.0); }

Tensor& xavier_uniform_(Tensor& tensor, double gain, Generator& generator) {
    const auto [in, out] = calculate_fan_in_and_fan_out(tensor);
    const double bound = gain * std::sqrt(6.0 / static_cast<double>(in + out));
    return uniform_(tensor, -bound, bound, generator);
}

Tensor& xavier_normal_(Tensor& tensor, double gain, Generator& generator) {
    const auto [in, out] = calculate_fan_in_and_fan_out(tensor);
    return normal_(tensor, 0.0, gain * std::sqrt(2.0 / static_cast<double>(in + out)), generator);
}

Tensor& kaiming_uniform_(Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Generator& generator) {
    const std::int64_t f = fan(tensor, mode);
    if (f == 0) return tensor;  // PyTorch warns and leaves a zero-element tensor alone
    const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(f));
    const double bound = std::sqrt(3.0) * std;
    return uniform_(tensor, -bound, bound, generator);
}

Tensor& kaiming_normal_(Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Generator& generator) {
    const std::int64_t f = fan(tensor, mode);
    if (f == 0) return tensor;
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(f)), generator);
}

}  // namespace lazynn::init
