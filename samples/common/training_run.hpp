#pragma once
// One training run of a sample, around its own loop: --resume (checkpoint, RNG, the whole
// metrics and step history, even from the middle of an epoch), the progress bars with the run's
// ETA, per-step losses, a checkpoint and the plot after every epoch, and Ctrl-C (stop after the
// step, checkpoint, exit 130 with the command that resumes). Only rank 0 prints and writes.
//
// The loop a sample writes:
//
//   TrainingRun run(options, argc, argv, kind, parallel.is_root(), parallel.enabled());
//   if (!run.resume(model, &optimizer, &scheduler)) return 0;   // already finished
//   for (int epoch = run.first_epoch(); epoch <= options.epochs; ++epoch) {
//       EpochProgress p = run.begin_epoch(epoch, train.size());
//       for (const data::Example& batch : train) {
//           if (p.skip()) continue;   // steps done before an interruption
//           ... one step ...
//           p.step(loss, examples);
//           if (run.stop_requested()) return run.stop(model, &optimizer, &scheduler, p);
//       }
//       ... evaluate, then run.end_epoch(p, {...}, model, &optimizer, &scheduler) ...
//   }

#include "metrics.hpp"
#include "options.hpp"
#include "progress.hpp"

#include <lazynn/lazynn.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace samples {

class TrainingRun;

/// The training pass of one epoch: counts steps, sums the loss, draws the progress bar.
class EpochProgress {
public:
    int epoch() const { return epoch_; }
    std::size_t steps() const { return steps_; }
    std::size_t step() const { return step_; }
    double loss_sum() const { return loss_sum_; }
    double examples() const { return examples_; }
    /// The mean training loss per example so far.
    double mean_loss() const { return examples_ > 0 ? loss_sum_ / examples_ : 0.0; }
    /// True for the batches done before an interruption (the loader replays the epoch's order).
    bool skip();
    /// Records one step: `loss` is the batch's mean loss over `examples` examples.
    void step(double loss, std::size_t examples);
    /// Adds the sums of other ranks (after an all-reduce), for the epoch's logged train loss.
    void set_totals(double loss_sum, double examples);
    /// Clears the bar (called by the run before logging the epoch or stopping).
    void finish_bar();
    std::chrono::steady_clock::time_point started() const { return started_; }

private:
    friend class TrainingRun;
    EpochProgress(TrainingRun& run, int epoch, std::size_t steps, std::size_t skip, double loss_sum, double examples);

    TrainingRun* run_;
    int epoch_;
    std::size_t steps_, skip_, step_ = 0, replayed_ = 0;
    double loss_sum_, examples_;
    std::chrono::steady_clock::time_point started_;
    std::unique_ptr<ProgressBar> bar_;
};

class TrainingRun {
public:
    /// `root`: this process prints and writes (rank 0). `distributed`: Ctrl-C is left to mpirun.
    /// Creates OUT and removes temporary files an interrupted save left there.
    TrainingRun(const CommonOptions& options, int argc, char** argv, MetricKind kind, bool root, bool distributed);

    /// With --resume and a checkpoint: restores model, optimizer, scheduler, generator and the
    /// history. Returns false (after saying so, outputs untouched) when that run already trained
    /// --epochs epochs. Without --resume, starts a fresh history.
    bool resume(lazynn::Module& model, lazynn::optim::Optimizer* optimizer, lazynn::optim::LRScheduler* scheduler);

    /// Extra state saved with every checkpoint and restored by resume(), for objects that are not
    /// an optimizer or an LRScheduler (e.g. a second scheduler). Float64 tensors, kept in the
    /// checkpoint's metadata under "state.NAME.KEY". Call before resume().
    void keep_state(const std::string& name, std::function<lazynn::StateDict()> save,
                    std::function<void(const lazynn::StateDict&)> load);

    int first_epoch() const { return first_epoch_; }
    EpochProgress begin_epoch(int epoch, std::size_t steps);
    /// A progress bar for an evaluation pass of `steps` batches (nothing on ranks other than 0).
    std::unique_ptr<ProgressBar> evaluation_progress(std::size_t steps) const;

    bool stop_requested() const;
    /// Writes a checkpoint that resumes after `progress`'s last step, the CSVs and the plot,
    /// prints the command that resumes, and returns 130 (the exit code of a SIGINT).
    int stop(lazynn::Module& model, lazynn::optim::Optimizer* optimizer, lazynn::optim::LRScheduler* scheduler,
             EpochProgress& progress);
    /// Records a finished epoch: checkpoint, metrics.csv, steps.csv, curves.png.
    void end_epoch(EpochProgress& progress, const EpochMetrics& metrics, lazynn::Module& model,
                   lazynn::optim::Optimizer* optimizer, lazynn::optim::LRScheduler* scheduler);

    const std::vector<EpochMetrics>& history() const { return history_; }
    const std::string& checkpoint_path() const { return checkpoint_; }
    /// curves.png, or "" with the reason in plot_missing_reason().
    const std::string& plot() const { return plot_; }
    const std::string& plot_missing_reason() const { return why_no_plot_; }
    bool root() const { return root_; }
    /// Mean seconds per finished epoch in this process (for the run's ETA), if one finished.
    std::optional<double> epoch_seconds() const;

private:
    friend class EpochProgress;
    void save(lazynn::Module& model, lazynn::optim::Optimizer* optimizer, lazynn::optim::LRScheduler* scheduler,
              int completed_epochs, const EpochProgress* partial);
    void write_records();

    CommonOptions options_;
    std::vector<std::string> arguments_;
    MetricKind kind_;
    bool root_, distributed_;
    std::string checkpoint_, plot_, why_no_plot_;
    int first_epoch_ = 1;
    std::size_t resume_step_ = 0;
    double resume_loss_sum_ = 0, resume_examples_ = 0;
    std::vector<EpochMetrics> history_;
    std::vector<StepLoss> steps_;
    struct KeptState {
        std::string name;
        std::function<lazynn::StateDict()> save;
        std::function<void(const lazynn::StateDict&)> load;
    };
    std::vector<KeptState> kept_;
    double measured_seconds_ = 0;
    int measured_epochs_ = 0;
};

}  // namespace samples
