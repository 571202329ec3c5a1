// Small conveniences PyTorch users reach for: printing sizes, renaming state_dict keys by a
// prefix, and load() pointing at load_checkpoint for a training checkpoint.
#include "test_support.hpp"

#include <lazynn/lazynn.hpp>

#include <filesystem>
#include <sstream>
#include <unistd.h>

using namespace lazynn;

namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("lazynn_conv_" + std::to_string(::getpid()) + "_" + name))
        .string();
}

}  // namespace

TEST_SUITE("conveniences") {
    TEST_CASE("a shape prints like PyTorch's list form") {
        std::ostringstream out;
        out << zeros({64, 784}).sizes() << " " << Shape{} << " " << Shape{3};
        CHECK(out.str() == "[64, 784] [] [3]");
    }

    TEST_CASE("strip_prefix and add_prefix rename keys in order") {
        nn::Linear fc(3, 2);
        const StateDict wrapped = add_prefix(fc.state_dict(), "module.");
        CHECK(wrapped.keys() == std::vector<std::string>{"module.weight", "module.bias"});
        const StateDict bare = strip_prefix(wrapped, "module.");
        CHECK(bare.keys() == std::vector<std::string>{"weight", "bias"});
        nn::Linear other(3, 2);
        other.load_state_dict(bare);
        CHECK(equal(other.weight, fc.weight));

        // Keys without the prefix stay as they are (PyTorch's consume_prefix_in_state_dict_if_present).
        StateDict mixed;
        mixed.insert("model.w", ones({1}));
        mixed.insert("step", zeros({1}));
        CHECK(strip_prefix(mixed, "model.").keys() == std::vector<std::string>{"w", "step"});
        StateDict clash;
        clash.insert("module.w", ones({1}));
        clash.insert("w", zeros({1}));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(strip_prefix(clash, "module."), KeyError, "'w', which is already a key");
    }

    TEST_CASE("load() of a training checkpoint names load_checkpoint") {
        nn::Linear fc(3, 2);
        optim::SGD sgd(fc.parameters(), optim::SGDOptions(0.1));
        const std::string path = temp_path("train.safetensors");
        save_checkpoint(path, fc, &sgd, nullptr, {4, {}});
        nn::Linear other(3, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(load(other, path), RuntimeError,
                                        "resume it with load_checkpoint(path, model, &optimizer, &scheduler)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(load(other, path), RuntimeError, path);
        // The route the message gives for the weights alone works.
        other.load_state_dict(strip_prefix(serialize::load_safetensors(path).tensors, "model."), false);
        CHECK(equal(other.weight, fc.weight));
        std::filesystem::remove(path);
    }
}
