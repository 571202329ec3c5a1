#pragma once
// Shared by the sample trainers: command-line options, a terminal progress bar, metrics.csv, and
// a gnuplot rendering of the curves. Samples use only lazynn's public API.

#include <lazynn/lazynn.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace samples {

struct CommonOptions {
    int epochs = 5;
    std::size_t batch_size = 64;
    double lr = 1e-3;
    std::uint64_t seed = 0;
    std::string data = "/usr/share/datasets/fashion-mnist";
    std::string out = "out";
    bool resume = false;
    int threads = 1;
    bool distributed = false;
};

/// Parses the shared flags (plus any the sample added to `app` before). Returns an exit code to
/// stop with (e.g. after --help), or -1 to continue.
int parse_options(int argc, char** argv, const std::string& description, CommonOptions& options);

/// One line that redraws itself on a terminal (quiet otherwise).
class ProgressBar {
public:
    ProgressBar(std::string label, std::size_t total);
    void update(std::size_t done, double loss, std::size_t samples);
    void finish();

private:
    std::string label_;
    std::size_t total_;
    bool tty_;
    std::chrono::steady_clock::time_point start_;
};

struct EpochMetrics {
    int epoch;
    double train_loss, test_loss, test_accuracy, seconds;
};

/// Appends to out/metrics.csv (written whole each time, atomically) and re-renders out/curves.png
/// when gnuplot is installed. Returns the plot path, or "" when gnuplot is missing.
std::string record_metrics(const std::string& out_dir, const std::vector<EpochMetrics>& history);

/// Summed cross-entropy, correct predictions and examples of a classifier over a loader (no grad,
/// eval mode, restores the mode). Sums, so shards evaluated on several ranks can be added up.
struct EvaluationTotals {
    double loss_sum = 0, correct = 0, count = 0;
};
EvaluationTotals evaluate(lazynn::Module& model, lazynn::data::DataLoader& loader);

}  // namespace samples
