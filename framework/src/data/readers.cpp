// IDX and CSV readers.
#include "tensor_impl.hpp"

#include <lazynn/data/readers.hpp>

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <iterator>
#include <sstream>
#include <string_view>

namespace lazynn::data {
namespace {

/// Reads a whole file, gunzipping it when it is gzip (zlib passes plain files through).
std::vector<unsigned char> read_all(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw RuntimeError(path + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw RuntimeError(path + ": is a directory, not a data file");
    std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
    if (!file) throw RuntimeError(path + ": cannot open (" + std::strerror(errno) + ")");
    std::vector<unsigned char> bytes;
    unsigned char buffer[1 << 16];
    for (;;) {
        const int n = gzread(file.get(), buffer, sizeof buffer);
        if (n < 0) {
            int code = 0;
            const char* message = gzerror(file.get(), &code);
            throw RuntimeError(path + ": corrupt or truncated gzip data (" +
                               std::string(message ? message : "unknown error") + ")");
        }
        if (n == 0) break;
        bytes.insert(bytes.end(), buffer, buffer + n);
    }
    int code = Z_OK;
    const char* message = gzerror(file.get(), &code);
    if (code != Z_OK) {
        throw RuntimeError(path + ": corrupt or truncated gzip data (" +
                           std::string(message ? message : "unknown error") + ")");
    }
    return bytes;
}

std::uint32_t big_endian(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

std::string first_existing(const std::string& directory, const std::string& stem) {
    for (const std::string& candidate : {stem + ".gz", stem}) {
        std::string path = (std::filesystem::path(directory) / candidate).string();
        if (std::filesystem::exists(path)) return path;
    }
    throw RuntimeError(
        "load_mnist: neither " + stem + ".gz nor " + stem + " exists in " + directory +
        " (on Debian: apt-get install dataset-fashion-mnist, files in /usr/share/datasets/fashion-mnist)");
}

}  // namespace

namespace {

/// An IDX file's dims and its values as the bytes they are stored in.
struct IdxBytes {
    Shape shape;
    std::vector<std::uint8_t> values;
};

IdxBytes read_idx_bytes(const std::string& path) {
    std::vector<unsigned char> bytes = read_all(path);
    if (bytes.size() < 4)
        throw RuntimeError(path + ": too short for an IDX header (" + std::to_string(bytes.size()) + " bytes)");
    const std::uint32_t magic = big_endian(bytes.data());
    const unsigned type = (magic >> 8) & 0xFF, rank = magic & 0xFF;
    if ((magic >> 16) != 0 || type != 0x08 || rank == 0 || rank > 4) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%08X", magic);
        throw RuntimeError(path + ": not an unsigned-byte IDX file (magic " + hex +
                           ", expected 0x00000801 to 0x00000804)");
    }
    const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
    if (bytes.size() < header) throw RuntimeError(path + ": truncated IDX header");
    IdxBytes idx;
    for (unsigned d = 0; d < rank; ++d) idx.shape.push_back(big_endian(bytes.data() + 4 + 4 * d));
    // [65536]^4 overflows a 64-bit count; shape_numel throws rather than wrapping.
    std::size_t expected = 0;
    try {
        expected = static_cast<std::size_t>(shape_numel(idx.shape));
    } catch (const Error&) {
        throw RuntimeError(path + ": corrupt IDX header: the shape " + shape_to_list(idx.shape) + " is too large");
    }
    if (bytes.size() - header != expected) {
        throw RuntimeError(path + ": truncated or oversized: the header promises " + std::to_string(expected) +
                           " values of shape " + shape_to_list(idx.shape) + " but the file holds " +
                           std::to_string(bytes.size() - header));
    }
    bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
    idx.values = std::move(bytes);
    return idx;
}

}  // namespace

Tensor read_idx(const std::string& path, Dtype dtype) {
    const IdxBytes idx = read_idx_bytes(path);
    Tensor out = detail::empty_tensor(idx.shape, dtype);
    visit_dtype(dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* p = out.impl().data<T>();
        for (std::size_t i = 0; i < idx.values.size(); ++i) p[i] = static_cast<T>(idx.values[i]);
    });
    return out;
}

std::shared_ptr<ByteImageDataset> load_mnist(const std::string& directory, bool train) {
    const std::string prefix = train ? "train" : "t10k";
    const std::string images_path = first_existing(directory, prefix + "-images-idx3-ubyte");
    const std::string labels_path = first_existing(directory, prefix + "-labels-idx1-ubyte");
    IdxBytes images = read_idx_bytes(images_path);
    const Tensor labels = read_idx(labels_path, kInt64);
    if (images.shape.size() != 3)
        throw RuntimeError(images_path + ": expected 3 dims [N, rows, cols], got " + shape_to_list(images.shape));
    if (labels.dim() != 1 || labels.size(0) != images.shape[0]) {
        throw RuntimeError(labels_path + ": holds " + std::to_string(labels.dim() ? labels.size(0) : 0) +
                           " labels but " + images_path + " holds " + std::to_string(images.shape[0]) + " images");
    }
    return std::make_shared<ByteImageDataset>(std::move(images.values), Shape{1, images.shape[1], images.shape[2]},
                                              labels);
}

Tensor read_csv(const std::string& path, bool header, char delimiter) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw RuntimeError(path + ": is a directory, not a CSV file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw RuntimeError(path + ": " + (std::filesystem::exists(path, ec) ? "cannot open" : "no such file"));
    const std::string text(std::istreambuf_iterator<char>(in), {});
    if (in.bad()) throw RuntimeError(path + ": read error");
    std::vector<double> values;
    std::int64_t columns = -1, rows = 0;
    std::size_t line_number = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t newline = std::min(text.find('\n', pos), text.size());
        std::string_view line(text.data() + pos, newline - pos);
        pos = newline + 1;
        ++line_number;
        if (header && line_number == 1) continue;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        // strtod would stop at an embedded NUL and silently read the cell's prefix.
        if (const std::size_t nul = line.find('\0'); nul != std::string_view::npos) {
            throw RuntimeError(path + ":" + std::to_string(line_number) + ": contains a NUL byte at column " +
                               std::to_string(nul + 1) + " (is this a binary file?)");
        }
        // Every delimiter separates two cells, so "1,2," has an empty third cell (an error), as in Python's csv.
        std::int64_t count = 0;
        for (std::size_t begin = 0;;) {
            const std::size_t stop = std::min(line.find(delimiter, begin), line.size());
            const std::string cell(line.substr(begin, stop - begin));
            ++count;
            char* end = nullptr;
            const double v = std::strtod(cell.c_str(), &end);
            while (end && *end == ' ') ++end;
            if (cell.empty() || end == cell.c_str() || (end && *end != '\0')) {
                throw RuntimeError(path + ":" + std::to_string(line_number) + ": column " + std::to_string(count) +
                                   " is not a number: '" + cell + "'");
            }
            values.push_back(v);
            if (stop == line.size()) break;
            begin = stop + 1;
        }
        if (columns >= 0 && count != columns) {
            throw RuntimeError(path + ":" + std::to_string(line_number) + ": expected " + std::to_string(columns) +
                               " columns, got " + std::to_string(count));
        }
        columns = count;
        ++rows;
    }
    if (rows == 0) throw RuntimeError(path + ": no data rows");
    return tensor(values, {rows, columns}, kFloat64).to(kFloat32);
}

}  // namespace lazynn::data
