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

#include <optional>

namespace samples {

/// Summed cross-entropy, correct predictions and examples of a classifier over a loader (no grad,
/// eval mode, restores the mode). Sums, so shards evaluated on several ranks can be added up.
/// Stops early, with `interrupted` set, when Ctrl-C asked the run to stop.
struct EvaluationTotals {
    double loss_sum = 0, correct = 0, count = 0;
    bool interrupted = false;
};
EvaluationTotals evaluate(lazynn::Module& model, lazynn::data::DataLoader& loader, const TrainingRun& run,
                          Precision precision);

/// Sets lazynn's thread count and, on the printing rank, logs the compute backends
/// (lazynn::backend_info()), the precision, and a warning for each slow fallback in use.
void use_threads(int threads, Precision precision, bool log_backend);

/// Autocast (bfloat16) for its scope when the run's precision is bf16; nothing for fp32. The sample
/// trainers open one around each forward pass and loss, as PyTorch's autocast is used.
class PrecisionScope {
public:
    explicit PrecisionScope(Precision precision) {
        if (precision == Precision::Bf16) autocast_.emplace(lazynn::kBFloat16);
    }

private:
    std::optional<lazynn::AutocastGuard> autocast_;
};

}  // namespace samples
