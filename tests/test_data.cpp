// Datasets, the DataLoader (order, shuffling determinism, last batch, prefetch under exceptions),
// transforms, and the IDX/CSV readers on files made here (good and damaged).
#include "test_support.hpp"

#include <lazynn/data/dataloader.hpp>
#include <lazynn/data/readers.hpp>
#include <lazynn/data/transforms.hpp>

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace lazynn;
using namespace lazynn::data;

namespace {

std::shared_ptr<TensorDataset> numbered(std::int64_t n) {
    return std::make_shared<TensorDataset>(arange(n).reshape({n, 1}), arange(static_cast<double>(n), kInt64));
}

std::vector<std::int64_t> targets_of(DataLoader& loader) {
    std::vector<std::int64_t> out;
    for (const Example& batch : loader) {
        for (auto v : batch.target.to_vector<std::int64_t>()) out.push_back(v);
    }
    return out;
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("lazynn_test_" + std::to_string(::getpid()) + "_" + name))
        .string();
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes, bool gzip) {
    if (gzip) {
        gzFile f = gzopen(path.c_str(), "wb");
        gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
        gzclose(f);
    } else {
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
}

std::vector<unsigned char> idx_bytes(std::vector<std::uint32_t> dims, std::size_t payload) {
    std::vector<unsigned char> b{0, 0, 0x08, static_cast<unsigned char>(dims.size())};
    for (auto d : dims) {
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
    }
    for (std::size_t i = 0; i < payload; ++i) b.push_back(static_cast<unsigned char>(i % 251));
    return b;
}

}  // namespace

TEST_SUITE("datasets and loader") {
    TEST_CASE("batches in order; the last batch is short unless drop_last") {
        DataLoader loader(numbered(10), DataLoaderOptions(4));
        CHECK(loader.size() == 3);
        std::vector<std::int64_t> sizes;
        for (const Example& b : loader) sizes.push_back(b.data.size(0));
        CHECK(sizes == std::vector<std::int64_t>{4, 4, 2});
        CHECK(targets_of(loader) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
        DataLoader dropping(numbered(10), DataLoaderOptions(4).drop_last(true));
        CHECK(dropping.size() == 2);
        CHECK(targets_of(dropping).size() == 8);
    }

    TEST_CASE("shuffling is a permutation, reproducible from the seed, new each epoch") {
        DataLoader a(numbered(50), DataLoaderOptions(7).shuffle(true).seed(3));
        DataLoader b(numbered(50), DataLoaderOptions(7).shuffle(true).seed(3));
        const auto a0 = targets_of(a), a1 = targets_of(a);
        CHECK(a0 == targets_of(b));
        CHECK(a1 == targets_of(b));
        CHECK(a0 != a1);
        auto sorted = a0;
        std::sort(sorted.begin(), sorted.end());
        CHECK(sorted == targets_of(*std::make_unique<DataLoader>(numbered(50), DataLoaderOptions(50))));
        DataLoader other_seed(numbered(50), DataLoaderOptions(7).shuffle(true).seed(4));
        CHECK(targets_of(other_seed) != a0);
        a.set_epoch(0);
        CHECK(targets_of(a) == a0);
    }

    TEST_CASE("data and targets stay paired") {
        DataLoader loader(numbered(20), DataLoaderOptions(6).shuffle(true).seed(1));
        for (const Example& b : loader) CHECK(equal(b.data.reshape({-1}).to(kInt64), b.target));
    }

    TEST_CASE("an exception while building a batch reaches the training loop") {
        struct Failing : Dataset {
            std::size_t size() const override { return 8; }
            Example get(std::size_t i) const override {
                if (i == 5) throw ValueError("example 5 is broken");
                return {ones({2}) * static_cast<double>(i), tensor({static_cast<std::int64_t>(i)})};
            }
        };
        DataLoader loader(std::make_shared<Failing>(), DataLoaderOptions(2));
        int seen = 0;
        auto consume = [&] {
            for (const Example& b : loader) {
                (void)b;
                ++seen;
            }
        };
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(consume(), ValueError, "example 5 is broken");
        CHECK(seen == 2);
    }

    TEST_CASE("transforms: normalize, crop, flip, deterministic per seed") {
        auto images = std::make_shared<TensorDataset>(arange(2 * 1 * 4 * 4).reshape({2, 1, 4, 4}), zeros({2}, kInt64));
        DataLoader norm(images, DataLoaderOptions(2).transform(transforms::normalize({1.0}, {2.0})));
        const Example n = *norm.begin();
        CHECK(n.data.to_vector<float>()[3] == doctest::Approx((3.0 - 1.0) / 2.0));
        auto flip_all = transforms::random_horizontal_flip(1.0);
        Generator g(0);
        const Example f = flip_all({arange(4).reshape({1, 1, 1, 4}), Tensor()}, g);
        CHECK(f.data.to_vector<float>() == std::vector<float>{3, 2, 1, 0});
        auto crop = transforms::random_crop(4, 2);
        Generator g1(5), g2(5);
        const Example c1 = crop({ones({3, 1, 4, 4}), Tensor()}, g1);
        const Example c2 = crop({ones({3, 1, 4, 4}), Tensor()}, g2);
        CHECK(c1.data.shape() == Shape{3, 1, 4, 4});
        CHECK(equal(c1.data, c2.data));
        CHECK_THROWS_AS(transforms::normalize({0.5}, {1.0})({ones({1, 3, 2, 2}), Tensor()}, g), ShapeError);
    }

    TEST_CASE("TensorDataset and Subset check their arguments") {
        CHECK_THROWS_AS(TensorDataset(ones({3, 2}), ones({4})), ShapeError);
        auto base = numbered(5);
        Subset sub(base, {4, 0});
        CHECK(sub.size() == 2);
        CHECK(sub.get(0).target.item<std::int64_t>() == 4);
        CHECK_THROWS_AS(Subset(base, {9}), IndexError);
        CHECK_THROWS_AS(base->get(5), IndexError);
    }
}

TEST_SUITE("DistributedSampler") {
    std::vector<std::vector<std::int64_t>> shards(std::size_t n, std::size_t replicas, bool shuffle, bool drop_last,
                                                  std::uint64_t epoch) {
        std::vector<std::vector<std::int64_t>> out;
        for (std::size_t r = 0; r < replicas; ++r) {
            DistributedSampler s(n,
                                 DistributedSamplerOptions(replicas, r).shuffle(shuffle).seed(5).drop_last(drop_last));
            out.push_back(s.indices(epoch));
        }
        return out;
    }

    TEST_CASE("without shuffling, PyTorch's strided shards padded from the head") {
        // PyTorch: list(range(10)) + [0, 1], then indices[rank:12:3].
        const auto s = shards(10, 3, false, false, 0);
        CHECK(s[0] == std::vector<std::int64_t>{0, 3, 6, 9});
        CHECK(s[1] == std::vector<std::int64_t>{1, 4, 7, 0});
        CHECK(s[2] == std::vector<std::int64_t>{2, 5, 8, 1});
        const auto dropped = shards(10, 3, false, true, 0);
        CHECK(dropped[0] == std::vector<std::int64_t>{0, 3, 6});
        CHECK(dropped[2] == std::vector<std::int64_t>{2, 5, 8});
        CHECK(DistributedSampler(10, DistributedSamplerOptions(3, 0)).total_size() == 12);
        CHECK(DistributedSampler(2, DistributedSamplerOptions(5, 4).shuffle(false)).indices(0) ==
              std::vector<std::int64_t>{0});
    }

    TEST_CASE("shuffled shards are disjoint, cover the data, agree across ranks and change per epoch") {
        for (bool drop_last : {false, true}) {
            const auto s = shards(103, 4, true, drop_last, 2);
            std::vector<std::int64_t> all;
            for (const auto& shard : s) {
                CHECK(shard.size() == (drop_last ? 25u : 26u));
                all.insert(all.end(), shard.begin(), shard.end());
            }
            std::sort(all.begin(), all.end());
            const auto unique_end = std::unique(all.begin(), all.end());
            CHECK(unique_end - all.begin() == (drop_last ? 100 : 103));  // padding repeats only; drop_last loses 3
            CHECK(shards(103, 4, true, drop_last, 2) == s);
            CHECK(shards(103, 4, true, drop_last, 3) != s);
        }
    }

    TEST_CASE("a DataLoader over a sampler batches the shard; bad arguments are refused") {
        auto sampler = std::make_shared<DistributedSampler>(10, DistributedSamplerOptions(2, 1).shuffle(false));
        DataLoader loader(numbered(10), DataLoaderOptions(2).sampler(sampler));
        CHECK(loader.size() == 3);
        CHECK(targets_of(loader) == std::vector<std::int64_t>{1, 3, 5, 7, 9});
        CHECK_THROWS_WITH_AS(DataLoader(numbered(10), DataLoaderOptions(2).sampler(sampler).shuffle(true)),
                             doctest::Contains("mutually exclusive with shuffle"), ValueError);
        CHECK_THROWS_WITH_AS(DistributedSampler(10, DistributedSamplerOptions(2, 2)),
                             "DistributedSampler: invalid rank 2, rank should be in the interval [0, 1]", ValueError);
        CHECK_THROWS_AS(DistributedSampler(10, DistributedSamplerOptions(0, 0)), ValueError);
    }
}

TEST_SUITE("readers") {
    TEST_CASE("IDX plain and gzip; MNIST layout") {
        const std::string dir = temp_path("mnist");
        std::filesystem::create_directories(dir);
        write_bytes(dir + "/train-images-idx3-ubyte.gz", idx_bytes({3, 28, 28}, 3 * 28 * 28), true);
        write_bytes(dir + "/train-labels-idx1-ubyte", {0, 0, 0x08, 1, 0, 0, 0, 3, 7, 1, 9}, false);
        const Tensor images = read_idx(dir + "/train-images-idx3-ubyte.gz");
        CHECK(images.shape() == Shape{3, 28, 28});
        CHECK(images.to_vector<float>()[5] == 5.0f);
        auto ds = load_mnist(dir, true);
        CHECK(ds->size() == 3);
        CHECK(ds->image_shape() == Shape{1, 28, 28});
        const Example batch = ds->get_batch({2, 0});
        CHECK(batch.data.shape() == Shape{2, 1, 28, 28});
        CHECK(batch.data.dtype() == kFloat32);
        // Pixel i of image n holds (n*784 + i) % 251 (idx_bytes), scaled by 1/255.
        CHECK(batch.data.flatten().to_vector<float>()[5] == static_cast<float>((2 * 784 + 5) % 251) / 255.0f);
        CHECK(batch.data.flatten().to_vector<float>()[784 + 5] == 5.0f / 255.0f);
        CHECK(batch.target.to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 7});
        CHECK(ds->get(1).data.shape() == Shape{1, 28, 28});
        CHECK(ds->targets().to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 1, 9});
        CHECK_THROWS_AS(ds->get_batch({3}), IndexError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(load_mnist(dir, false), RuntimeError, "t10k-images-idx3-ubyte");
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("damaged IDX files fail with the file name and the problem") {
        const std::string path = temp_path("bad.idx");
        write_bytes(path, {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1}, false);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(read_idx(path), RuntimeError,
                                        path + ": not an unsigned-byte IDX file (magic 0x12345678");
        write_bytes(path, idx_bytes({10, 28, 28}, 100), false);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(read_idx(path), RuntimeError, "truncated or oversized");
        auto gz = idx_bytes({2, 2}, 4);
        write_bytes(path, gz, true);
        std::filesystem::resize_file(path, std::filesystem::file_size(path) - 6);  // cut the gzip trailer and data
        CHECK_THROWS_AS(read_idx(path), RuntimeError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(read_idx(path + ".missing"), RuntimeError, "no such file");
        const std::string dir = temp_path("mismatch");
        std::filesystem::create_directories(dir);
        write_bytes(dir + "/t10k-images-idx3-ubyte", idx_bytes({2, 28, 28}, 2 * 28 * 28), false);
        write_bytes(dir + "/t10k-labels-idx1-ubyte", {0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2, 3}, false);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(load_mnist(dir, false), RuntimeError, "holds 3 labels but");
        std::filesystem::remove_all(dir);
        std::filesystem::remove(path);
    }

    TEST_CASE("CSV: numbers, header, and clear errors") {
        const std::string path = temp_path("table.csv");
        std::ofstream(path) << "a,b,c\n1,2,3\n4.5, 5,-6e1\n";
        const Tensor t = read_csv(path);
        CHECK(t.shape() == Shape{2, 3});
        CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4.5f, 5, -60});
        std::ofstream(path) << "1,2\n3,x\n";
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(read_csv(path, false), RuntimeError,
                                        path + ":2: column 2 is not a number: 'x'");
        std::ofstream(path) << "1,2\n3\n";
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(read_csv(path, false), RuntimeError, ":2: expected 2 columns, got 1");
        std::filesystem::remove(path);
    }
}
