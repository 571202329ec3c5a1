// safetensors checkpoints: round trips, atomic writes, damaged files, lazy loading, and exact
// resume from a training checkpoint.
#include "test_support.hpp"

#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizers.hpp>
#include <lazynn/serialize.hpp>

#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace lazynn;

namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("lazynn_ser_" + std::to_string(::getpid()) + "_" + name))
        .string();
}

struct Mlp : Cloneable<Mlp> {
    nn::LazyLinear fc1{this, "fc1", 8};
    nn::ReLU act{this, "act"};
    nn::LazyLinear fc2{this, "fc2", 3};
    Tensor forward(const Tensor& x) override { return fc2(act(fc1(x))); }
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

/// Fixture numbers are strings ("nan", "-0.0", repr): strtod reads each back exactly.
std::vector<double> decode(const nlohmann::json& values) {
    std::vector<double> out;
    for (const auto& v : values) out.push_back(std::strtod(v.get<std::string>().c_str(), nullptr));
    return out;
}

/// The header's JSON text of a safetensors file.
std::string header_of(const std::string& path) {
    const std::string bytes = read_file(path);
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i)
        n |= std::uint64_t(static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)])) << (8 * i);
    return bytes.substr(8, n);
}

/// Bit-exact equality of float32 tensors, any NaN matching any NaN (NaN payloads are not part of
/// the contract: PyTorch's own scalar and vector conversions give different ones).
bool same_floats(const Tensor& actual, const std::vector<double>& expected) {
    const std::vector<float> got = actual.to_vector<float>();
    if (got.size() != expected.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const auto want = static_cast<float>(expected[i]);
        if (std::isnan(got[i]) != std::isnan(want)) return false;
        if (!std::isnan(want) && std::bit_cast<std::uint32_t>(got[i]) != std::bit_cast<std::uint32_t>(want)) {
            MESSAGE("element " << i << ": " << got[i] << " != " << want);
            return false;
        }
    }
    return true;
}

}  // namespace

TEST_SUITE("safetensors") {
    TEST_CASE("round trip of every dtype with metadata; header layout") {
        const std::string path = temp_path("roundtrip.safetensors");
        StateDict sd;
        sd.insert("a", arange(6).reshape({2, 3}));
        sd.insert("b", tensor({1.5, -2.5}, kFloat64));
        sd.insert("c", tensor({7, 8, 9}));
        sd.insert("scalar", scalar_tensor(3.0));
        sd.insert("view", arange(6).reshape({2, 3}).t());  // non-contiguous is written contiguously
        serialize::save_safetensors(sd, path, {{"note", "hello"}});
        const auto back = serialize::load_safetensors(path);
        CHECK(back.tensors.keys() == sd.keys());
        for (const auto& [k_entry, v] : sd) {
            const auto& k = k_entry;  // clang 14 cannot capture structured bindings
            CAPTURE(k);
            CHECK(back.tensors.at(k).dtype() == v.dtype());
            CHECK(equal(back.tensors.at(k), v));
        }
        CHECK(back.metadata.at("note") == "hello");
        const std::string bytes = read_file(path);
        std::uint64_t n = 0;
        for (int i = 0; i < 8; ++i)
            n |= std::uint64_t(static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)])) << (8 * i);
        CHECK(n % 8 == 0);
        CHECK(bytes.substr(8, n).find("\"dtype\":\"F64\"") != std::string::npos);
        std::filesystem::remove(path);
    }

    TEST_CASE("writes are atomic: no temporary file is left, an existing file is replaced whole") {
        const std::string path = temp_path("atomic.safetensors");
        StateDict sd;
        sd.insert("x", ones({4}));
        serialize::save_safetensors(sd, path);
        sd.insert("x", zeros({4}));
        serialize::save_safetensors(sd, path);
        CHECK(equal(serialize::load_safetensors(path).tensors.at("x"), zeros({4})));
        int leftovers = 0;
        for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
            if (e.path().filename().string().find("atomic.safetensors.tmp") != std::string::npos) ++leftovers;
        }
        CHECK(leftovers == 0);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::save_safetensors(sd, "/nonexistent-dir/x.safetensors"), RuntimeError,
                                        "/nonexistent-dir/x.safetensors: cannot create a temporary file");
        std::filesystem::remove(path);
    }

    TEST_CASE("damaged files fail cleanly, naming the file and the key") {
        const std::string path = temp_path("damaged.safetensors");
        StateDict sd;
        sd.insert("weight", arange(16).reshape({4, 4}));
        sd.insert("bias", arange(4));
        serialize::save_safetensors(sd, path);
        const std::string good = read_file(path);

        // Every truncation point fails with an error, never a crash.
        for (std::size_t cut :
             {std::size_t{0}, std::size_t{5}, std::size_t{8}, std::size_t{20}, good.size() - 1, good.size() - 17}) {
            CAPTURE(cut);
            write_file(path, good.substr(0, cut));
            CHECK_THROWS_AS(serialize::load_safetensors(path), RuntimeError);
        }
        write_file(path, good.substr(0, good.size() - 1));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(path), RuntimeError, "truncated: tensor 'bias'");
        std::string corrupt = good;
        corrupt[8] = '#';  // the header's opening brace
        write_file(path, corrupt);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(path), RuntimeError,
                                        "corrupt header (not valid JSON");
        std::string huge = good;
        huge[7] = '\x7f';
        write_file(path, huge);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(path), RuntimeError, "the header claims");
        std::string wrong_dtype = good;
        wrong_dtype.replace(wrong_dtype.find("F32"), 3, "BF1");
        write_file(path, wrong_dtype);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(path), RuntimeError,
                                        "tensor 'weight' has dtype 'BF1'");
        std::string wrong_shape = good;
        wrong_shape.replace(wrong_shape.find("[4,4]"), 5, "[4,5]");
        write_file(path, wrong_shape);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(path), RuntimeError,
                                        "tensor 'weight': data_offsets");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(path + ".nope"), RuntimeError, "no such file");
        std::filesystem::remove(path);
    }

    TEST_CASE("a model checkpoint loads into a fresh lazy model without a forward") {
        const std::string path = temp_path("model.safetensors");
        manual_seed(11);
        Mlp a;
        a.initialize(zeros({1, 5}));
        save(a, path);
        Mlp b;
        CHECK(load(b, path).ok());
        CHECK_FALSE(b.fc1.is_lazy());
        CHECK(b.fc1.in_features() == 5);
        const Tensor x = randn({4, 5});
        CHECK(equal(a(x), b(x)));
        nn::Linear wrong(2, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(load(wrong, path), RuntimeError,
                                        path + ": Error(s) in loading state_dict for Linear");
        Mlp lazy;
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(save(lazy, path), RuntimeError, "uninitialized parameter; run a forward pass");
        std::filesystem::remove(path);
    }

    TEST_CASE("a training checkpoint resumes exactly") {
        const std::string path = temp_path("train.safetensors");
        auto run_steps = [](Mlp& model, optim::Optimizer& opt, optim::LRScheduler& sched, int steps) {
            for (int s = 0; s < steps; ++s) {
                const Tensor x = randn({6, 5});  // draws from the global generator: its state must resume too
                const Tensor y = randint(0, 3, {6});
                opt.zero_grad();
                nn::functional::cross_entropy(model(x), y).backward();
                opt.step();
                sched.step();
            }
        };
        manual_seed(5);
        Mlp model;
        optim::Adam adam(model.parameters(), optim::AdamOptions(0.01));
        optim::StepLR sched(adam, 2, 0.5);
        run_steps(model, adam, sched, 3);
        save_checkpoint(path, model, &adam, &sched, {3, {{"note", "mid-run"}}});
        run_steps(model, adam, sched, 4);
        const Tensor expected = model.fc2.weight.clone();

        Mlp resumed;
        optim::Adam adam2(resumed.parameters(), optim::AdamOptions(0.5));
        optim::StepLR sched2(adam2, 2, 0.5);
        const TrainingState state = load_checkpoint(path, resumed, &adam2, &sched2);
        CHECK(state.epoch == 3);
        CHECK(state.extra.at("note") == "mid-run");
        CHECK(adam2.lr() ==
              doctest::Approx(adam.param_groups()[0].options.lr() * 4).epsilon(1e-9));  // two halvings ago
        run_steps(resumed, adam2, sched2, 4);
        CHECK(equal(resumed.fc2.weight, expected));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(load_checkpoint(path + ".missing", resumed, nullptr, nullptr), RuntimeError,
                                        "no such file");
        std::filesystem::remove(path);
    }

    TEST_CASE("F16 and BF16 files (PyTorch's) load as float16 and bfloat16, and into a module of any dtype") {
        const auto fixture = lazynn::testing::load_fixture("half_precision.json").at("file");
        const std::string path = std::string(LAZYNN_FIXTURE_DIR) + "/half_precision.safetensors";
        const auto contents = serialize::load_safetensors(path);
        const Tensor weight = tensor(decode(fixture.at("weight")), fixture.at("weight_shape").get<Shape>(), kFloat64);
        const Tensor bias = tensor(decode(fixture.at("bias")), fixture.at("bias_shape").get<Shape>(), kFloat64);
        CHECK(contents.tensors.at("weight").dtype() == kBFloat16);
        CHECK(contents.tensors.at("bias").dtype() == kFloat16);
        CHECK(equal(contents.tensors.at("weight").to(kFloat32), weight.to(kFloat32)));
        CHECK(equal(contents.tensors.at("bias").to(kFloat32), bias.to(kFloat32)));

        nn::Linear fc(3, 2);
        CHECK(load(fc, path).ok());
        CHECK(equal(fc.weight, weight.to(kFloat32)));
        nn::Linear fc64(3, 2);
        fc64.to(kFloat64);
        CHECK(load(fc64, path).ok());
        CHECK(fc64.weight.dtype() == kFloat64);
        CHECK(equal(fc64.bias, bias));
        nn::LazyLinear lazy(2);
        CHECK(load(lazy, path).ok());
        CHECK(lazy.in_features() == 3);
        CHECK(equal(lazy.weight, weight.to(kFloat32)));

        // A cut 16-bit file is refused like any other.
        const std::string cut = temp_path("cut16.safetensors");
        const std::string bytes = read_file(path);
        write_file(cut, bytes.substr(0, bytes.size() - 1));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(cut), RuntimeError, "truncated: tensor 'bias'");
        std::string odd = bytes;
        odd.replace(odd.find("[2,3]"), 5, "[3,3]");
        write_file(cut, odd);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(cut), RuntimeError,
                                        "do not hold [3, 3] BF16 values (18 bytes)");
        std::filesystem::remove(cut);
    }

    TEST_CASE("saving as F16 or BF16 rounds every value as PyTorch's .half() and .bfloat16()") {
        const auto fixture = lazynn::testing::load_fixture("half_precision.json");
        const std::string path = temp_path("sixteen.safetensors");
        for (const char* source : {"float32", "float64"}) {
            const auto& cases = fixture.at(source);
            const Dtype dtype = std::string(source) == "float32" ? kFloat32 : kFloat64;
            const std::vector<double> values = decode(cases.at("inputs"));
            StateDict sd;
            sd.insert("x", tensor(values, {static_cast<std::int64_t>(values.size())}, kFloat64).to(dtype));
            sd.insert("steps", tensor({3, 4}));  // int64 is stored as it is
            for (const bool bf16 : {false, true}) {
                CAPTURE(source);
                CAPTURE(bf16);
                serialize::save_safetensors(
                    sd, path, {},
                    serialize::SaveOptions().float_format(bf16 ? serialize::FloatFormat::BFloat16
                                                               : serialize::FloatFormat::Float16));
                const std::string header = header_of(path);
                CHECK(header.find(bf16 ? "\"dtype\":\"BF16\"" : "\"dtype\":\"F16\"") != std::string::npos);
                CHECK(header.find("\"dtype\":\"I64\"") != std::string::npos);
                CHECK(std::filesystem::file_size(path) == 8 + header.size() + values.size() * 2 + 2 * 8);
                const auto back = serialize::load_safetensors(path);
                CHECK(back.tensors.at("x").dtype() == (bf16 ? kBFloat16 : kFloat16));
                CHECK(equal(back.tensors.at("steps"), tensor({3, 4})));
                CHECK(same_floats(back.tensors.at("x"), decode(cases.at(bf16 ? "bf16_values" : "f16_values"))));
                // The stored bits themselves ("x" is written first), NaN aside.
                const std::string data = read_file(path).substr(8 + header.size());
                const auto& bits = cases.at(bf16 ? "bf16_bits" : "f16_bits");
                for (std::size_t i = 0; i < values.size(); ++i) {
                    if (std::isnan(values[i])) continue;
                    const unsigned stored = static_cast<unsigned char>(data[2 * i]) |
                                            (static_cast<unsigned>(static_cast<unsigned char>(data[2 * i + 1])) << 8);
                    CHECK_MESSAGE(stored == bits.at(i).get<unsigned>(), "element " << i);
                }
            }
        }
        // A module saved in 16 bits loads back into its float32 twin within bfloat16's precision.
        manual_seed(2);
        nn::Linear fc(16, 8);
        save(fc, path, {}, serialize::SaveOptions().float_format(serialize::FloatFormat::BFloat16));
        nn::Linear twin(16, 8);
        CHECK(load(twin, path).ok());
        CHECK(allclose(twin.weight, fc.weight, /*rtol=*/1.0 / 256, /*atol=*/0.0));
        CHECK_FALSE(equal(twin.weight, fc.weight));
        std::filesystem::remove(path);
    }
}

TEST_SUITE("Checkpoint: several named objects in one file (issue 22, item 4)") {
    // A GAN-shaped training: two lazy models, two optimizers (built before the first forward), a
    // scheduler, the global generator and one of its own, and user values.
    struct Training {
        Mlp g, d;
        optim::Adam opt_g{g.parameters(), optim::AdamOptions(0.01)};
        optim::Adam opt_d{d.parameters()};
        optim::StepLR sched{opt_g, 2, 0.5};
        Generator noise{123};

        void step() {
            const Tensor x = randn({6, 5}) * noise.normal();
            const Tensor y = randint(0, 3, {6});
            opt_d.zero_grad();
            nn::functional::cross_entropy(d(x), y).backward();
            opt_d.step();
            opt_g.zero_grad();
            nn::functional::cross_entropy(g(x), y).backward();
            opt_g.step();
            sched.step();
        }
        Checkpoint checkpoint() {
            Checkpoint c;
            c.add("g", g).add("d", d).add("opt_g", opt_g).add("opt_d", opt_d).add("sched", sched);
            c.add("rng", default_generator()).add("noise", noise);
            return c;
        }
    };

    TEST_CASE("a whole training saves in one file and resumes exactly into fresh lazy models") {
        const std::string path = temp_path("gan.safetensors");
        manual_seed(8);
        Training run;
        for (int i = 0; i < 3; ++i) run.step();
        Checkpoint saved = run.checkpoint();
        saved.values["epoch"] = "3";
        saved.values["best"] = "0.25";
        saved.save(path);
        for (int i = 0; i < 3; ++i) run.step();

        manual_seed(99);  // a different global stream: the checkpoint restores it
        Training resumed;
        CHECK(resumed.g.fc1.is_lazy());
        Checkpoint loader = resumed.checkpoint();
        loader.load(path);
        CHECK(loader.values == std::map<std::string, std::string>{{"best", "0.25"}, {"epoch", "3"}});
        CHECK_FALSE(resumed.g.fc1.is_lazy());
        for (int i = 0; i < 3; ++i) resumed.step();
        CHECK(equal(resumed.g.fc2.weight, run.g.fc2.weight));
        CHECK(equal(resumed.d.fc1.weight, run.d.fc1.weight));
        CHECK(resumed.opt_g.lr() == run.opt_g.lr());

        // Entries may be picked: the discriminator alone, from the same file.
        Mlp d_only;
        Checkpoint pick;
        pick.add("d", d_only).load(path);
        CHECK(d_only.fc1.in_features() == 5);
        // lazynn::load on it says how to read a model's part.
        Mlp weights;
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(load(weights, path), RuntimeError,
                                        "Checkpoint().add(name, model).load(path) (its entries: g=model,d=model,");
        std::filesystem::remove(path);
    }

    TEST_CASE("a failed load names the entry and leaves every object as it was") {
        const std::string path = temp_path("gan_bad.safetensors");
        manual_seed(8);
        Training run;
        run.step();
        run.checkpoint().save(path);

        Training other;
        other.step();  // materialised and stepped: its own state must survive a failed load
        const Tensor g_before = other.g.fc1.weight.clone();
        const Tensor d_before = other.d.fc1.weight.clone();
        const StateDict opt_before = other.opt_g.state_dict();
        Mlp wrong_d;  // a d whose first layer has another width: the model part fails after g loaded
        wrong_d.initialize(zeros({1, 7}));
        const std::string rng_before = default_generator().state();
        Checkpoint mismatched;
        mismatched.add("g", other.g).add("opt_g", other.opt_g).add("d", wrong_d).add("rng", default_generator());
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(mismatched.load(path), RuntimeError, path + ": model 'd': ");
        CHECK(equal(other.g.fc1.weight, g_before));
        CHECK(other.opt_g.state_dict().keys() == opt_before.keys());
        CHECK(equal(other.opt_g.state_dict().at("state.0.exp_avg"), opt_before.at("state.0.exp_avg")));
        CHECK(default_generator().state() == rng_before);

        Checkpoint missing;
        missing.add("generator", other.g);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(missing.load(path), RuntimeError,
                                        "no entry 'generator' (the file holds: g=model,d=model,opt_g=optimizer,");
        Checkpoint kind;
        kind.add("opt_g", other.g);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(kind.load(path), RuntimeError,
                                        "entry 'opt_g' holds a state of kind 'optimizer', not 'model'");
        CHECK(equal(other.d.fc1.weight, d_before));

        Checkpoint twice;
        twice.add("g", other.g);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(twice.add("g", other.d), ValueError, "'g' is already an entry");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(twice.add("a.b", other.d), ValueError, "free of '.', ',' and '='");

        // Not a Checkpoint: a plain model file.
        save(other.g, path);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(twice.load(path), RuntimeError, "not a Checkpoint (format 'pt'");
        // An uninitialised model cannot be saved; the error names the entry's key.
        Mlp lazy;
        Checkpoint unsaved;
        unsaved.add("model", lazy);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(unsaved.save(path), RuntimeError, "'model.fc1.weight' is an uninitialized");
        std::filesystem::remove(path);
    }
}
