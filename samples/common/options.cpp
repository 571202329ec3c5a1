#include "options.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <map>
#include <string>

namespace samples {

namespace {

// A positive, finite number ("--lr 0", "--lr -1", "--lr nan" and "--lr inf" are all refused).
const CLI::Validator positive_finite(
    [](std::string& input) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(input, value)) return "'" + input + "' is not a number";
        if (!std::isfinite(value) || value <= 0) return "must be a positive number, got " + input;
        return {};
    },
    "POSITIVE");

}  // namespace

const char* precision_name(Precision precision) { return precision == Precision::Bf16 ? "bf16" : "fp32"; }

int parse_options(int argc, char** argv, const SampleCommandLine& sample, CommonOptions& o) {
    CLI::App app(sample.description);
    app.footer(
        "Ctrl-C stops after the current step, writes OUT/checkpoint.safetensors and prints the command that "
        "resumes; a second Ctrl-C quits at once.\n");
    app.add_option("--epochs", o.epochs, "number of passes over the training set")
        ->capture_default_str()
        ->check(positive_finite);
    app.add_option("--batch-size", o.batch_size, "examples per step")->capture_default_str()->check(positive_finite);
    app.add_option("--lr", o.lr, "learning rate")->capture_default_str()->check(positive_finite);
    app.add_option("--seed", o.seed, "seed for weights, shuffling and augmentation")->capture_default_str();
    if (sample.data == DataKind::Directory) {
        app.add_option("--data", o.data, sample.data_help)->capture_default_str()->check(CLI::ExistingDirectory);
    } else if (sample.data == DataKind::File) {
        app.add_option("--data", o.data, sample.data_help)->capture_default_str()->check(CLI::ExistingFile);
    }
    app.add_option("--out", o.out, "directory for metrics.csv, steps.csv, the checkpoint and the plot")
        ->capture_default_str();
    app.add_flag("--resume", o.resume, "continue from OUT/checkpoint.safetensors, keeping the history in OUT");
    app.add_option("--threads", o.threads, "threads for GEMMs and lazynn's kernels (one per core)")
        ->capture_default_str()
        ->check(positive_finite);
    app.add_option("--precision", o.precision,
                   "fp32, or bf16: forward passes under autocast (bfloat16 GEMMs and convolutions, float32 weights, "
                   "losses and checkpoint)")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, Precision>{{"fp32", Precision::Fp32}, {"bf16", Precision::Bf16}}))
        ->default_str("fp32");
    app.add_flag(
        "--distributed", o.distributed,
        "data-parallel training over the ranks of mpirun -np N (each rank takes --batch-size examples per step)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return -1;
}

std::string shell_quote(const std::string& argument) {
    const bool plain =
        !argument.empty() &&
        argument.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:,+-") ==
            std::string::npos;
    if (plain) return argument;
    std::string quoted = "'";
    for (char c : argument) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    return quoted + "'";
}

std::string resume_command(const std::vector<std::string>& arguments) {
    std::string command;
    bool has_resume = false;
    for (const std::string& a : arguments) {
        has_resume = has_resume || a == "--resume";
        command += (command.empty() ? "" : " ") + shell_quote(a);
    }
    if (!has_resume) command += " --resume";
    return command;
}

}  // namespace samples
