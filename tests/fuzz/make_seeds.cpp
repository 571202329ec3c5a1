// Writes the fuzzers' seed corpora with the library itself, so the seeds follow the formats as
// lazynn writes them today: make_seeds OUT_DIR creates OUT_DIR/{safetensors,lazy_load,checkpoint,
// idx,csv}. The hand-written edge cases and the reproducers of fixed bugs are committed next to
// this file (corpus/, regressions/); see docs/fuzzing.md.
#include "fuzz_models.hpp"

#include <lazynn/checkpoint.hpp>
#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizers.hpp>
#include <lazynn/serialize.hpp>

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace lazynn;

namespace {

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

/// An unsigned-byte IDX file of `shape` holding 0, 1, 2, ...
std::string idx_file(const std::vector<std::uint32_t>& shape) {
    std::string out{'\0', '\0', '\x08', static_cast<char>(shape.size())};
    std::size_t count = 1;
    for (std::uint32_t d : shape) {
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((d >> shift) & 0xFF));
        count *= d;
    }
    for (std::size_t i = 0; i < count; ++i) out.push_back(static_cast<char>(i % 256));
    return out;
}

void write_gzip(const std::filesystem::path& path, const std::string& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
}

template <class Model>
void train_once(Model& model, optim::Optimizer& optimizer, optim::LRScheduler& scheduler, const Tensor& input) {
    optimizer.zero_grad();
    model(input).pow(2.0).mean().backward();
    optimizer.step();
    scheduler.step();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path out(argv[1]);
    for (const char* dir : {"safetensors", "lazy_load", "checkpoint", "idx", "csv"})
        std::filesystem::create_directories(out / dir);
    manual_seed(7);

    // safetensors: every dtype, a scalar, an empty tensor, metadata.
    StateDict sd;
    sd.insert("f32", randn({2, 3}));
    sd.insert("f64", randn({4}, kFloat64));
    sd.insert("i64", tensor(std::vector<std::int64_t>{1, -2, 3}, {3}));
    sd.insert("scalar", scalar_tensor(2.5, kFloat32));
    sd.insert("empty", zeros({0, 3}));
    serialize::save_safetensors(sd, (out / "safetensors" / "dtypes.safetensors").string(),
                                {{"format", "pt"}, {"note", "seed"}});
    serialize::save_safetensors({}, (out / "safetensors" / "nothing.safetensors").string());
    // The same tensors stored in 16 bits (F16, BF16), as published checkpoints are.
    serialize::save_safetensors(sd, (out / "safetensors" / "f16.safetensors").string(), {},
                                serialize::SaveOptions().float_format(serialize::FloatFormat::Float16));
    serialize::save_safetensors(sd, (out / "safetensors" / "bf16.safetensors").string(), {},
                                serialize::SaveOptions().float_format(serialize::FloatFormat::BFloat16));

    // Models as saved after their lazy layers initialised; the same files seed the safetensors target.
    nn::Sequential image = fuzz::image_model();
    image(ones({2, 3, 5, 5}));
    save(image, (out / "lazy_load" / "image.safetensors").string());
    save(image, (out / "safetensors" / "image.safetensors").string());
    nn::Sequential sequence = fuzz::sequence_model();
    sequence(ones({2, 3, 4}));
    save(sequence, (out / "lazy_load" / "sequence.safetensors").string());
    save(image, (out / "lazy_load" / "image-bf16.safetensors").string(), {},
         serialize::SaveOptions().float_format(serialize::FloatFormat::BFloat16));

    // Training checkpoints of both configurations fuzz_checkpoint loads into, after one step.
    {
        nn::Sequential model = fuzz::sequence_model();
        optim::Adam adam(model.parameters(), optim::AdamOptions(1e-2).amsgrad(true));
        model(ones({2, 3, 4}));
        optim::CosineAnnealingLR cosine(adam, 10);
        train_once(model, adam, cosine, ones({2, 3, 4}));
        save_checkpoint((out / "checkpoint" / "adam.ckpt").string(), model, &adam, &cosine, {3, {{"note", "seed"}}});
    }
    {
        nn::Sequential model{nn::Linear(4, 3), nn::BatchNorm1d(3), nn::ReLU(), nn::Linear(3, 2)};
        optim::SGD sgd(model.parameters(), optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
        optim::LinearLR warmup(sgd, 0.5, 1.0, 3);
        train_once(model, sgd, warmup, ones({3, 4}));
        save_checkpoint((out / "checkpoint" / "sgd.ckpt").string(), model, &sgd, &warmup, {1, {}});
    }

    // A named Checkpoint of the entries fuzz_checkpoint's third configuration loads.
    {
        nn::Sequential lazy = fuzz::sequence_model();
        nn::Sequential eager{nn::Linear(4, 3), nn::BatchNorm1d(3), nn::ReLU(), nn::Linear(3, 2)};
        optim::Adam adam(lazy.parameters());
        optim::SGD sgd(eager.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        optim::StepLR step(sgd, 2);
        lazy(ones({2, 3, 4}));
        train_once(lazy, adam, step, ones({2, 3, 4}));
        train_once(eager, sgd, step, ones({3, 4}));
        Generator noise(7);
        Checkpoint checkpoint;
        checkpoint.add("lazy", lazy).add("adam", adam).add("eager", eager).add("sgd", sgd).add("step", step);
        checkpoint.add("noise", noise);
        checkpoint.values["epoch"] = "2";
        checkpoint.save((out / "checkpoint" / "named.ckpt").string());
    }

    // IDX: labels, images, a rank-4 file, gzip.
    write_bytes(out / "idx" / "labels.idx1", idx_file({10}));
    write_bytes(out / "idx" / "images.idx3", idx_file({2, 4, 3}));
    write_bytes(out / "idx" / "rank4.idx4", idx_file({1, 2, 2, 2}));
    write_gzip(out / "idx" / "images.idx3.gz", idx_file({3, 2, 2}));

    // CSV: header, CRLF, spaces, exponents, a single column.
    write_bytes(out / "csv" / "header.csv", "a,b,c\n1,2,3\n4.5,-6,7e-3\n");
    write_bytes(out / "csv" / "crlf.csv", "x,y\r\n1, 2\r\n3 ,4\r\n");
    write_bytes(out / "csv" / "column.csv", "v\n1\n\n2\n");
    std::printf("seed corpora written to %s\n", out.c_str());
    return 0;
}
