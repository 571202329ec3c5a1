#pragma once
// The samples' progress line: one line that redraws itself on a terminal (fitted to its width,
// at most ten times a second, again at once after a resize), or a plain line every 10 % when
// stderr is a file or a pipe. The formatting is pure functions, tested in tests/test_samples.cpp.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace samples {

/// What one progress line shows.
struct ProgressSnapshot {
    std::string label;                    ///< "epoch 2/5" or "eval"
    std::size_t done = 0;                 ///< steps finished
    std::size_t total = 0;                ///< steps in this pass
    double elapsed = 0;                   ///< seconds since the pass started
    std::optional<double> loss;           ///< running mean loss (training only)
    double samples = 0;                   ///< examples processed (for the throughput)
    int epochs_after = 0;                 ///< epochs of the run still to come after this pass
    std::optional<double> epoch_seconds;  ///< measured seconds per epoch (train + eval), if any
};

/// "7s", "3m07s", "2h05m"; "?" for a negative or non-finite value.
std::string format_duration(double seconds);
/// "950/s", "12.3k/s", "1.2M/s".
std::string format_rate(double per_second);
/// Remaining seconds of a pass from its elapsed time and progress; none before the first step.
std::optional<double> eta_seconds(double elapsed, std::size_t done, std::size_t total);
/// Remaining seconds of the run: this pass's ETA plus the later epochs, each as long as the
/// measured epoch (or, before one was measured, as this pass's projected length).
std::optional<double> run_eta_seconds(const ProgressSnapshot& s);
/// The line for a terminal `width` columns wide: never more than width - 1 visible characters
/// (writing the last column makes some terminals wrap). Fields are dropped from the least useful
/// (throughput, elapsed, run ETA) and the bar shrinks to make room. With `color`, ANSI colour
/// codes (not counted in the width) mark the bar and the loss.
std::string render_progress_line(const ProgressSnapshot& s, int width, bool color);
/// The non-terminal form: no control codes, every field.
std::string render_plain_line(const ProgressSnapshot& s);
/// Whether a terminal line is due: at most ten redraws a second, but always the last step of a
/// pass and the first update after a resize.
bool redraw_due(std::chrono::steady_clock::duration since_last_draw, bool last_step, bool resized);
/// Whether a plain (non-terminal) line is due: when `done` reaches the next tenth of `total` (not
/// for the last step, the epoch's own line follows) and at least 5 s after the previous line.
bool plain_line_due(std::size_t done, std::size_t total, int next_decile,
                    std::chrono::steady_clock::duration since_last);
/// The number of columns of the terminal on `fd`, else $COLUMNS, else 80.
int terminal_width(int fd);
/// Whether to colour: a terminal that is not "dumb" and NO_COLOR unset or empty.
bool use_color(bool is_tty, const char* term, const char* no_color);

class ProgressBar {
public:
    /// `label` names the pass, `total` its steps (0 draws nothing: e.g. on ranks other than 0).
    /// `epochs_after` and `epoch_seconds` give the run's ETA (see run_eta_seconds).
    ProgressBar(std::string label, std::size_t total, int epochs_after = 0,
                std::optional<double> epoch_seconds = std::nullopt);
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    /// Records progress; draws when the line is due (100 ms since the last, a resize, the last step).
    void update(std::size_t done, std::optional<double> loss, double samples);
    /// Clears the line on a terminal.
    void finish();

private:
    void draw();

    ProgressSnapshot snapshot_;
    bool tty_;
    bool color_;
    bool finished_ = false;
    int next_plain_decile_ = 1;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace samples
