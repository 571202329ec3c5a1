#include "progress.hpp"

#include <fmt/color.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include <sys/ioctl.h>
#include <unistd.h>

namespace samples {

namespace {

// Set by SIGWINCH: the next update redraws at once, at the new width.
std::atomic<bool> g_resized{false};
extern "C" void on_resize(int) { g_resized = true; }

void install_resize_handler() {
    static const bool installed = [] {
        struct sigaction action {};
        action.sa_handler = on_resize;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        return ::sigaction(SIGWINCH, &action, nullptr) == 0;
    }();
    (void)installed;
}

std::string colored(const std::string& text, fmt::terminal_color c, bool color) {
    return color ? fmt::format(fmt::fg(c), "{}", text) : text;
}

}  // namespace

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const auto s = static_cast<long long>(std::llround(seconds));
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string format_rate(double per_second) {
    if (!std::isfinite(per_second) || per_second < 0) return "?/s";
    if (per_second < 1e4) return fmt::format("{:.0f}/s", per_second);
    if (per_second < 1e6) return fmt::format("{:.1f}k/s", per_second / 1e3);
    return fmt::format("{:.1f}M/s", per_second / 1e6);
}

std::optional<double> eta_seconds(double elapsed, std::size_t done, std::size_t total) {
    if (done == 0 || total == 0 || elapsed < 0) return std::nullopt;
    if (done >= total) return 0.0;
    return elapsed / static_cast<double>(done) * static_cast<double>(total - done);
}

std::optional<double> run_eta_seconds(const ProgressSnapshot& s) {
    const auto eta = eta_seconds(s.elapsed, s.done, s.total);
    if (!eta) return std::nullopt;
    const double per_epoch = s.epoch_seconds ? *s.epoch_seconds : s.elapsed + *eta;
    return *eta + std::max(0, s.epochs_after) * per_epoch;
}

std::string render_progress_line(const ProgressSnapshot& s, int width, bool color) {
    const auto budget = static_cast<std::size_t>(std::max(1, width - 1));
    const double fraction = s.total ? std::min(1.0, static_cast<double>(s.done) / static_cast<double>(s.total)) : 0.0;
    const auto eta = eta_seconds(s.elapsed, s.done, s.total);
    const auto run_eta = run_eta_seconds(s);

    // Optional fields, in the order they are given up when the line is too wide.
    struct Field {
        std::string text;
        std::string shown;  // with colour codes
        bool keep = true;
    };
    auto plain_field = [](std::string t) { return Field{t, t, true}; };
    const std::string percent = fmt::format(" {:3.0f}%", fraction * 100);
    Field rate = plain_field(s.elapsed > 0 ? " " + format_rate(s.samples / s.elapsed) : "");
    Field elapsed = plain_field(" " + format_duration(s.elapsed) + " elapsed");
    Field run = plain_field(s.epochs_after > 0 && run_eta ? " run " + format_duration(*run_eta) : "");
    Field steps = plain_field(fmt::format(" {}/{}", s.done, s.total));
    Field remaining = plain_field(" ETA " + (eta ? format_duration(*eta) : std::string("?")));
    Field loss;
    if (s.loss) {
        const std::string value = fmt::format("{:.4f}", *s.loss);
        loss = Field{" loss " + value, " loss " + colored(value, fmt::terminal_color::cyan, color), true};
    } else {
        loss = Field{"", "", false};
    }
    std::vector<Field*> drop_order{&rate, &elapsed, &run, &steps, &remaining, &loss};

    auto fixed_length = [&] {
        std::size_t n = s.label.size() + percent.size();
        for (Field* f : drop_order) {
            if (f->keep) n += f->text.size();
        }
        return n;
    };
    constexpr std::size_t bar_min = 10, bar_max = 30, bar_frame = 3;  // " [" and "]"
    for (Field* f : drop_order) {
        if (fixed_length() + bar_frame + bar_min <= budget) break;
        f->keep = false;
    }
    std::string bar, bar_shown;
    if (fixed_length() + bar_frame + 5 <= budget) {
        const std::size_t inner = std::min(bar_max, budget - fixed_length() - bar_frame);
        const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(inner));
        const std::string full(filled, '='), empty(inner - filled, ' ');
        bar = " [" + full + empty + "]";
        bar_shown = " [" + colored(full, fmt::terminal_color::green, color) + empty + "]";
    }
    std::string text = s.label + bar + percent, shown = s.label + bar_shown + percent;
    for (Field* f : {&steps, &loss, &remaining, &run, &elapsed, &rate}) {
        if (!f->keep) continue;
        text += f->text;
        shown += f->shown;
    }
    if (text.size() > budget) return text.substr(0, budget);  // narrower than the label: cut, no colour
    return shown;
}

std::string render_plain_line(const ProgressSnapshot& s) {
    const double fraction = s.total ? std::min(1.0, static_cast<double>(s.done) / static_cast<double>(s.total)) : 0.0;
    std::string line = fmt::format("{}: {}/{} steps ({:.0f}%)", s.label, s.done, s.total, fraction * 100);
    if (s.loss) line += fmt::format(", loss {:.4f}", *s.loss);
    line += ", elapsed " + format_duration(s.elapsed);
    if (const auto eta = eta_seconds(s.elapsed, s.done, s.total)) line += ", ETA " + format_duration(*eta);
    if (s.epochs_after > 0) {
        if (const auto run = run_eta_seconds(s)) line += ", run ETA " + format_duration(*run);
    }
    if (s.elapsed > 0) {
        std::string rate = format_rate(s.samples / s.elapsed);
        line += ", " + rate.insert(rate.size() - 2, " samples");  // "3.1k samples/s"
    }
    return line;
}

bool redraw_due(std::chrono::steady_clock::duration since_last_draw, bool last_step, bool resized) {
    return last_step || resized || since_last_draw >= std::chrono::milliseconds(100);
}

bool plain_line_due(std::size_t done, std::size_t total, int next_decile,
                    std::chrono::steady_clock::duration since_last) {
    if (total == 0 || done >= total) return false;
    return static_cast<int>(done * 10 / total) >= next_decile && since_last >= std::chrono::seconds(5);
}

int terminal_width(int fd) {
    struct winsize size {};
    if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    if (const char* columns = std::getenv("COLUMNS")) {
        const int n = std::atoi(columns);
        if (n > 0) return n;
    }
    return 80;
}

bool use_color(bool is_tty, const char* term, const char* no_color) {
    if (!is_tty) return false;
    if (no_color && *no_color) return false;  // https://no-color.org: set to anything non-empty
    return !(term == nullptr || std::string_view(term).empty() || std::string_view(term) == "dumb");
}

ProgressBar::ProgressBar(std::string label, std::size_t total, int epochs_after, std::optional<double> epoch_seconds)
    : tty_(::isatty(STDERR_FILENO) != 0),
      color_(use_color(tty_, std::getenv("TERM"), std::getenv("NO_COLOR"))),
      start_(std::chrono::steady_clock::now()) {
    snapshot_.label = std::move(label);
    snapshot_.total = total;
    snapshot_.epochs_after = epochs_after;
    snapshot_.epoch_seconds = epoch_seconds;
    if (tty_) install_resize_handler();
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(std::size_t done, std::optional<double> loss, double samples) {
    if (snapshot_.total == 0 || finished_) return;
    const auto now = std::chrono::steady_clock::now();
    snapshot_.done = done;
    snapshot_.loss = loss;
    snapshot_.samples = samples;
    snapshot_.elapsed = std::chrono::duration<double>(now - start_).count();
    const bool last = done >= snapshot_.total;
    if (tty_) {
        const bool resized = g_resized.exchange(false);
        if (redraw_due(now - last_draw_, last, resized)) {
            last_draw_ = now;
            draw();
        }
        return;
    }
    // Not a terminal: a plain line at each 10 % of a long pass (at most one per 5 s, none for the
    // last step: the epoch's own log line follows), so a log file gets a few lines per epoch.
    if (plain_line_due(done, snapshot_.total, next_plain_decile_, now - std::max(start_, last_draw_))) {
        next_plain_decile_ = static_cast<int>(done * 10 / snapshot_.total) + 1;
        last_draw_ = now;
        std::fprintf(stderr, "%s\n", render_plain_line(snapshot_).c_str());
    }
}

void ProgressBar::draw() {
    const std::string line = render_progress_line(snapshot_, terminal_width(STDERR_FILENO), color_);
    std::fprintf(stderr, "\r\x1b[2K%s", line.c_str());  // clear the whole line: it may have been longer
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (finished_) return;
    finished_ = true;
    if (tty_ && snapshot_.total != 0 && last_draw_ != std::chrono::steady_clock::time_point{}) {
        std::fprintf(stderr, "\r\x1b[2K");
        std::fflush(stderr);
    }
}

}  // namespace samples
