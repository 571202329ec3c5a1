#pragma once
// The training loop shared by the Fashion-MNIST samples: Adam with cosine annealing, progress
// bars, evaluation on the test set, metrics and plot, a resumable checkpoint every epoch (and on
// Ctrl-C), the final weights.

#include "training_support.hpp"

#include <string>

namespace samples {

/// The command line of a Fashion-MNIST sample (--data is a directory).
SampleCommandLine fashion_mnist_command_line(const std::string& description);

/// Trains `model` (logits [N, 10] from images [N, 1, 28, 28]) and returns the exit code. Seed the
/// global generator (lazynn::manual_seed) before building the model. argc/argv give the command
/// that resumes after Ctrl-C.
int train_fashion_mnist(lazynn::Module& model, const CommonOptions& options, const std::string& program, int argc,
                        char** argv);

}  // namespace samples
