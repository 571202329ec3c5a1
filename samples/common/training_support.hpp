#pragma once
// Shared by the sample trainers: command-line options, the training run (resume, progress,
// checkpoints, Ctrl-C, metrics and plot) and classifier evaluation. Samples use only lazynn's
// public API.

#include "interrupt.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "training_run.hpp"

#include <lazynn/lazynn.hpp>

namespace samples {

/// Summed cross-entropy, correct predictions and examples of a classifier over a loader (no grad,
/// eval mode, restores the mode). Sums, so shards evaluated on several ranks can be added up.
/// Stops early, with `interrupted` set, when Ctrl-C asked the run to stop.
struct EvaluationTotals {
    double loss_sum = 0, correct = 0, count = 0;
    bool interrupted = false;
};
EvaluationTotals evaluate(lazynn::Module& model, lazynn::data::DataLoader& loader, const TrainingRun& run);

/// Sets lazynn's thread count and, on the printing rank, logs the compute backends
/// (lazynn::backend_info()) and a warning for each slow fallback in use.
void use_threads(int threads, bool log_backend);

}  // namespace samples
