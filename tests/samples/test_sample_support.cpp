// The sample trainers' helpers (samples/common): progress-line formatting, command-line checks,
// the resume command, metrics files, the plot script and the clean-up of interrupted saves.
// The trainers themselves run end to end in run_sample_interrupt.sh.
#include "test_support.hpp"

#include "interrupt.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "training_run.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

using namespace samples;

namespace {

std::string strip_ansi(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\x1b') {
            while (i < s.size() && s[i] != 'm') ++i;
            continue;
        }
        out += s[i];
    }
    return out;
}

ProgressSnapshot training_snapshot() {
    ProgressSnapshot s;
    s.label = "epoch 2/5";
    s.done = 250;
    s.total = 1000;
    s.elapsed = 10;
    s.loss = 0.5;
    s.samples = 16000;
    s.epochs_after = 3;
    return s;
}

/// Runs parse_options on `args` and returns {exit code, what CLI11 printed}.
std::pair<int, std::string> parse(std::vector<std::string> args, DataKind data, CommonOptions& o) {
    args.insert(args.begin(), "sample");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream captured_out, captured_err;
    auto* old_out = std::cout.rdbuf(captured_out.rdbuf());
    auto* old_err = std::cerr.rdbuf(captured_err.rdbuf());
    const int code = parse_options(static_cast<int>(argv.size()), argv.data(), {"test sample", data, "data help"}, o);
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    return {code, captured_out.str() + captured_err.str()};
}

struct TempDir {
    std::filesystem::path path;
    TempDir() : path(std::filesystem::temp_directory_path() / ("lazynn-samples-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

void touch(const std::string& path) { std::ofstream(path) << "x"; }

}  // namespace

TEST_SUITE("samples: progress line") {
    TEST_CASE("durations, rates and ETAs") {
        CHECK(format_duration(0) == "0s");
        CHECK(format_duration(59.4) == "59s");
        CHECK(format_duration(187) == "3m07s");
        CHECK(format_duration(7500) == "2h05m");
        CHECK(format_duration(-1) == "?");
        CHECK(format_duration(std::nan("")) == "?");
        CHECK(format_rate(950) == "950/s");
        CHECK(format_rate(12345) == "12.3k/s");
        CHECK(format_rate(1.2e6) == "1.2M/s");

        CHECK_FALSE(eta_seconds(0.0, 0, 100).has_value());  // nothing measured yet
        CHECK(eta_seconds(10.0, 25, 100).value() == doctest::Approx(30.0));
        CHECK(eta_seconds(10.0, 100, 100).value() == 0.0);

        ProgressSnapshot s = training_snapshot();
        // Before an epoch was measured, later epochs are as long as this one's projection (40 s).
        CHECK(run_eta_seconds(s).value() == doctest::Approx(30.0 + 3 * 40.0));
        s.epoch_seconds = 20.0;
        CHECK(run_eta_seconds(s).value() == doctest::Approx(30.0 + 3 * 20.0));
    }

    TEST_CASE("the terminal line fits every width and drops the least useful fields first") {
        const ProgressSnapshot s = training_snapshot();
        for (int width = 1; width <= 200; ++width) {
            const std::string line = render_progress_line(s, width, false);
            CHECK_MESSAGE(static_cast<int>(line.size()) <= std::max(1, width - 1), "width " << width << ": " << line);
            CHECK(line.find('\n') == std::string::npos);
            CHECK(line.find('\x1b') == std::string::npos);
            // With colour the same characters are visible; the escape codes take no columns.
            CHECK(strip_ansi(render_progress_line(s, width, true)) == line);
        }
        const std::string wide = render_progress_line(s, 200, false);
        for (const char* field :
             {"epoch 2/5", "[", " 25%", "250/1000", "loss 0.5000", "ETA 30s", "run 2m", "10s elapsed", "1600/s"}) {
            CHECK_MESSAGE(wide.find(field) != std::string::npos, field << " missing from " << wide);
        }
        const std::string standard = render_progress_line(s, 80, false);
        CHECK(standard.size() <= 79);
        CHECK(standard.find("loss 0.5000") != std::string::npos);
        CHECK(standard.find("ETA 30s") != std::string::npos);
        CHECK(standard.find("[") != std::string::npos);
        const std::string narrow = render_progress_line(s, 40, false);
        CHECK(narrow.find("epoch 2/5") == 0);
        CHECK(narrow.find(" 25%") != std::string::npos);
        CHECK(narrow.find("/s") == std::string::npos);  // throughput goes first
        CHECK(render_progress_line(s, 5, false) == "epoc");

        // Evaluation: no loss, no run ETA.
        ProgressSnapshot eval;
        eval.label = "evaluating";
        eval.done = 5;
        eval.total = 10;
        eval.elapsed = 1;
        eval.samples = 5000;
        const std::string e = render_progress_line(eval, 100, false);
        CHECK(e.find("loss") == std::string::npos);
        CHECK(e.find("run") == std::string::npos);
        CHECK(e.find(" 50%") != std::string::npos);
    }

    TEST_CASE("the plain line has every field and no control codes") {
        const std::string line = render_plain_line(training_snapshot());
        CHECK(line ==
              "epoch 2/5: 250/1000 steps (25%), loss 0.5000, elapsed 10s, ETA 30s, run ETA 2m30s, 1600 samples/s");
        for (char c : line) CHECK(static_cast<unsigned char>(c) >= 0x20);
    }

    TEST_CASE("at most ten redraws a second on a terminal, a plain line per tenth and 5 s off one") {
        using namespace std::chrono_literals;
        CHECK_FALSE(redraw_due(99ms, false, false));
        CHECK(redraw_due(100ms, false, false));
        CHECK(redraw_due(1ms, true, false));  // the last step is always drawn
        CHECK(redraw_due(1ms, false, true));  // at once after a resize

        CHECK_FALSE(plain_line_due(99, 1000, 1, 60s));  // not yet 10 %
        CHECK(plain_line_due(100, 1000, 1, 60s));
        CHECK_FALSE(plain_line_due(100, 1000, 1, 4s));   // a short pass prints nothing
        CHECK_FALSE(plain_line_due(350, 1000, 4, 60s));  // 30 % was printed already
        CHECK(plain_line_due(420, 1000, 4, 60s));
        CHECK_FALSE(plain_line_due(1000, 1000, 10, 60s));  // the epoch's own line follows
        CHECK_FALSE(plain_line_due(5, 0, 1, 60s));
    }

    TEST_CASE("colour only on a real terminal without NO_COLOR") {
        CHECK(use_color(true, "xterm-256color", nullptr));
        CHECK(use_color(true, "xterm", ""));  // NO_COLOR set but empty does not count
        CHECK_FALSE(use_color(true, "xterm", "1"));
        CHECK_FALSE(use_color(true, "dumb", nullptr));
        CHECK_FALSE(use_color(true, nullptr, nullptr));
        CHECK_FALSE(use_color(false, "xterm", nullptr));
    }
}

TEST_SUITE("samples: command line") {
    TEST_CASE("valid flags are read") {
        CommonOptions o;
        const auto [code, text] =
            parse({"--epochs", "3", "--batch-size", "16", "--lr", "0.01", "--threads", "2"}, DataKind::None, o);
        CHECK(code == -1);
        CHECK(o.epochs == 3);
        CHECK(o.batch_size == 16);
        CHECK(o.lr == 0.01);
        CHECK(o.threads == 2);
    }

    TEST_CASE("zero, negative and non-finite values are refused naming the flag") {
        const std::vector<std::pair<std::string, std::string>> bad{
            {"--batch-size", "-5"}, {"--batch-size", "0"}, {"--epochs", "0"}, {"--epochs", "-1"}, {"--lr", "0"},
            {"--lr", "-0.1"},       {"--lr", "nan"},       {"--lr", "inf"},   {"--threads", "0"}, {"--threads", "-2"}};
        for (const auto& flag_value : bad) {
            // Named variables, not structured bindings: clang 14 cannot capture those (CHECK_MESSAGE).
            const std::string& flag = flag_value.first;
            const std::string& value = flag_value.second;
            CommonOptions o;
            const auto parsed = parse({flag, value}, DataKind::None, o);
            const int code = parsed.first;
            const std::string& text = parsed.second;
            CHECK_MESSAGE(code > 0, flag << " " << value << " was accepted");
            CHECK_MESSAGE(text.find(flag) != std::string::npos, flag << " " << value << ": " << text);
        }
    }

    TEST_CASE("a sample refuses the flags it does not use, and --data names a file or a directory") {
        TempDir dir;
        touch(dir.file("text.txt"));
        CommonOptions o;
        auto [code, text] = parse({"--data", dir.file("text.txt")}, DataKind::None, o);
        CHECK(code > 0);
        CHECK(text.find("--data") != std::string::npos);

        std::tie(code, text) = parse({"--data", dir.file("text.txt")}, DataKind::Directory, o);
        CHECK(code > 0);
        CHECK(text.find("--data") != std::string::npos);
        std::tie(code, text) = parse({"--data", dir.path.string()}, DataKind::Directory, o);
        CHECK(code == -1);

        std::tie(code, text) = parse({"--data", dir.path.string()}, DataKind::File, o);
        CHECK(code > 0);
        std::tie(code, text) = parse({"--data", dir.file("text.txt")}, DataKind::File, o);
        CHECK(code == -1);
        std::tie(code, text) = parse({"--data", dir.file("missing.txt")}, DataKind::File, o);
        CHECK(code > 0);
        CHECK(text.find("missing.txt") != std::string::npos);
    }

    TEST_CASE("the resume command repeats the arguments, quoted, with --resume once") {
        CHECK(resume_command({"./build/x", "--epochs", "3", "--out", "my dir"}) ==
              "./build/x --epochs 3 --out 'my dir' --resume");
        CHECK(resume_command({"x", "--resume", "--lr=0.1"}) == "x --resume --lr=0.1");
        CHECK(shell_quote("it's") == "'it'\\''s'");
        CHECK(shell_quote("") == "''");
    }
}

TEST_SUITE("samples: records") {
    TEST_CASE("metrics.csv and steps.csv round-trip; a bad row names the file and line") {
        TempDir dir;
        const std::vector<EpochMetrics> history{{1, 0.75, 0.5, 0.875, 1.5}, {2, 0.25, 0.375, 0.9375, 1.25}};
        write_metrics_csv(dir.file("metrics.csv"), history, MetricKind{});
        const auto back = read_metrics_csv(dir.file("metrics.csv"));
        REQUIRE(back.size() == 2);
        CHECK(back[1].epoch == 2);
        CHECK(back[1].train_loss == 0.25);
        CHECK(back[1].test_metric == 0.9375);
        std::ifstream in(dir.file("metrics.csv"));
        std::string header;
        std::getline(in, header);
        CHECK(header == "epoch,train_loss,test_loss,test_accuracy,seconds");

        write_steps_csv(dir.file("steps.csv"), {{1, 1, 2, 2.5}, {1, 2, 2, 1.5}});
        const auto steps = read_steps_csv(dir.file("steps.csv"));
        REQUIRE(steps.size() == 2);
        CHECK(steps[1].step == 2);
        CHECK(steps[1].loss == 1.5);

        CHECK(read_metrics_csv(dir.file("absent.csv")).empty());
        std::ofstream(dir.file("bad.csv"))
            << "epoch,train_loss,test_loss,test_accuracy,seconds\n1,0.5,0.4,0.9,1\n2,oops,0.4,0.9,1\n";
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(read_metrics_csv(dir.file("bad.csv")), lazynn::RuntimeError, "bad.csv:3");
    }

    TEST_CASE("plot script: integer epoch ticks, legend outside the plot, percent, R^2, log scale across decades") {
        CHECK(epoch_tick_step(1) == 1);
        CHECK(epoch_tick_step(10) == 1);
        CHECK(epoch_tick_step(11) == 2);
        CHECK(epoch_tick_step(60) == 10);
        CHECK(epoch_tick_step(101) == 20);
        CHECK(spans_decades({10.0, 0.05}));
        CHECK_FALSE(spans_decades({2.3, 0.3}));
        CHECK_FALSE(spans_decades({}));

        const std::vector<EpochMetrics> one{{1, 0.6, 0.5, 0.8, 1.0}};
        const std::string classifier = gnuplot_script("m.csv", "s.csv", "c.png", one, {{1, 1, 1, 0.6}}, MetricKind{});
        CHECK(classifier.find("set xrange [0:1.03]") != std::string::npos);
        CHECK(classifier.find("set xtics 0,1") != std::string::npos);
        CHECK(classifier.find("set key above") != std::string::npos);
        CHECK(classifier.find("($4 * 100)") != std::string::npos);
        CHECK(classifier.find("test accuracy (%)") != std::string::npos);
        CHECK(classifier.find("each step") != std::string::npos);
        CHECK(classifier.find("\nset logscale") == std::string::npos);  // losses within two decades: linear

        const std::vector<EpochMetrics> regression{{1, 12.0, 4.0, 0.2, 0.1}, {60, 0.09, 0.09, 0.99, 0.1}};
        const std::string r2 =
            gnuplot_script("m.csv", "s.csv", "c.png", regression, {}, MetricKind{"test_r2", "test R^2", false});
        CHECK(r2.find("set logscale y") != std::string::npos);
        CHECK(r2.find("test R^2") != std::string::npos);
        CHECK(r2.find("* 100") == std::string::npos);
        CHECK(r2.find("set xtics 0,10") != std::string::npos);
        CHECK(r2.find("each step") == std::string::npos);  // no steps recorded: no per-step curve
    }

    TEST_CASE("temporary files of dead processes are removed, a running process's are kept") {
        TempDir dir;
        const pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        ::waitpid(child, nullptr, 0);  // now a pid of no running process
        const std::string dead = "checkpoint.safetensors.tmp-" + std::to_string(child) + "-0";
        const std::string alive = "checkpoint.safetensors.tmp-" + std::to_string(::getpid()) + "-3";
        for (const auto& name : {dead, alive, std::string("metrics.csv.tmp"), std::string("checkpoint.safetensors"),
                                 std::string("notes.tmp-draft")}) {
            touch(dir.file(name));
        }
        auto removed = remove_stale_temporaries(dir.path.string());
        std::sort(removed.begin(), removed.end());
        CHECK(removed == std::vector<std::string>{dead, "metrics.csv.tmp"});
        CHECK(std::filesystem::exists(dir.file(alive)));
        CHECK(std::filesystem::exists(dir.file("checkpoint.safetensors")));
        CHECK(std::filesystem::exists(dir.file("notes.tmp-draft")));
        CHECK(remove_stale_temporaries(dir.file("absent")).empty());
    }
}

TEST_SUITE("samples: training run") {
    TEST_CASE("kept state and history travel in the checkpoint; a finished run is left alone") {
        TempDir dir;
        CommonOptions o;
        o.out = dir.path.string();
        o.epochs = 1;
        std::string program = "sample";
        char* argv[] = {program.data()};
        lazynn::nn::Linear model(2, 1);
        lazynn::optim::SGD sgd(model.parameters(), lazynn::optim::SGDOptions(0.1));
        {
            // distributed=true: no SIGINT handler in the test process.
            TrainingRun run(o, 1, argv, MetricKind{}, true, true);
            run.keep_state(
                "counter",
                [] {
                    lazynn::StateDict sd;
                    sd.insert("value", lazynn::tensor(std::vector<double>{7.25, -1.5}, {2}, lazynn::kFloat64));
                    return sd;
                },
                [](const lazynn::StateDict&) {});
            REQUIRE(run.resume(model, &sgd, nullptr));
            EpochProgress progress = run.begin_epoch(1, 2);
            progress.step(0.5, 4);
            progress.step(0.25, 4);
            CHECK(progress.mean_loss() == doctest::Approx(0.375));
            run.end_epoch(progress, {1, progress.mean_loss(), 0.4, 0.9, 0.1}, model, &sgd, nullptr);
        }
        o.resume = true;
        o.epochs = 2;
        lazynn::StateDict restored;
        TrainingRun again(o, 1, argv, MetricKind{}, true, true);
        again.keep_state(
            "counter", [] { return lazynn::StateDict(); }, [&](const lazynn::StateDict& sd) { restored = sd; });
        REQUIRE(again.resume(model, &sgd, nullptr));
        CHECK(again.first_epoch() == 2);
        REQUIRE(restored.contains("value"));
        CHECK(restored.at("value").to_vector<double>() == std::vector<double>{7.25, -1.5});
        REQUIRE(again.history().size() == 1);
        CHECK(again.history()[0].train_loss == 0.375);

        const auto before = read_metrics_csv(dir.file("metrics.csv"));
        o.epochs = 1;  // already trained: resume says so and returns false
        TrainingRun done(o, 1, argv, MetricKind{}, true, true);
        std::ostringstream said;
        auto* old_out = std::cout.rdbuf(said.rdbuf());
        const bool more = done.resume(model, &sgd, nullptr);
        std::cout.rdbuf(old_out);
        CHECK_FALSE(more);
        CHECK(said.str().find("nothing to train") != std::string::npos);
        CHECK(read_metrics_csv(dir.file("metrics.csv")).size() == before.size());
    }
}
