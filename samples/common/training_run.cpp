#include "training_run.hpp"

#include "interrupt.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace samples {

using namespace lazynn;

EpochProgress::EpochProgress(TrainingRun& run, int epoch, std::size_t steps, std::size_t skip, double loss_sum,
                             double examples)
    : run_(&run),
      epoch_(epoch),
      steps_(steps),
      skip_(skip),
      step_(skip),
      loss_sum_(loss_sum),
      examples_(examples),
      started_(std::chrono::steady_clock::now()) {
    if (run.root()) {
        const int epochs_after = run.options_.epochs - epoch;
        bar_ = std::make_unique<ProgressBar>(fmt::format("epoch {}/{}", epoch, run.options_.epochs), steps,
                                             epochs_after, run.epoch_seconds());
    }
}

bool EpochProgress::skip() {
    if (replayed_ >= skip_) return false;
    ++replayed_;
    return true;
}

void EpochProgress::step(double loss, std::size_t examples) {
    ++step_;
    // For tests: LAZYNN_SAMPLE_STOP_AFTER=N acts as a Ctrl-C after the N-th step of this process,
    // so a test can stop at an exact step (a real SIGINT lands wherever it lands).
    static const long stop_after = [] {
        const char* value = std::getenv("LAZYNN_SAMPLE_STOP_AFTER");
        return value ? std::atol(value) : 0L;
    }();
    static long steps_in_process = 0;
    if (stop_after > 0 && ++steps_in_process == stop_after) request_interrupt();
    loss_sum_ += loss * static_cast<double>(examples);
    examples_ += static_cast<double>(examples);
    if (run_->root_) run_->steps_.push_back({epoch_, step_, steps_, loss});
    if (bar_) bar_->update(step_, mean_loss(), examples_);
}

void EpochProgress::set_totals(double loss_sum, double examples) {
    loss_sum_ = loss_sum;
    examples_ = examples;
}

void EpochProgress::finish_bar() {
    if (bar_) bar_->finish();
}

namespace {

/// "2x3:1,2,3,4,5,6" (shape, then the values in float64's shortest exact form); "" shape for a scalar.
std::string encode_tensor(const Tensor& t) {
    std::string text;
    for (std::int64_t d : t.shape()) text += (text.empty() ? "" : "x") + std::to_string(d);
    text += ':';
    bool first = true;
    for (double v : t.to(kFloat64).contiguous().to_vector<double>()) {
        text += (first ? "" : ",") + fmt::format("{}", v);
        first = false;
    }
    return text;
}

Tensor decode_tensor(const std::string& key, const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos) throw RuntimeError("checkpoint metadata " + key + ": not SHAPE:VALUES");
    Shape shape;
    std::vector<double> values;
    try {
        std::stringstream dims(text.substr(0, colon)), cells(text.substr(colon + 1));
        for (std::string d; std::getline(dims, d, 'x');) shape.push_back(std::stoll(d));
        for (std::string v; std::getline(cells, v, ',');) values.push_back(std::stod(v));
    } catch (const std::exception&) {
        throw RuntimeError("checkpoint metadata " + key + ": cannot read '" + text + "'");
    }
    return tensor(values, shape, kFloat64);
}

}  // namespace

TrainingRun::TrainingRun(const CommonOptions& options, int argc, char** argv, MetricKind kind, bool root,
                         bool distributed)
    : options_(options),
      arguments_(argv, argv + argc),
      kind_(std::move(kind)),
      root_(root),
      distributed_(distributed),
      checkpoint_(options.out + "/checkpoint.safetensors") {
    std::filesystem::create_directories(options_.out);
    if (root_) {
        for (const std::string& name : remove_stale_temporaries(options_.out)) {
            logging::info("removed ", options_.out, "/", name, ", left by an interrupted save");
        }
    }
    if (!distributed_) install_interrupt_handler();
}

bool TrainingRun::resume(Module& model, optim::Optimizer* optimizer, optim::LRScheduler* scheduler) {
    if (!options_.resume) {
        if (root_ && std::filesystem::exists(checkpoint_)) {
            logging::info("starting afresh; pass --resume to continue from ", checkpoint_);
        }
        return true;
    }
    if (!std::filesystem::exists(checkpoint_)) {
        logging::info("no checkpoint at ", checkpoint_, ": training from epoch 1");
        return true;
    }
    const TrainingState state = load_checkpoint(checkpoint_, model, optimizer, scheduler);
    const auto completed = static_cast<int>(state.epoch);
    auto extra = [&](const char* key) {
        const auto it = state.extra.find(key);
        return it == state.extra.end() ? 0.0 : std::stod(it->second);
    };
    for (const KeptState& kept : kept_) {
        const std::string prefix = "state." + kept.name + ".";
        StateDict restored;
        for (const auto& [key, value] : state.extra) {
            if (key.compare(0, prefix.size(), prefix) != 0) continue;
            restored.insert(key.substr(prefix.size()), decode_tensor(key, value));
        }
        if (restored.size() > 0) kept.load(restored);
    }
    resume_step_ = static_cast<std::size_t>(extra("step"));
    resume_loss_sum_ = extra("loss_sum");
    resume_examples_ = extra("examples");
    if (completed >= options_.epochs) {
        if (root_) {
            std::cout << checkpoint_ << " has finished " << completed << " epoch" << (completed == 1 ? "" : "s")
                      << " (--epochs " << options_.epochs << "): nothing to train, the outputs in " << options_.out
                      << " are left as they are.\nPass a larger --epochs with --resume to train further.\n";
        }
        return false;
    }
    first_epoch_ = completed + 1;
    // The history up to the checkpoint; rows written after it (a run killed later) are dropped.
    for (const auto& m : read_metrics_csv(options_.out + "/metrics.csv")) {
        if (m.epoch <= completed) history_.push_back(m);
    }
    for (const auto& s : read_steps_csv(options_.out + "/steps.csv")) {
        if (s.epoch <= completed || (s.epoch == first_epoch_ && s.step <= resume_step_)) steps_.push_back(s);
    }
    if (resume_step_ > 0) {
        logging::info("resumed from ", checkpoint_, " at epoch ", first_epoch_, ", step ", resume_step_);
    } else {
        logging::info("resumed from ", checkpoint_, " after epoch ", completed);
    }
    return true;
}

void TrainingRun::keep_state(const std::string& name, std::function<StateDict()> save,
                             std::function<void(const StateDict&)> load) {
    kept_.push_back({name, std::move(save), std::move(load)});
}

EpochProgress TrainingRun::begin_epoch(int epoch, std::size_t steps) {
    if (epoch == first_epoch_ && resume_step_ > 0) {
        return EpochProgress(*this, epoch, steps, std::min(resume_step_, steps), resume_loss_sum_, resume_examples_);
    }
    return EpochProgress(*this, epoch, steps, 0, 0.0, 0.0);
}

std::unique_ptr<ProgressBar> TrainingRun::evaluation_progress(std::size_t steps) const {
    return std::make_unique<ProgressBar>("evaluating", root_ ? steps : 0);
}

bool TrainingRun::stop_requested() const { return interrupt_requested(); }

std::optional<double> TrainingRun::epoch_seconds() const {
    if (measured_epochs_ == 0) return std::nullopt;
    return measured_seconds_ / measured_epochs_;
}

void TrainingRun::save(Module& model, optim::Optimizer* optimizer, optim::LRScheduler* scheduler, int completed_epochs,
                       const EpochProgress* partial) {
    TrainingState state;
    state.epoch = completed_epochs;
    for (const KeptState& kept : kept_) {
        for (const auto& [key, value] : kept.save()) {
            state.extra["state." + kept.name + "." + key] = encode_tensor(value);
        }
    }
    if (partial) {
        state.extra["step"] = std::to_string(partial->step());
        state.extra["loss_sum"] = fmt::format("{}", partial->loss_sum());  // shortest exact form
        state.extra["examples"] = fmt::format("{}", partial->examples());
    }
    save_checkpoint(checkpoint_, model, optimizer, scheduler, state);
}

void TrainingRun::write_records() {
    write_metrics_csv(options_.out + "/metrics.csv", history_, kind_);
    write_steps_csv(options_.out + "/steps.csv", steps_);
    plot_ = render_curves(options_.out, history_, steps_, kind_, why_no_plot_);
}

int TrainingRun::stop(Module& model, optim::Optimizer* optimizer, optim::LRScheduler* scheduler,
                      EpochProgress& progress) {
    progress.finish_bar();
    if (!root_) return 130;
    save(model, optimizer, scheduler, progress.epoch() - 1, &progress);
    write_records();
    std::cerr << "stopped at epoch " << progress.epoch() << ", step " << progress.step() << "/" << progress.steps()
              << "; checkpoint: " << checkpoint_ << "\nresume with:\n  " << resume_command(arguments_) << "\n";
    return 130;
}

void TrainingRun::end_epoch(EpochProgress& progress, const EpochMetrics& metrics, Module& model,
                            optim::Optimizer* optimizer, optim::LRScheduler* scheduler) {
    progress.finish_bar();
    measured_seconds_ += metrics.seconds;
    ++measured_epochs_;
    history_.push_back(metrics);
    if (!root_) return;
    save(model, optimizer, scheduler, progress.epoch(), nullptr);
    write_records();
}

}  // namespace samples
