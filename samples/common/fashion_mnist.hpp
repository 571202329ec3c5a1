#pragma once
// The training loop shared by the Fashion-MNIST samples: Adam with cosine annealing, a progress
// bar, evaluation on the test set, metrics.csv, a resumable checkpoint every epoch, the final
// weights and a plot.

#include "training_support.hpp"

#include <string>

namespace samples {

/// Trains `model` (logits [N, 10] from images [N, 1, 28, 28]) and returns the exit code. Seed the
/// global generator (lazynn::manual_seed) before building the model.
int train_fashion_mnist(lazynn::Module& model, const CommonOptions& options, const std::string& program);

}  // namespace samples
