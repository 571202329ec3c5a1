#pragma once
// The samples' command line: one set of flags, each sample registering only those it uses (CLI11
// then refuses the others), every number checked before training starts.

#include <cstdint>
#include <string>
#include <vector>

namespace samples {

/// The forward passes' arithmetic: float32, or bfloat16 under autocast (float32 master weights,
/// float32 losses and checkpoint; docs/mixed-precision.md).
enum class Precision { Fp32, Bf16 };

/// "fp32" or "bf16", as the flag spells it.
const char* precision_name(Precision precision);

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
    Precision precision = Precision::Fp32;
};

/// What `--data` names for a sample, if it reads data at all.
enum class DataKind { None, File, Directory };

struct SampleCommandLine {
    std::string description;
    DataKind data = DataKind::Directory;
    std::string data_help;  ///< e.g. "directory with the Fashion-MNIST IDX files (.gz or plain)"
};

/// Parses the flags the sample uses. Returns an exit code to stop with (0 after --help, 105 on a
/// bad flag or value, with CLI11's message naming the flag), or -1 to continue.
int parse_options(int argc, char** argv, const SampleCommandLine& sample, CommonOptions& options);

/// The command that continues an interrupted run: the arguments as given, plus --resume, each
/// quoted for a POSIX shell where needed.
std::string resume_command(const std::vector<std::string>& arguments);
/// Quotes one argument for a POSIX shell ('...' when it holds anything but [A-Za-z0-9_./=:,+-]).
std::string shell_quote(const std::string& argument);

}  // namespace samples
