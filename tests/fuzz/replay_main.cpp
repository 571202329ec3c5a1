// A main for the fuzz harnesses in builds without libFuzzer (GCC, the ASan + UBSan CI build): runs
// LLVMFuzzerTestOneInput on every file named on the command line or found (recursively) in a
// directory named there, so ctest replays the seed corpora and every saved reproducer.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void replay(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    std::printf("replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
    std::fflush(stdout);  // the last name printed is the culprit when a sanitizer aborts
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t count = 0;
    for (int a = 1; a < argc; ++a) {
        const std::filesystem::path root(argv[a]);
        if (!std::filesystem::exists(root)) {
            std::fprintf(stderr, "%s: no such file or directory\n", argv[a]);
            return 2;
        }
        std::vector<std::filesystem::path> files;
        if (std::filesystem::is_directory(root)) {
            for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
                if (entry.is_regular_file()) files.push_back(entry.path());
            }
            std::sort(files.begin(), files.end());
        } else {
            files.push_back(root);
        }
        for (const auto& f : files) replay(f);
        count += files.size();
    }
    std::printf("%zu inputs replayed without a crash\n", count);
    return 0;
}
