#pragma once
// The samples' records in OUT: metrics.csv (one row per epoch), steps.csv (the training loss of
// every step) and curves.png rendered from both by gnuplot. Kept whole across --resume.

#include <cstddef>
#include <string>
#include <vector>

namespace samples {

struct EpochMetrics {
    int epoch = 0;
    double train_loss = 0, test_loss = 0;
    double test_metric = 0;  ///< accuracy as a fraction, or R^2 for the regression
    double seconds = 0;
};

struct StepLoss {
    int epoch = 0;          ///< 1-based
    std::size_t step = 0;   ///< 1-based within the epoch
    std::size_t steps = 0;  ///< steps in that epoch
    double loss = 0;
};

/// How a sample's metric column is named and drawn.
struct MetricKind {
    std::string column = "test_accuracy";  ///< metrics.csv header
    std::string title = "test accuracy";   ///< plot title (gnuplot enhanced text: R^2 is a superscript)
    bool percent = true;                   ///< stored as a fraction, shown x100 with a % axis
};

void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& history, const MetricKind& kind);
/// Rows of an existing metrics.csv (any metric column name); an absent file gives none, a
/// malformed row throws lazynn::RuntimeError naming the file and line.
std::vector<EpochMetrics> read_metrics_csv(const std::string& path);
void write_steps_csv(const std::string& path, const std::vector<StepLoss>& steps);
std::vector<StepLoss> read_steps_csv(const std::string& path);

/// True when the positive losses span more than two decades (max > 100 min): plot on a log scale.
bool spans_decades(const std::vector<double>& values);
/// The distance between labelled epoch ticks: 1 up to 10 epochs, then a round step giving <= 10.
int epoch_tick_step(int epochs);
/// The gnuplot program that draws `png` from the two CSV files: losses (per step and per epoch)
/// on the left, the metric on the right; integer epoch ticks, the legends above the plots.
std::string gnuplot_script(const std::string& metrics_csv, const std::string& steps_csv, const std::string& png,
                           const std::vector<EpochMetrics>& history, const std::vector<StepLoss>& steps,
                           const MetricKind& kind);
/// Whether gnuplot is on PATH.
bool gnuplot_available();
/// Renders OUT/curves.png; returns its path, or "" with the reason in `why_not`.
std::string render_curves(const std::string& out_dir, const std::vector<EpochMetrics>& history,
                          const std::vector<StepLoss>& steps, const MetricKind& kind, std::string& why_not);

}  // namespace samples
