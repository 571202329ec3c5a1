#pragma once
// Parameter initialisers (PyTorch's torch.nn.init). Each fills a tensor in place without
// recording autograd and draws from `generator` (the global one by default; modules pass their
// own, seeded from Module::seed()).

#include <lazynn/random.hpp>
#include <lazynn/tensor.hpp>

#include <utility>

namespace lazynn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Conv, Sigmoid, Tanh, ReLU, LeakyReLU, SELU };

/// PyTorch's calculate_gain; `param` is LeakyReLU's negative slope.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
/// (fan_in, fan_out) of a weight of rank >= 2: [out, in, *kernel].
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

Tensor& uniform_(Tensor& tensor, double low = 0.0, double high = 1.0, Generator& generator = default_generator());
Tensor& normal_(Tensor& tensor, double mean = 0.0, double std = 1.0, Generator& generator = default_generator());
Tensor& constant_(Tensor& tensor, double value);
Tensor& zeros_(Tensor& tensor);
Tensor& ones_(Tensor& tensor);
Tensor& xavier_uniform_(Tensor& tensor, double gain = 1.0, Generator& generator = default_generator());
Tensor& xavier_normal_(Tensor& tensor, double gain = 1.0, Generator& generator = default_generator());
Tensor& kaiming_uniform_(Tensor& tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                         Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                         Generator& generator = default_generator());
Tensor& kaiming_normal_(Tensor& tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                        Generator& generator = default_generator());

}  // namespace lazynn::init
