#include "training_support.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace samples {

int parse_options(int argc, char** argv, const std::string& description, CommonOptions& o) {
    CLI::App app(description);
    app.add_option("--epochs", o.epochs, "number of passes over the training set")->capture_default_str();
    app.add_option("--batch-size", o.batch_size, "examples per step")->capture_default_str();
    app.add_option("--lr", o.lr, "learning rate")->capture_default_str();
    app.add_option("--seed", o.seed, "seed for weights, shuffling and augmentation")->capture_default_str();
    app.add_option("--data", o.data, "directory with the dataset files")->capture_default_str();
    app.add_option("--out", o.out, "directory for metrics.csv, the checkpoint and the plot")->capture_default_str();
    app.add_flag("--resume", o.resume, "continue from OUT/checkpoint.safetensors");
    app.add_option("--threads", o.threads, "threads for GEMMs and lazynn's kernels (one per core)")->capture_default_str();
    app.add_flag("--distributed", o.distributed,
                 "data-parallel training over the ranks of mpirun -np N (each rank takes --batch-size examples per step)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return -1;
}

ProgressBar::ProgressBar(std::string label, std::size_t total)
    : label_(std::move(label)), total_(total), tty_(::isatty(fileno(stderr)) != 0), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(std::size_t done, double loss, std::size_t samples) {
    if (!tty_ || total_ == 0) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double fraction = static_cast<double>(done) / static_cast<double>(total_);
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    const double eta = done ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0.0;
    std::fprintf(stderr, "\r%s [%s%s] %3d%%  loss %.4f  %6.0f samples/s  ETA %4.0fs", label_.c_str(), std::string(static_cast<std::size_t>(filled), '=').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), static_cast<int>(fraction * 100), loss,
                 elapsed > 0 ? static_cast<double>(samples) / elapsed : 0.0, eta);
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (tty_) std::fprintf(stderr, "\r%s\r", std::string(100, ' ').c_str());
}

std::string record_metrics(const std::string& out_dir, const std::vector<EpochMetrics>& history) {
    std::filesystem::create_directories(out_dir);
    const std::string csv = out_dir + "/metrics.csv";
    {
        std::ofstream f(csv + ".tmp");
        f << "epoch,train_loss,test_loss,test_accuracy,seconds\n" << std::setprecision(6);
        for (const auto& m : history) f << m.epoch << ',' << m.train_loss << ',' << m.test_loss << ',' << m.test_accuracy << ',' << m.seconds << '\n';
    }
    std::filesystem::rename(csv + ".tmp", csv);
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return "";
    const std::string png = out_dir + "/curves.png";
    const std::string script = out_dir + "/curves.gnuplot";
    {
        std::ofstream g(script);
        g << "set terminal png size 1000,400\nset output '" << png << "'\nset datafile separator ','\nset key autotitle columnhead\n"
          << "set multiplot layout 1,2\nset xlabel 'epoch'\nset title 'loss'\n"
          << "plot '" << csv << "' using 1:2 with linespoints title 'train', '' using 1:3 with linespoints title 'test'\n"
          << "set title 'test accuracy'\nplot '" << csv << "' using 1:4 with linespoints title 'accuracy'\nunset multiplot\n";
    }
    if (std::system(("gnuplot '" + script + "' >/dev/null 2>&1").c_str()) != 0) return "";
    return png;
}

EvaluationTotals evaluate(lazynn::Module& model, lazynn::data::DataLoader& loader) {
    using namespace lazynn;
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    EvaluationTotals totals;
    for (const data::Example& batch : loader) {
        const Tensor logits = model(batch.data);
        {
            nn::functional::CrossEntropyOptions o;
            o.reduction = nn::Reduction::Sum;
            totals.loss_sum += nn::functional::cross_entropy(logits, batch.target, o).item<double>();
        }
        totals.correct += (logits.argmax(1) == batch.target).sum().item<double>();
        totals.count += static_cast<double>(batch.target.size(0));
    }
    model.train(was_training);
    return totals;
}

}  // namespace samples
