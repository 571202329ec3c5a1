// Hostile input (issue 18): every file a user might be handed and every size a caller might pass
// either works or throws a lazynn::Error naming what is wrong; never an out-of-bounds access, an
// escaping standard exception, a NaN written into training state or a half-applied load. Each
// case here failed (crashed, read out of bounds or returned something wrong) before its fix.
#include "test_support.hpp"

#include <lazynn/data/dataloader.hpp>
#include <lazynn/data/readers.hpp>
#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizers.hpp>
#include <lazynn/serialize.hpp>

#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unistd.h>

using namespace lazynn;

namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("lazynn_hostile_" + std::to_string(::getpid()) + "_" + name))
        .string();
}

void write_file(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

/// Trains `model` with `optimizer` for one step on ones(input_shape).
void train_step(Module& model, optim::Optimizer& optimizer, const Shape& input_shape) {
    optimizer.zero_grad();
    model(ones(input_shape)).pow(2.0).mean().backward();
    optimizer.step();
}

/// `sd` with every key prefixed by "0." (the first layer of a Sequential).
StateDict with_prefix_zero(const StateDict& sd) {
    StateDict out;
    for (const auto& [k, v] : sd) out.insert("0." + k, v);
    return out;
}

/// `sd` with `key` replaced by `value`.
StateDict replaced(const StateDict& sd, const std::string& key, const Tensor& value) {
    StateDict out;
    for (const auto& [k, v] : sd) out.insert(k, k == key ? value : v);
    return out;
}

}  // namespace

TEST_SUITE("hostile input: optimizer state") {
    TEST_CASE(
        "Adam, SGD momentum, RMSprop, NAdam: a state tensor of the wrong shape is rejected, naming key and shapes") {
        const auto check = [](auto make, const std::string& key) {
            CAPTURE(key);
            nn::Linear fc(3, 2);
            auto optimizer = make(fc.parameters());
            train_step(fc, *optimizer, {4, 3});
            const StateDict good = optimizer->state_dict();
            REQUIRE(good.contains(key));
            const std::vector<float> weight_before = fc.weight.template to_vector<float>();
            // state.0 is the weight [2, 3]; a [3] state would be read past its end by the fused update.
            LAZYNN_CHECK_THROWS_WITH_SUBSTR(
                optimizer->load_state_dict(replaced(good, key, zeros({3}))), ValueError,
                "'" + key +
                    "' for parameter 0 (group 0) must be a floating-point tensor of shape [2, 3], got float32 [3]");
            LAZYNN_CHECK_THROWS_WITH_SUBSTR(optimizer->load_state_dict(replaced(good, key, zeros({2, 3}, kInt64))),
                                            ValueError, "got int64 [2, 3]");
            // The failed loads changed nothing: the next step runs on the old state.
            train_step(fc, *optimizer, {4, 3});
            CHECK(fc.weight.template to_vector<float>() != weight_before);
            CHECK(optimizer->state_dict().at("state.0.step").template item<double>() == 2.0);
        };
        check(
            [](std::vector<Parameter> p) {
                return std::make_unique<optim::Adam>(p, optim::AdamOptions(0.1).amsgrad(true));
            },
            "state.0.exp_avg");
        check(
            [](std::vector<Parameter> p) {
                return std::make_unique<optim::Adam>(p, optim::AdamOptions(0.1).amsgrad(true));
            },
            "state.0.max_exp_avg_sq");
        check([](std::vector<Parameter> p) { return std::make_unique<optim::AdamW>(p, optim::AdamOptions(0.1)); },
              "state.0.exp_avg_sq");
        check(
            [](std::vector<Parameter> p) {
                return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.1).momentum(0.9));
            },
            "state.0.momentum_buffer");
        check(
            [](std::vector<Parameter> p) {
                return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions(0.1).centered(true));
            },
            "state.0.grad_avg");
        check([](std::vector<Parameter> p) { return std::make_unique<optim::NAdam>(p, optim::NAdamOptions(0.1)); },
              "state.0.exp_avg");
        check([](std::vector<Parameter> p) { return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions(0.1)); },
              "state.0.sum");
    }

    TEST_CASE("a NaN step or option, or a non-scalar option, is rejected before anything changes") {
        nn::Linear fc(3, 2);
        optim::Adam adam(fc.parameters(), optim::AdamOptions(0.1));
        train_step(fc, adam, {4, 3});
        const StateDict good = adam.state_dict();
        const double nan = std::numeric_limits<double>::quiet_NaN();
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            adam.load_state_dict(replaced(good, "state.0.step", scalar_tensor(nan, kFloat64))), ValueError,
            "'state.0.step' is not finite");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            adam.load_state_dict(replaced(good, "state.0.step", scalar_tensor(-1.0, kFloat64))), ValueError,
            "'state.0.step' is negative");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(adam.load_state_dict(replaced(good, "param_groups.0.lr", zeros({2}, kFloat64))),
                                        ValueError, "'param_groups.0.lr' must hold one number, got shape [2]");
        // A valid state (with lr 0.5) in front of the bad one must not have been applied either.
        StateDict half = replaced(good, "param_groups.0.lr", scalar_tensor(0.5, kFloat64));
        half = replaced(half, "state.1.exp_avg", zeros({5}));
        CHECK_THROWS_AS(adam.load_state_dict(half), ValueError);
        CHECK(adam.lr() == doctest::Approx(0.1));
    }

    TEST_CASE("loading state replaces it: parameters without stored state start fresh, as in PyTorch") {
        nn::Linear fc(3, 2);
        optim::SGD fresh_sgd(fc.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        const StateDict empty_state = fresh_sgd.state_dict();
        optim::SGD sgd(fc.parameters(), optim::SGDOptions(0.1).momentum(0.9));
        train_step(fc, sgd, {4, 3});
        REQUIRE(sgd.state_of(fc.weight) != nullptr);
        sgd.load_state_dict(empty_state);
        CHECK(sgd.state_of(fc.weight) == nullptr);
    }
}

TEST_SUITE("hostile input: learning-rate schedulers") {
    TEST_CASE("LinearLR(total_iters=0) keeps start_factor, as PyTorch 1.13 does (no NaN)") {
        // PyTorch 1.13: lrs [0.5, 0.5, 0.5, 0.5, 0.5] for SGD(lr=1.0), LinearLR(start_factor=0.5, total_iters=0).
        nn::Linear fc(1, 1);
        optim::SGD sgd(fc.parameters(), optim::SGDOptions(1.0));
        optim::LinearLR warmup(sgd, 0.5, 1.0, 0);
        std::vector<double> lrs{sgd.lr()};
        for (int i = 0; i < 4; ++i) {
            warmup.step();
            lrs.push_back(sgd.lr());
        }
        CHECK(lrs == std::vector<double>{0.5, 0.5, 0.5, 0.5, 0.5});
    }

    TEST_CASE("a NaN or fractional last_epoch and a base_lrs of the wrong length are ValueErrors") {
        nn::Linear fc(1, 1);
        optim::SGD sgd(fc.parameters(), optim::SGDOptions(1.0));
        optim::StepLR step(sgd, 2, 0.5);
        const StateDict good = step.state_dict();
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            step.load_state_dict(replaced(good, "last_epoch", scalar_tensor(std::nan(""), kFloat64))), ValueError,
            "'last_epoch' must be a whole number");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            step.load_state_dict(replaced(good, "last_epoch", scalar_tensor(1.5, kFloat64))), ValueError,
            "'last_epoch' must be a whole number");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(step.load_state_dict(replaced(good, "base_lrs", zeros({3}, kFloat64))),
                                        ValueError, "one learning rate per parameter group (1), got shape [3]");
        CHECK(sgd.lr() == 1.0);
        CHECK_THROWS_AS(step.load_state_dict(StateDict()), KeyError);
    }
}

TEST_SUITE("hostile input: sizes") {
    TEST_CASE("element counts and strides that overflow 64 bits throw instead of wrapping") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(shape_numel({std::int64_t{1} << 62, 5}), RuntimeError,
                                        "more elements than a 64-bit count can hold");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(shape_numel({65536, 65536, 65536, 65536}), RuntimeError,
                                        "[65536, 65536, 65536, 65536]");
        CHECK(shape_numel({std::int64_t{1} << 62, 5, 0}) == 0);  // an empty tensor is fine whatever the other extents
        CHECK(shape_numel({std::int64_t{1} << 31, std::int64_t{1} << 31}) == std::int64_t{1} << 62);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            contiguous_strides({std::int64_t{1} << 40, std::int64_t{1} << 40, std::int64_t{1} << 40}), RuntimeError,
            "strides overflow");
        CHECK(contiguous_strides({std::int64_t{1} << 40, std::int64_t{1} << 40, 2}) ==
              Shape{std::int64_t{1} << 41, 2, 1});
        CHECK(contiguous_strides({3, 4, 5}) == Shape{20, 5, 1});
    }

    TEST_CASE("zeros({2^62}) and Linear(2^31, 2^31) throw a RuntimeError naming the size") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(zeros({std::int64_t{1} << 62}), RuntimeError,
                                        "4611686018427387904 elements of 4 bytes");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(nn::Linear(std::int64_t{1} << 31, std::int64_t{1} << 31), RuntimeError,
                                        "4611686018427387904 elements");
        // Addressable but far more than any machine has: the allocator's failure, with the size.
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(zeros({std::int64_t{1} << 50}, kFloat64), RuntimeError,
                                        "not enough memory: you tried to allocate 9007199254740992 bytes");
    }

    TEST_CASE("a DataLoader batch size near SIZE_MAX gives one batch with all the data, not zero batches") {
        auto dataset = std::make_shared<data::TensorDataset>(arange(0, 5, 1), arange(0, 5, 1));
        data::DataLoader loader(dataset, data::DataLoaderOptions(std::numeric_limits<std::size_t>::max()));
        CHECK(loader.size() == 1);
        std::vector<std::int64_t> sizes;
        for (const data::Example& b : loader) sizes.push_back(b.data.size(0));
        CHECK(sizes == std::vector<std::int64_t>{5});
        data::DataLoader dropping(dataset,
                                  data::DataLoaderOptions(std::numeric_limits<std::size_t>::max() - 1).drop_last(true));
        CHECK(dropping.size() == 0);
    }
}

TEST_SUITE("hostile input: indices and windows") {
    TEST_CASE("index_select and Embedding reject negative indices like PyTorch ('index out of range in self')") {
        const Tensor x = arange(0, 6, 1).reshape({3, 2});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.index_select(0, tensor(std::vector<std::int64_t>{-1}, {1})), IndexError,
                                        "index out of range in self");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.index_select(0, tensor(std::vector<std::int64_t>{3}, {1})), IndexError,
                                        "index out of range in self");
        nn::Embedding embedding(3, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(embedding(tensor(std::vector<std::int64_t>{0, -1}, {2})), IndexError,
                                        "Embedding: index out of range in self");
        nn::Embedding renormalising(nn::EmbeddingOptions(3, 2).max_norm(1.0));
        const std::vector<float> before = renormalising.weight.to_vector<float>();
        CHECK_THROWS_AS(renormalising(tensor(std::vector<std::int64_t>{-1}, {1})), IndexError);
        CHECK(renormalising.weight.to_vector<float>() == before);  // max_norm did not renormalise row -1 first
    }

    TEST_CASE(
        "a pooling window larger than the padded input is PyTorch's 'Output size is too small', not a 1x1 output") {
        // PyTorch 1.13: F.max_pool2d(torch.zeros(1,1,2,2), 3) -> "Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small"
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            nn::functional::max_pool2d(zeros({1, 1, 2, 2}), {3, 3}, {3, 3}, {0, 0}, {1, 1}, false), ShapeError,
            "Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            nn::functional::avg_pool2d(zeros({1, 1, 2, 2}), {3, 3}, {3, 3}, {0, 0}, false, true, 0), ShapeError,
            "Output size is too small");
        nn::MaxPool2d pool(nn::MaxPoolOptions<2>(3));
        CHECK_THROWS_AS(pool(zeros({1, 1, 2, 2})), ShapeError);
        CHECK(pool(zeros({1, 1, 3, 3})).shape() == Shape{1, 1, 1, 1});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            nn::functional::max_pool2d(zeros({1, 1, 4, 4}), {2, 2}, {0, 0}, {0, 0}, {1, 1}, false), RuntimeError,
            "stride and kernel_size should be greater than zero");
    }

    TEST_CASE(
        "3-D pooling reports its own 3-D sizes (it is composed of 2-D passes, whose sizes are not the caller's)") {
        namespace F = nn::functional;
        // PyTorch 1.13: F.max_pool3d(torch.zeros(1,2,2,5,5), 3) -> "Given input size: (2x2x5x5). Calculated output size: (2x0x1x1). Output size is too small"
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::max_pool3d_with_indices(zeros({1, 2, 2, 5, 5}), {3, 3, 3}, {3, 3, 3}, {0, 0, 0}, {1, 1, 1}, false),
            ShapeError,
            "max_pool3d: Given input size: (2x2x5x5). Calculated output size: (2x0x1x1). Output size is too small");
        // F.max_pool3d(torch.zeros(1,2,5,5,2), (1,1,3)) -> "... (2x5x5x2). Calculated output size: (2x5x5x0) ..."
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::max_pool3d_with_indices(zeros({1, 2, 5, 5, 2}), {1, 1, 3}, {1, 1, 3}, {0, 0, 0}, {1, 1, 1}, false),
            ShapeError, "Given input size: (2x5x5x2). Calculated output size: (2x5x5x0). Output size is too small");
        // F.max_pool3d(torch.zeros(1,1,3,3,3), 2, 2, 0, 3) (dilation 3) -> "(1x3x3x3). Calculated output size: (1x0x0x0)"
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::max_pool3d_with_indices(zeros({1, 1, 3, 3, 3}), {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {3, 3, 3}, false),
            ShapeError, "Given input size: (1x3x3x3). Calculated output size: (1x0x0x0). Output size is too small");
        nn::MaxPool3d pool(nn::MaxPoolOptions<3>(3));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            pool(zeros({1, 1, 2, 2, 2})), ShapeError,
            "Given input size: (1x2x2x2). Calculated output size: (1x0x0x0). Output size is too small");
        CHECK(pool(zeros({1, 1, 3, 3, 3})).shape() == Shape{1, 1, 1, 1, 1});

        // avg_pool3d compares the unpadded input with the kernel first (PyTorch's pool3d_shape_check):
        // F.avg_pool3d(torch.zeros(1,2,5,5,2), (1,1,3)) -> "input image (T: 5 H: 5 W: 2) smaller than kernel size (kT: 1 kH: 1 kW: 3)"
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::avg_pool3d(zeros({1, 2, 5, 5, 2}), {1, 1, 3}, {1, 1, 3}, {0, 0, 0}, false, true, 0), ShapeError,
            "avg_pool3d: input image (T: 5 H: 5 W: 2) smaller than kernel size (kT: 1 kH: 1 kW: 3)");
        // F.avg_pool3d(torch.zeros(1,1,2,2,2), 3, 1, 1) raises too, although the padded input would fit.
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::avg_pool3d(zeros({1, 1, 2, 2, 2}), {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, false, true, 0), ShapeError,
            "input image (T: 2 H: 2 W: 2) smaller than kernel size (kT: 3 kH: 3 kW: 3)");
        // F.max_pool3d(torch.zeros(1,1,2,2,2), 3, 1, 1) -> shape [1, 1, 2, 2, 2]: max pooling has no such check.
        CHECK(F::max_pool3d_with_indices(zeros({1, 1, 2, 2, 2}), {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, false)
                  .values.shape() == Shape{1, 1, 2, 2, 2});

        // The argument checks name the 3-D values (PyTorch 1.13's pool3d_shape_check messages).
        // F.max_pool3d(torch.zeros(1,1,4,4,4), (2,0,2), 1) -> "kernel size should be greater than zero, but got kT: 2 kH: 0 kW: 2"
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::max_pool3d_with_indices(zeros({1, 1, 4, 4, 4}), {2, 0, 2}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, false),
            RuntimeError, "max_pool3d: kernel size should be greater than zero, but got kT: 2 kH: 0 kW: 2");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::avg_pool3d(zeros({1, 1, 4, 4, 4}), {2, 2, 2}, {1, 0, 1}, {0, 0, 0}, false, true, 0), RuntimeError,
            "avg_pool3d: stride should be greater than zero, but got dT: 1 dH: 0 dW: 1");
        // F.max_pool3d(torch.zeros(1,1,4,4,4), 2, 2, 0, (1,0,1)) -> "dilation should be greater than zero, but got dilationT: 1 dilationH: 0 dilationW: 1"
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::max_pool3d_with_indices(zeros({1, 1, 4, 4, 4}), {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 0, 1}, false),
            RuntimeError, "dilation should be greater than zero, but got dilationT: 1 dilationH: 0 dilationW: 1");
        // F.max_pool3d(torch.zeros(1,1,4,4,4), (4,2,2), 2, (0,0,2)) -> "pad should be at most half of kernel size, but got pad=2 and kernel_size=2"
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::max_pool3d_with_indices(zeros({1, 1, 4, 4, 4}), {4, 2, 2}, {2, 2, 2}, {0, 0, 2}, {1, 1, 1}, false),
            ValueError, "pad should be at most half of kernel size, but got pad=2 and kernel_size=2");
        // F.avg_pool3d(torch.zeros(1,1,4,4,4), 2, 2, (0,-1,0)) -> "pad must be non-negative, but got pad: -1"
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            F::avg_pool3d(zeros({1, 1, 4, 4, 4}), {2, 2, 2}, {2, 2, 2}, {0, -1, 0}, false, true, 0), RuntimeError,
            "avg_pool3d: pad must be non-negative, but got pad: -1");
    }
}

TEST_SUITE("hostile input: bias and statistics lengths") {
    TEST_CASE(
        "a convolution bias of the wrong length is PyTorch's RuntimeError (short ones were read past their end)") {
        nn::Conv2d conv(nn::Conv2dOptions(3, 4, 3));
        conv.bias = Parameter(zeros({3}));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(conv(zeros({1, 3, 5, 5})), RuntimeError,
                                        "Given weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 4 "
                                        "elements, but got bias of size [3] instead");
        conv.bias = Parameter(zeros({5}));
        CHECK_THROWS_AS(conv(zeros({1, 3, 5, 5})), RuntimeError);
        nn::Conv1d conv1d(nn::Conv1dOptions(3, 4, 3));
        conv1d.bias = Parameter(zeros({2}));
        CHECK_THROWS_AS(conv1d(zeros({1, 3, 5})), RuntimeError);
        nn::ConvTranspose2d transposed(nn::ConvTranspose2dOptions(3, 4, 3));
        transposed.bias = Parameter(zeros({3}));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(transposed(zeros({1, 3, 5, 5})), RuntimeError,
                                        "Given transposed=1, weight of size [3, 4, 3, 3]");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(nn::functional::conv3d(zeros({1, 2, 3, 3, 3}), zeros({4, 2, 1, 1, 1}),
                                                               zeros({1}), {1, 1, 1}, {0, 0, 0, 0, 0, 0}, {1, 1, 1}, 1),
                                        RuntimeError,
                                        "expected bias to be 1-dimensional with 4 elements, but got bias of size [1]");
        CHECK_THROWS_AS(nn::functional::conv_transpose3d(zeros({1, 2, 3, 3, 3}), zeros({2, 4, 1, 1, 1}), zeros({3}),
                                                         {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}, 1),
                        RuntimeError);
    }

    TEST_CASE("batch norm statistics and affine parameters must have one value per channel") {
        // PyTorch 1.13: F.batch_norm(zeros(2,3,4), zeros(2), ones(2)) -> "running_mean should contain 3 elements not 2"
        nn::BatchNorm1d bn(3);
        bn.eval();
        bn.running_mean = Buffer(zeros({2}));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(bn(zeros({2, 3, 4})), RuntimeError,
                                        "running_mean should contain 3 elements not 2");
        nn::BatchNorm1d affine(3);
        affine.weight = Parameter(ones({2}));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(affine(zeros({2, 3, 4})), RuntimeError,
                                        "weight should contain 3 elements not 2");
    }
}

TEST_SUITE("hostile input: lazy modules loaded from a checkpoint") {
    TEST_CASE("a LazyBatchNorm2d whose running statistics are shorter than its weight is rejected and stays lazy") {
        nn::BatchNorm2d source(4);
        StateDict sd = source.state_dict();
        sd = replaced(sd, "running_mean", zeros({2}));
        nn::LazyBatchNorm2d lazy;
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            lazy.load_state_dict(sd), RuntimeError,
            "LazyBatchNorm2d: the loaded running_mean has 2 elements but the loaded weight has 4");
        CHECK(lazy.has_uninitialized_params());
        // Still usable: it initialises from a batch.
        CHECK(lazy(ones({2, 5, 3, 3})).shape() == Shape{2, 5, 3, 3});
    }

    TEST_CASE("a LazyConv2d bias that does not match out_channels is rejected with the keys and module") {
        nn::Conv2d source(nn::Conv2dOptions(3, 4, 3));
        const StateDict sd = replaced(source.state_dict(), "bias", zeros({3}));
        nn::Sequential model{nn::LazyConv2d(4, 3)};
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            model.load_state_dict(with_prefix_zero(sd)), RuntimeError,
            "(keys '0.*'): LazyConv2d: the loaded bias has shape [3], but out_channels is 4");
        nn::Sequential wrong_kernel{nn::LazyConv2d(4, 5)};
        CHECK_THROWS_AS(wrong_kernel.load_state_dict(with_prefix_zero(source.state_dict())), RuntimeError);
    }

    TEST_CASE(
        "a 1-D weight loaded into LazyLinear names the module, the keys and the file (not 'Dimension out of range')") {
        const std::string path = temp_path("linear_1d.safetensors");
        StateDict sd;
        sd.insert("fc.weight", zeros({8}));
        sd.insert("fc.bias", zeros({8}));
        serialize::save_safetensors(sd, path);
        struct Net : Cloneable<Net> {
            nn::LazyLinear fc{this, "fc", 8};
            Tensor forward(const Tensor& x) override { return fc(x); }
        } net;
        try {
            load(net, path);
            FAIL("expected an error");
        } catch (const RuntimeError& e) {
            const std::string message = e.what();
            CHECK_MESSAGE(message.find(path + ": ") == 0, message);
            CHECK_MESSAGE(
                message.find("(keys 'fc.*'): LazyLinear: the loaded weight has shape [8], expected [8, in_features]") !=
                    std::string::npos,
                message);
        }
        CHECK(net.fc.has_uninitialized_params());
        std::filesystem::remove(path);
    }

    TEST_CASE("a NaN loaded into an int64 buffer (num_batches_tracked) is an error, not an undefined conversion") {
        nn::BatchNorm1d bn(2);
        const StateDict sd = replaced(bn.state_dict(), "num_batches_tracked", scalar_tensor(std::nan(""), kFloat64));
        try {
            bn.load_state_dict(sd);
            FAIL("expected an error");
        } catch (const RuntimeError& e) {
            const std::string message = e.what();
            CHECK_MESSAGE(message.find("\"num_batches_tracked\": the checkpoint holds non-finite or out-of-range "
                                       "float64 values for an int64 tensor") != std::string::npos,
                          message);
        }
    }
}

TEST_SUITE("hostile input: training checkpoints") {
    struct Run {
        nn::Sequential model{nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2)};
        optim::Adam adam{model.parameters(), optim::AdamOptions(0.1)};
        optim::StepLR schedule{adam, 1, 0.5};
        void train() {
            train_step(model, adam, {5, 3});
            schedule.step();
        }
        std::vector<std::vector<float>> weights() const {
            std::vector<std::vector<float>> out;
            for (const auto& p : model.parameters()) out.push_back(p.to_vector<float>());
            return out;
        }
    };

    /// A copy of the checkpoint at `from` with metadata `key` set to `value` (or tensor `tensor_key` replaced).
    std::string tampered(const std::string& from, const std::string& name, const std::string& key,
                         const std::string& value, const std::string& tensor_key = "",
                         const Tensor& tensor_value = Tensor()) {
        auto contents = serialize::load_safetensors(from);
        if (!key.empty()) contents.metadata[key] = value;
        if (!tensor_key.empty()) contents.tensors = replaced(contents.tensors, tensor_key, tensor_value);
        const std::string path = temp_path(name);
        serialize::save_safetensors(contents.tensors, path, contents.metadata);
        return path;
    }

    TEST_CASE(
        "bad epochs, scheduler state and rng state are RuntimeErrors naming the file; nothing is changed by a failed "
        "load") {
        Run saved;
        saved.train();
        const std::string good = temp_path("good.ckpt");
        save_checkpoint(good, saved.model, &saved.adam, &saved.schedule, {4, {}});

        Run target;
        target.train();
        target.train();
        const auto weights = target.weights();
        const double lr = target.adam.lr();
        const StateDict optimizer_state = target.adam.state_dict();
        manual_seed(123);
        const std::string rng = default_generator().state();

        const auto expect_untouched = [&] {
            CHECK(target.weights() == weights);
            CHECK(target.adam.lr() == lr);
            CHECK(target.adam.state_dict().at("state.0.step").item<double>() ==
                  optimizer_state.at("state.0.step").item<double>());
            CHECK(target.adam.state_dict().at("state.0.exp_avg").to_vector<float>() ==
                  optimizer_state.at("state.0.exp_avg").to_vector<float>());
            CHECK(target.schedule.last_epoch() == 2);
            CHECK(default_generator().state() == rng);
        };
        const std::vector<std::tuple<std::string, std::string, std::string, std::string, std::string, Tensor>> cases{
            {"epoch_text.ckpt", "epoch", "abc", "metadata 'epoch' is not a non-negative integer: 'abc'", "", Tensor()},
            {"epoch_huge.ckpt", "epoch", "99999999999999999999", "metadata 'epoch' is not", "",
             Tensor()},  // std::stoll threw out_of_range
            {"epoch_tail.ckpt", "epoch", "3x", "metadata 'epoch' is not", "", Tensor()},
            {"rng.ckpt", "rng_state", "garbage", "metadata 'rng_state'", "", Tensor()},
            {"base_lrs.ckpt", "", "", "'base_lrs' must hold one learning rate per parameter group (1), got shape [3]",
             "scheduler.base_lrs", zeros({3}, kFloat64)},
            {"last_epoch.ckpt", "", "", "'last_epoch' must be a whole number", "scheduler.last_epoch",
             scalar_tensor(std::nan(""), kFloat64)},
            {"adam_shape.ckpt", "", "", "'state.2.exp_avg' for parameter 2 (group 0)", "optimizer.state.2.exp_avg",
             zeros({7})},
        };
        for (const auto& [name_, key, value, message, tensor_key, tensor_value] : cases) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            CAPTURE(name);
            const std::string path = tampered(good, name, key, value, tensor_key, tensor_value);
            LAZYNN_CHECK_THROWS_WITH_SUBSTR(load_checkpoint(path, target.model, &target.adam, &target.schedule),
                                            RuntimeError, message);
            LAZYNN_CHECK_THROWS_WITH_SUBSTR(load_checkpoint(path, target.model, &target.adam, &target.schedule),
                                            RuntimeError, path + ": ");
            expect_untouched();
            std::filesystem::remove(path);
        }
        // The good file still loads, completely.
        const TrainingState state = load_checkpoint(good, target.model, &target.adam, &target.schedule);
        CHECK(state.epoch == 4);
        CHECK(target.weights() == saved.weights());
        CHECK(target.schedule.last_epoch() == 1);
        std::filesystem::remove(good);
    }
}

TEST_SUITE("hostile input: files") {
    TEST_CASE("a directory passed to load_safetensors, load or read_csv says it is a directory") {
        const std::string dir = temp_path("a_directory");
        std::filesystem::create_directories(dir);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(dir), RuntimeError, dir + ": is a directory");
        nn::Linear fc(2, 2);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(load(fc, dir), RuntimeError, dir + ": is a directory");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(data::read_csv(dir), RuntimeError, dir + ": is a directory");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(data::read_idx(dir), RuntimeError, dir + ": is a directory");
        std::filesystem::remove(dir);
    }

    TEST_CASE(
        "read_csv keeps a trailing empty cell (an error) and rejects an embedded NUL instead of truncating the cell") {
        const std::string path = temp_path("cells.csv");
        write_file(path, "a,b,c\n1,2,\n");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(data::read_csv(path), RuntimeError, path + ":2: column 3 is not a number: ''");
        write_file(path, "a,b\n1,2\n3,4,\n");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(data::read_csv(path), RuntimeError, ":3: column 3 is not a number: ''");
        write_file(path, std::string("a,b\n1,2\n3,4\0"
                                     "99\n",
                                     15));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(data::read_csv(path), RuntimeError,
                                        path + ":3: contains a NUL byte at column 4");
        write_file(path, "a,b\r\n1,2\r\n\r\n3, 4\r\n");
        CHECK(data::read_csv(path).to_vector<float>() == std::vector<float>{1, 2, 3, 4});
        std::filesystem::remove(path);
    }

    TEST_CASE(
        "a safetensors header whose shape overflows 64 bits is a RuntimeError, not a tensor larger than its data") {
        const std::string path = temp_path("huge_shape.safetensors");
        // [2^62 + 1, 4] float32: 2^64 + 16 bytes, which wraps to 16, exactly what data_offsets [0, 16) hold.
        std::string header = R"({"x":{"dtype":"F32","shape":[4611686018427387905,4],"data_offsets":[0,16]}})";
        while (header.size() % 8) header.push_back(' ');
        std::string bytes(8, '\0');
        for (int i = 0; i < 8; ++i)
            bytes[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
        write_file(path, bytes + header + std::string(16, '\0'));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(path), RuntimeError,
                                        "tensor 'x' has a shape [4611686018427387905, 4] too large");
        std::filesystem::remove(path);
    }

    TEST_CASE("an IDX header of shape [65536]^4 is a RuntimeError, not a wrapped element count") {
        const std::string path = temp_path("huge.idx");
        std::string bytes{'\0', '\0', '\x08', '\x04'};
        for (int d = 0; d < 4; ++d) bytes += std::string{'\0', '\x01', '\0', '\0'};
        write_file(path, bytes);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(data::read_idx(path), RuntimeError,
                                        "corrupt IDX header: the shape [65536, 65536, 65536, 65536] is too large");
        std::filesystem::remove(path);
    }

    TEST_CASE("a save removes the temporary files of killed saves in its directory, only those whose process is gone") {
        const std::filesystem::path dir = temp_path("stale");
        std::filesystem::create_directories(dir);
        const pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        REQUIRE(child > 0);
        int status = 0;
        ::waitpid(child, &status, 0);  // reaped: no process has this id now
        const std::filesystem::path dead = dir / ("model.safetensors.tmp-" + std::to_string(child) + "-0");
        const std::filesystem::path alive = dir / ("other.safetensors.tmp-" + std::to_string(::getppid()) + "-3");
        const std::filesystem::path unrelated = dir / "notes.tmp-abc-1";
        for (const auto& p : {dead, alive, unrelated}) write_file(p.string(), "partial");
        nn::Linear fc(2, 2);
        save(fc, (dir / "model.safetensors").string());
        CHECK_FALSE(std::filesystem::exists(dead));
        CHECK(std::filesystem::exists(alive));      // its writer may still be running
        CHECK(std::filesystem::exists(unrelated));  // not a name a save writes
        CHECK(std::filesystem::exists(dir / "model.safetensors"));
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("copying between empty tensors does not pass null pointers to memcpy (UBSan)") {
        Tensor a = zeros({0, 3});
        a.copy_(zeros({0, 3}));
        CHECK(a.clone().shape() == Shape{0, 3});
    }

    TEST_CASE("int64 sums, products and cumulative sums that overflow wrap around as in PyTorch (no UBSan report)") {
        constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
        const Tensor t = tensor(std::vector<std::int64_t>{big, 1}, {2});
        CHECK(t.sum().item<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
        CHECK(t.sum({0}).item<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
        CHECK(tensor(std::vector<std::int64_t>{big, 2}, {2}).prod().item<std::int64_t>() == -2);
        CHECK(t.cumsum(0).to_vector<std::int64_t>() ==
              std::vector<std::int64_t>{big, std::numeric_limits<std::int64_t>::min()});
    }

    TEST_CASE("functional conv2d and conv_transpose2d reject a bias of the wrong length instead of reading past it") {
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            nn::functional::conv2d(ones({1, 2, 4, 4}), ones({3, 2, 3, 3}), ones({2}), {1, 1}, {0, 0, 0, 0}, {1, 1}, 1),
            RuntimeError, "conv2d");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            nn::functional::conv2d(ones({1, 2, 4, 4}), ones({3, 2, 3, 3}), ones({4}), {1, 1}, {0, 0, 0, 0}, {1, 1}, 1),
            RuntimeError, "conv2d");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(nn::functional::conv_transpose2d(ones({1, 2, 4, 4}), ones({2, 3, 3, 3}),
                                                                         ones({2}), {1, 1}, {0, 0}, {0, 0}, {1, 1}, 1),
                                        RuntimeError, "conv_transpose2d");
    }
}
