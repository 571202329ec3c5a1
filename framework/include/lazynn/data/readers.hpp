#pragma once
// File readers: IDX (MNIST / Fashion-MNIST, plain or gzip) and numeric CSV. Every error names the
// file and says what was wrong (missing, wrong magic, truncated, inconsistent counts, bad cell).

#include <lazynn/data/dataset.hpp>

#include <memory>
#include <string>

namespace lazynn::data {

/// An IDX file of unsigned bytes (magic 0x0801 / 0x0803 ...), as a tensor of its dims. gzip is
/// detected and decompressed through zlib.
Tensor read_idx(const std::string& path, Dtype dtype = kFloat32);

/// MNIST-format images scaled to [0, 1] as [N, 1, 28, 28] float32, and int64 labels [N], from
/// `directory` holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
std::shared_ptr<ByteImageDataset> load_mnist(const std::string& directory, bool train);

/// A numeric CSV as a float32 [rows, columns] tensor; the first line is skipped when `header`.
Tensor read_csv(const std::string& path, bool header = true, char delimiter = ',');

}  // namespace lazynn::data
