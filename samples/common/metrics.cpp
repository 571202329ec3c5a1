#include "metrics.hpp"

#include <lazynn/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <cerrno>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace samples {

namespace {

/// Writes `text` to `path` through `path.tmp` and a rename, so a reader never sees half a file.
void write_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << text;
        if (!f.flush()) throw lazynn::RuntimeError(path + ": cannot write");
    }
    std::filesystem::rename(tmp, path);
}

std::vector<std::string> split_csv_line(const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream in(line);
    std::string cell;
    while (std::getline(in, cell, ',')) cells.push_back(cell);
    return cells;
}

/// Data rows of a CSV file with `columns` numeric columns (the header is skipped).
std::vector<std::vector<double>> read_numeric_csv(const std::string& path, std::size_t columns) {
    std::vector<std::vector<double>> rows;
    std::ifstream in(path);
    if (!in) return rows;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (number == 1 || line.empty()) continue;
        const auto cells = split_csv_line(line);
        std::vector<double> row;
        try {
            for (const auto& c : cells) {
                std::size_t used = 0;
                row.push_back(std::stod(c, &used));
                if (used != c.size()) throw std::invalid_argument(c);
            }
        } catch (const std::exception&) {
            row.clear();
        }
        if (row.size() != columns) {
            throw lazynn::RuntimeError(
                fmt::format("{}:{}: expected {} numbers, got '{}' (delete the file to start "
                            "the history afresh)",
                            path, number, columns, line));
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string quoted(const std::string& path) {
    std::string q = "'";
    for (char c : path) q += (c == '\'') ? std::string("''") : std::string(1, c);  // gnuplot's '' escape
    return q + "'";
}

}  // namespace

void write_metrics_csv(const std::string& path, const std::vector<EpochMetrics>& history, const MetricKind& kind) {
    std::string text = "epoch,train_loss,test_loss," + kind.column + ",seconds\n";
    for (const auto& m : history) {
        text += fmt::format("{},{:.6g},{:.6g},{:.6g},{:.4g}\n", m.epoch, m.train_loss, m.test_loss, m.test_metric,
                            m.seconds);
    }
    write_atomically(path, text);
}

std::vector<EpochMetrics> read_metrics_csv(const std::string& path) {
    std::vector<EpochMetrics> history;
    for (const auto& r : read_numeric_csv(path, 5)) history.push_back({static_cast<int>(r[0]), r[1], r[2], r[3], r[4]});
    return history;
}

void write_steps_csv(const std::string& path, const std::vector<StepLoss>& steps) {
    std::string text = "epoch,step,steps,train_loss\n";
    for (const auto& s : steps) text += fmt::format("{},{},{},{:.6g}\n", s.epoch, s.step, s.steps, s.loss);
    write_atomically(path, text);
}

std::vector<StepLoss> read_steps_csv(const std::string& path) {
    std::vector<StepLoss> steps;
    for (const auto& r : read_numeric_csv(path, 4)) {
        steps.push_back({static_cast<int>(r[0]), static_cast<std::size_t>(r[1]), static_cast<std::size_t>(r[2]), r[3]});
    }
    return steps;
}

bool spans_decades(const std::vector<double>& values) {
    double lo = INFINITY, hi = 0;
    for (double v : values) {
        if (!(v > 0) || !std::isfinite(v)) continue;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    return hi > 0 && hi > 100 * lo;
}

int epoch_tick_step(int epochs) {
    if (epochs <= 10) return 1;
    for (int step : {2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000}) {
        if (epochs <= 10 * step) return step;
    }
    return (epochs + 9) / 10;
}

std::string gnuplot_script(const std::string& metrics_csv, const std::string& steps_csv, const std::string& png,
                           const std::vector<EpochMetrics>& history, const std::vector<StepLoss>& steps,
                           const MetricKind& kind) {
    const int last = history.empty() ? 1 : std::max(1, history.back().epoch);
    std::vector<double> losses;
    for (const auto& m : history) {
        losses.push_back(m.train_loss);
        losses.push_back(m.test_loss);
    }
    for (const auto& s : steps) losses.push_back(s.loss);
    const bool log_scale = spans_decades(losses);

    std::string g;
    g += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo enhanced size 1100,450 font ',10' } "
         "else { set terminal png enhanced size 1100,450 }\n";
    g += "set output " + quoted(png) + "\n";
    g += "set datafile separator ','\n";
    g += "set multiplot layout 1,2\n";
    // Epochs are whole numbers: ticks at integers only, the range from 0 (start of training) to the last epoch.
    // A little room right of the last epoch so its points are not cut by the border.
    g += fmt::format("set xrange [0:{:.2f}]\nset xtics 0,{}\nset mxtics 1\nset format x '%.0f'\n", last * 1.03,
                     epoch_tick_step(last));
    g += "set xlabel 'epoch'\nset grid\n";
    g += "set key above horizontal\n";  // legends between title and plot, never over a curve
    g += "set title 'loss'\n";
    if (log_scale)
        g += "set logscale y\nset ylabel 'loss (log scale)'\n";
    else
        g += "set ylabel 'loss'\n";
    std::string plot = "plot ";
    if (!steps.empty()) {
        plot += quoted(steps_csv) +
                " using (($1 - 1) + $2 / $3):4 skip 1 with lines lc rgb '#9ecae1' lw 1 "
                "title 'train (each step)', ";
    }
    plot += quoted(metrics_csv) +
            " using 1:2 skip 1 with linespoints lc rgb '#08519c' pt 7 lw 2 title 'train (epoch mean)', ";
    plot += quoted(metrics_csv) + " using 1:3 skip 1 with linespoints lc rgb '#d94801' pt 5 lw 2 title 'test'\n";
    g += plot;
    g += "unset logscale y\n";
    g += "set title '" + kind.title + (kind.percent ? " (%)" : "") + "'\n";
    g += std::string("set ylabel '") + (kind.percent ? "%" : kind.title) + "'\n";
    g += quoted(metrics_csv).insert(0, "plot ") + (kind.percent ? " using 1:($4 * 100)" : " using 1:4") +
         " skip 1 with linespoints lc rgb '#238b45' pt 7 lw 2 title '" + kind.title + "'\n";
    g += "unset multiplot\n";
    return g;
}

namespace {

/// Runs `program` (looked up on PATH) with `script` as its argument, output to `log`, and waits.
/// Not std::system: that ignores SIGINT while the child runs, which would swallow a Ctrl-C.
bool run_program(const std::string& program, const std::string& script, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<std::string> args{program, script};
    std::vector<char*> argv{args[0].data(), args[1].data(), nullptr};
    pid_t pid = 0;
    const int failed = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (failed) return false;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

bool gnuplot_available() {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (!dir.empty() && ::access((dir + "/gnuplot").c_str(), X_OK) == 0) return true;
    }
    return false;
}

std::string render_curves(const std::string& out_dir, const std::vector<EpochMetrics>& history,
                          const std::vector<StepLoss>& steps, const MetricKind& kind, std::string& why_not) {
    if (history.empty()) {
        why_not = "no finished epoch to plot yet";
        return "";
    }
    if (!gnuplot_available()) {
        why_not = "install gnuplot to render curves.png";
        return "";
    }
    const std::string png = out_dir + "/curves.png", script = out_dir + "/curves.gnuplot";
    const std::string tmp_png = png + ".tmp";
    {
        std::ofstream g(script, std::ios::trunc);
        g << gnuplot_script(out_dir + "/metrics.csv", out_dir + "/steps.csv", tmp_png, history, steps, kind);
    }
    const std::string log = out_dir + "/curves.log";
    if (!run_program("gnuplot", script, log)) {
        std::filesystem::remove(tmp_png);
        why_not = "gnuplot failed (see " + log + ")";
        return "";
    }
    std::filesystem::rename(tmp_png, png);
    std::filesystem::remove(log);
    return png;
}

}  // namespace samples
