// Sequential (modules/src/container.cpp, conv_fold.cpp): a layer followed by a ReLU runs fused, and an
// eval-mode BatchNorm2d after a Conv2d is folded into it without autograd; both equal the separate calls.
#include "test_support.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_close;

TEST_SUITE("layer + ReLU fusion in Sequential") {
    // Sequential runs Linear/Conv1d/Conv2d followed by ReLU as one pass; everything observable
    // must equal the two separate calls.
    struct Run {
        Tensor out, input_grad;
        std::vector<Tensor> param_grads;
    };

    Run run(Module & model, const Tensor& x, bool through_sequential) {
        model.zero_grad();
        const Tensor in = x.detach().requires_grad_();
        Tensor out;
        if (through_sequential) {
            out = model(in);
        } else {  // each child on its own
            out = in;
            for (Module* child : model.children()) out = (*child)(out);
        }
        (out * out.detach().sin()).sum().backward();
        Run r{out, in.grad(), {}};
        for (const Tensor& p : model.parameters()) r.param_grads.push_back(p.grad().clone());
        return r;
    }

    TEST_CASE("fused layers equal the separate layer and ReLU exactly, in float32 and float64") {
        manual_seed(21);
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            CAPTURE(dtype_name(dtype));
            Sequential mlp{Linear(6, 5), ReLU(), Linear(5, 4), ReLU()};
            Sequential cnn{Conv2d(Conv2dOptions(2, 3, 3).padding(1)),
                           ReLU(),
                           Conv2d(3, 2, 2),
                           ReLU(),
                           Flatten(),
                           LazyLinear(3),
                           ReLU()};
            Sequential cnn1d{Conv1d(Conv1dOptions(2, 4, 3).stride(2)), ReLU()};
            const std::vector<std::pair<Sequential*, Tensor>> cases{
                {&mlp, randn({7, 6})}, {&cnn, randn({3, 2, 6, 5})}, {&cnn1d, randn({2, 2, 9})}};
            for (const auto& [model, x] : cases) {
                model->to(dtype);
                model->initialize(x.to(dtype));
                const Run fused = run(*model, x.to(dtype), true), separate = run(*model, x.to(dtype), false);
                if (model != &cnn1d) CHECK(fused.out.grad_fn()->name() == "ReluBackward0");  // Conv1d ends in a squeeze
                CHECK(equal(fused.out, separate.out));
                CHECK(equal(fused.input_grad, separate.input_grad));
                REQUIRE(fused.param_grads.size() == separate.param_grads.size());
                for (std::size_t i = 0; i < fused.param_grads.size(); ++i)
                    CHECK(equal(fused.param_grads[i], separate.param_grads[i]));
            }
        }
    }

    TEST_CASE("a batch norm followed by a ReLU fuses in training and in evaluation, running statistics included") {
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            CAPTURE(dtype_name(dtype));
            auto build = [dtype] {
                manual_seed(24);
                Sequential model{Conv2d(Conv2dOptions(2, 3, 3).padding(1)),
                                 BatchNorm2d(3),
                                 ReLU(),
                                 Flatten(),
                                 Linear(90, 4),
                                 BatchNorm1d(4),
                                 ReLU()};
                model.to(dtype);
                return model;
            };
            Sequential fused_model = build(), separate_model = build();
            const Tensor x = randn({5, 2, 6, 5}).to(dtype);
            for (const bool training : {true, false, true}) {
                CAPTURE(training);
                fused_model.train(training);
                separate_model.train(training);
                const Run fused = run(fused_model, x, true), separate = run(separate_model, x, false);
                CHECK(fused.out.grad_fn()->name() == "ReluBackward0");
                CHECK(fused.out.min().item<double>() >= 0);
                CHECK(equal(fused.out, separate.out));
                CHECK(equal(fused.input_grad, separate.input_grad));
                REQUIRE(fused.param_grads.size() == separate.param_grads.size());
                for (std::size_t i = 0; i < fused.param_grads.size(); ++i)
                    CHECK(equal(fused.param_grads[i], separate.param_grads[i]));
                const auto fused_buffers = fused_model.named_buffers(),
                           separate_buffers = separate_model.named_buffers();
                REQUIRE(fused_buffers.size() == separate_buffers.size());
                for (std::size_t i = 0; i < fused_buffers.size(); ++i)
                    CHECK(equal(fused_buffers[i].second, separate_buffers[i].second));
            }
        }
        // The fused pass in float64 against finite differences, with batch statistics, and
        // PyTorch's ReLU at NaN (passes, gradient 1).
        manual_seed(25);
        BatchNorm2d norm(3);
        norm.to(kFloat64);
        const auto check = autograd::gradcheck([&](const std::vector<Tensor>& in) { return norm.forward_relu(in[0]); },
                                               {randn({4, 3, 3, 2}, kFloat64).requires_grad_()});
        CHECK_MESSAGE(check.ok, check.message);
        BatchNorm1d plain(1);
        plain.to(kFloat64);
        plain.eval();
        const Tensor specials = tensor(std::vector<double>{std::nan(""), -1.0, 2.0}, {3, 1}, kFloat64).requires_grad_();
        const Tensor y = plain.forward_relu(specials);
        CHECK(std::isnan(y.to_vector<double>()[0]));
        y.sum().backward();
        const auto grads = specials.grad().to_vector<double>();
        CHECK(grads[0] == doctest::Approx(1.0 / std::sqrt(1.0 + 1e-5)));
        CHECK(grads[1] == 0.0);
        CHECK(grads[2] == doctest::Approx(1.0 / std::sqrt(1.0 + 1e-5)));
    }

    TEST_CASE("a batch norm, a ReLU and a 2x2 max pooling run as one op that equals the three layers") {
        // Row widths for every kernel path: 2 windows (scalar), 5 and 13 (SSE / AVX2 registers with
        // an overlapping last block), 20 (AVX-512 and a partial block); odd heights and widths
        // leave rows and columns no window covers. Rounded inputs make ties inside windows common.
        const std::vector<Shape> shapes{{5, 3, 6, 5}, {4, 2, 7, 10}, {3, 2, 26, 26}, {2, 3, 5, 41}, {2, 2, 11, 11}};
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            for (const Shape& shape : shapes) {
                CAPTURE(dtype_name(dtype));
                CAPTURE(shape_to_list(shape));
                auto build = [dtype, &shape] {
                    manual_seed(27);
                    Sequential model{BatchNorm2d(shape[1]), ReLU(), MaxPool2d(MaxPool2dOptions(2))};
                    model.to(dtype);
                    NoGradGuard no_grad;
                    auto& norm = static_cast<BatchNorm2d&>(model[0]);
                    norm.weight.copy_(randn({shape[1]}).to(dtype));  // a negative scale flips the order
                    norm.bias.copy_(randn({shape[1]}).to(dtype));
                    return model;
                };
                Sequential fused_model = build(), separate_model = build();
                const Tensor x = (randn(shape) * 2.0).round().to(dtype);
                for (const bool training : {true, false, true}) {
                    CAPTURE(training);
                    fused_model.train(training);
                    separate_model.train(training);
                    const Run fused = run(fused_model, x, true), separate = run(separate_model, x, false);
                    // One node over input, weight and bias, named as PyTorch names the pooled output's.
                    CHECK(fused.out.grad_fn()->name() == "MaxPool2DWithIndicesBackward0");
                    CHECK(fused.out.grad_fn()->next_functions().size() == 3);
                    const double rtol = dtype == kFloat32 ? 1e-5 : 1e-12;
                    check_close(fused.out, separate.out, rtol, rtol);
                    check_close(fused.input_grad, separate.input_grad, rtol, rtol);
                    REQUIRE(fused.param_grads.size() == separate.param_grads.size());
                    for (std::size_t i = 0; i < fused.param_grads.size(); ++i)
                        check_close(fused.param_grads[i], separate.param_grads[i], rtol, rtol);
                    const auto fused_buffers = fused_model.named_buffers(),
                               separate_buffers = separate_model.named_buffers();
                    REQUIRE(fused_buffers.size() == separate_buffers.size());
                    for (std::size_t i = 0; i < fused_buffers.size(); ++i)
                        CHECK(equal(fused_buffers[i].second, separate_buffers[i].second));
                }
            }
        }
    }

    TEST_CASE("the fused batch norm, ReLU and max pooling equals PyTorch's three layers, non-finite inputs too") {
        // tools/fixtures/gen_batch_norm_relu_max_pool.py: a training call, then an evaluation call.
        const auto fixture = lazynn::testing::load_fixture("batch_norm_relu_max_pool.json");
        REQUIRE(fixture.at("cases").size() == 12);
        for (const auto& c : fixture.at("cases")) {
            CAPTURE(c.at("name").get<std::string>());
            const Tensor x = lazynn::testing::typed_fixture_tensor(c.at("input"));
            const Dtype dtype = x.dtype();
            Sequential model{BatchNorm2d(x.shape()[1]), ReLU(), MaxPool2d(MaxPool2dOptions(2))};
            model.to(dtype);
            auto& norm = static_cast<BatchNorm2d&>(model[0]);
            {
                NoGradGuard no_grad;
                norm.weight.copy_(lazynn::testing::typed_fixture_tensor(c.at("weight")));
                norm.bias.copy_(lazynn::testing::typed_fixture_tensor(c.at("bias")));
                norm.running_mean.copy_(lazynn::testing::typed_fixture_tensor(c.at("running_mean")));
                norm.running_var.copy_(lazynn::testing::typed_fixture_tensor(c.at("running_var")));
            }
            const double rtol = dtype == kFloat32 ? 1e-4 : 1e-10, atol = dtype == kFloat32 ? 1e-5 : 1e-12;
            for (const auto& call : c.at("calls")) {
                const bool training = call.at("training").get<bool>();
                CAPTURE(training);
                model.train(training);
                model.zero_grad();
                const Tensor in = x.detach().requires_grad_();
                const Tensor out = model(in);
                CHECK(out.grad_fn()->name() == "MaxPool2DWithIndicesBackward0");  // the fused op ran
                CHECK(out.grad_fn()->next_functions().size() == 3);
                (out * lazynn::testing::typed_fixture_tensor(call.at("seed"))).sum().backward();
                const auto expected = [&](const char* key) {
                    return lazynn::testing::typed_fixture_tensor(call.at(key));
                };
                check_close(out, expected("output"), rtol, atol);
                check_close(in.grad(), expected("input_grad"), rtol, atol);
                check_close(norm.weight.grad(), expected("weight_grad"), rtol, atol);
                check_close(norm.bias.grad(), expected("bias_grad"), rtol, atol);
                check_close(norm.running_mean, expected("running_mean"), rtol, atol);
                check_close(norm.running_var, expected("running_var"), rtol, atol);
            }
        }
    }

    TEST_CASE("the fused batch norm, ReLU and max pooling: NaN windows, finite differences, double backward") {
        // In evaluation a NaN stays in its window: the pooled value is NaN and its gradient goes to
        // the last NaN of the window, as max_pool2d and ReLU's backward send it.
        const double nan = std::nan("");
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            CAPTURE(dtype_name(dtype));
            auto build = [dtype] {
                manual_seed(28);
                Sequential model{BatchNorm2d(2), ReLU(), MaxPool2d(MaxPool2dOptions(2))};
                model.to(dtype);
                model.eval();
                return model;
            };
            Sequential fused_model = build(), separate_model = build();
            Tensor x = randn({2, 2, 4, 18});
            {
                NoGradGuard no_grad;
                for (const auto& [i, c, y, w] : std::vector<std::array<std::int64_t, 4>>{
                         {0, 0, 0, 0}, {0, 0, 1, 1}, {0, 1, 2, 5}, {1, 1, 3, 16}, {1, 0, 0, 9}, {1, 0, 1, 8}})
                    x.select(0, i).select(0, c).select(0, y).select(0, w).fill_(nan);
            }
            const Run fused = run(fused_model, x.to(dtype), true), separate = run(separate_model, x.to(dtype), false);
            CHECK(fused.out.grad_fn()->next_functions().size() == 3);
            check_close(fused.out, separate.out);
            check_close(fused.input_grad, separate.input_grad);
            REQUIRE(fused.param_grads.size() == 2);
            for (std::size_t i = 0; i < fused.param_grads.size(); ++i)
                check_close(fused.param_grads[i], separate.param_grads[i]);
            CHECK(std::isnan(fused.out.to_vector<double>()[0]));
        }
        // The op in float64 against finite differences and second derivatives, with batch and with
        // running statistics.
        manual_seed(29);
        BatchNorm2d norm(3);
        norm.to(kFloat64);
        for (const bool training : {true, false}) {
            CAPTURE(training);
            norm.train(training);
            const auto fn = [&](const std::vector<Tensor>& in) { return *norm.forward_relu_max_pool2x2(in[0]); };
            const std::vector<Tensor> inputs{randn({3, 3, 5, 10}, kFloat64).requires_grad_()};
            const auto first = autograd::gradcheck(fn, inputs);
            CHECK_MESSAGE(first.ok, first.message);
            const auto second = autograd::gradgradcheck(fn, inputs);
            CHECK_MESSAGE(second.ok, second.message);
        }
        // Inputs forward() rejects raise forward()'s own error; inputs it accepts that the op does
        // not take (maps too small to pool, empty batches, 16-bit maps) are left to the three layers.
        norm.train();
        for (const Tensor& rejected : {randn({2, 4, 4, 4}, kFloat64), randn({2, 3, 4, 4}, kFloat32),
                                       randn({2, 3, 4}, kFloat64), randn({1, 3, 1, 1}, kFloat64)}) {
            CAPTURE(shape_to_list(rejected.shape()));
            std::string expected;
            try {
                (void)norm(rejected);
            } catch (const Error& e) {
                expected = e.what();
            }
            REQUIRE_FALSE(expected.empty());
            CHECK_THROWS_WITH_AS(norm.forward_relu_max_pool2x2(rejected), expected.c_str(), Error);
        }
        CHECK_FALSE(norm.forward_relu_max_pool2x2(randn({2, 3, 1, 4}, kFloat64)).has_value());
        CHECK_FALSE(norm.forward_relu_max_pool2x2(randn({0, 3, 4, 4}, kFloat64)).has_value());
        BatchNorm2d mixed(3);  // a bfloat16 map with float32 parameters fuses too (16-bit case below)
        CHECK(mixed.forward_relu_max_pool2x2(randn({2, 3, 4, 4}).to(kBFloat16))->dtype() == kBFloat16);
        Sequential overlapping{BatchNorm2d(3), ReLU(), MaxPool2d(MaxPool2dOptions(2).stride(1))};
        CHECK(overlapping(randn({2, 3, 4, 4})).grad_fn()->next_functions().size() == 1);  // not 2x2 / 2: not fused
    }

    TEST_CASE("the fused batch norm, ReLU and max pooling: infinities, empty batches, non-contiguous inputs") {
        // An infinite input a window picks passes an infinite term into the weight's gradient; one
        // no window picks (or no window covers) makes it NaN, as 0 * inf does in batch norm's own
        // backward. Channel 0 holds a picked infinity, channel 1 an unpicked one, channel 2 one in
        // the column no window covers. Widths 5 (scalar rows) and 33 (registers of 16 windows).
        const double inf = std::numeric_limits<double>::infinity();
        for (const std::int64_t w : {5, 33}) {
            for (const Dtype dtype : {kFloat32, kFloat64}) {
                for (const bool training : {false, true}) {
                    CAPTURE(w);
                    CAPTURE(dtype_name(dtype));
                    CAPTURE(training);
                    auto build = [dtype, training] {
                        manual_seed(30);
                        Sequential model{BatchNorm2d(3), ReLU(), MaxPool2d(MaxPool2dOptions(2))};
                        model.to(dtype);
                        model.train(training);
                        return model;
                    };
                    Sequential fused_model = build(), separate_model = build();
                    Tensor x = randn({2, 3, 4, w});
                    {
                        NoGradGuard no_grad;
                        const auto at = [&](std::int64_t i, std::int64_t c, std::int64_t y, std::int64_t col) {
                            return x.select(0, i).select(0, c).select(0, y).select(0, col);
                        };
                        at(0, 0, 1, 2).fill_(inf);
                        at(0, 1, 0, 1).fill_(-inf);
                        at(0, 2, 3, w - 1).fill_(inf);
                    }
                    const Tensor upstream = randn({2, 3, 2, w / 2}).to(dtype);
                    std::vector<Tensor> outs, input_grads, weight_grads, bias_grads;
                    for (Sequential* model : {&fused_model, &separate_model}) {
                        const Tensor in = x.to(dtype).requires_grad_();
                        Tensor out = model == &fused_model ? (*model)(in) : in;
                        if (model == &separate_model)
                            for (Module* child : model->children()) out = (*child)(out);
                        (out * upstream).sum().backward();
                        auto& norm = static_cast<BatchNorm2d&>((*model)[0]);
                        outs.push_back(out);
                        input_grads.push_back(in.grad());
                        weight_grads.push_back(norm.weight.grad());
                        bias_grads.push_back(norm.bias.grad());
                    }
                    CHECK(outs[0].grad_fn()->next_functions().size() == 3);  // fused
                    check_close(outs[0], outs[1]);
                    check_close(input_grads[0], input_grads[1]);
                    check_close(weight_grads[0], weight_grads[1]);
                    check_close(bias_grads[0], bias_grads[1]);
                    if (!training) {
                        const std::vector<double> weight_grad = weight_grads[0].to_vector<double>();
                        CHECK(std::isinf(weight_grad[0]));
                        CHECK(std::isnan(weight_grad[1]));
                        CHECK(std::isnan(weight_grad[2]));
                    }
                }
            }
        }
        // An empty batch (the three layers run: the op needs a window) and a non-contiguous map.
        for (const Tensor& x : {randn({0, 3, 4, 6}), randn({2, 3, 12, 7}).transpose(2, 3)}) {
            CAPTURE(shape_to_list(x.shape()));
            auto build = [] {
                manual_seed(31);
                return Sequential{BatchNorm2d(3), ReLU(), MaxPool2d(MaxPool2dOptions(2))};
            };
            Sequential fused_model = build(), separate_model = build();
            const Run fused = run(fused_model, x, true), separate = run(separate_model, x, false);
            check_close(fused.out, separate.out);
            check_close(fused.input_grad, separate.input_grad);
            for (std::size_t i = 0; i < fused.param_grads.size(); ++i)
                check_close(fused.param_grads[i], separate.param_grads[i]);
            const auto fused_buffers = fused_model.named_buffers(), separate_buffers = separate_model.named_buffers();
            for (std::size_t i = 0; i < fused_buffers.size(); ++i)
                check_close(fused_buffers[i].second, separate_buffers[i].second);
        }
    }

    TEST_CASE("16-bit batch norm, ReLU and max pooling run fused and equal the 16-bit layers") {
        // A bfloat16 or float16 batch norm computes in float32 and rounds its output before a fused
        // ReLU and pooling see it, as the layers one by one do. Channel 0's bias of 8 makes rounding
        // tie neighbours that differ in float32 (the pooling must pick the first); channels 1 to 4
        // have weight 0, so they output their bias: +-3e-41, which rounds to +-0 (the ReLU's mask
        // closes; -0.0 passes), and two exact bfloat16 ties (to even: one down, one up). Outputs,
        // input gradients and running statistics bit for bit.
        const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
        for (const Dtype dtype : {kBFloat16, kFloat16}) {
            for (const bool parameters_16bit : {false, true}) {
                for (const bool training : {false, true}) {
                    for (const std::int64_t w : {6, 34}) {  // 3 windows a row (scalar), 17 (registers)
                        for (const int layers : {1, 2, 3}) {
                            CAPTURE(dtype_name(dtype));
                            CAPTURE(parameters_16bit);
                            CAPTURE(training);
                            CAPTURE(w);
                            CAPTURE(layers);
                            auto build = [&](Dtype parameter_dtype) {
                                Sequential model{BatchNorm2d(5)};
                                if (layers >= 2) model.push_back(ReLU());
                                if (layers == 3) model.push_back(MaxPool2d(MaxPool2dOptions(2)));
                                auto& norm = static_cast<BatchNorm2d&>(model[0]);
                                {
                                    NoGradGuard no_grad;
                                    const double tie_down = std::bit_cast<float>(0x3F808000u),
                                                 tie_up = std::bit_cast<float>(0x3F818000u);
                                    norm.weight.copy_(tensor({1.0, 0.0, 0.0, 0.0, 0.0}));
                                    norm.bias.copy_(tensor({8.0, 3e-41, -3e-41, tie_down, tie_up}));
                                    norm.running_mean.copy_(tensor({0.25, 0.0, 0.0, 0.0, 0.0}));
                                    norm.running_var.copy_(tensor({1.5, 1.0, 1.0, 1.0, 1.0}));
                                }
                                model.to(parameter_dtype);
                                model.train(training);
                                return model;
                            };
                            manual_seed(31);
                            Tensor x = randn({4, 5, 6, w}).to(dtype);
                            if (!training) {  // batch statistics would make the whole channel NaN
                                NoGradGuard no_grad;
                                x.select(0, 3).select(0, 0).select(0, 1).select(0, 2).fill_(inf);
                                x.select(0, 3).select(0, 0).select(0, 2).select(0, 4).fill_(nan);
                            }
                            const Dtype parameter_dtype = parameters_16bit ? dtype : kFloat32;
                            // One layer has nothing to fuse: its reference is the float32 batch norm
                            // on widened copies (the 16-bit parameters' values), rounded once.
                            Sequential fused_model = build(parameter_dtype),
                                       separate_model = build(layers == 1 ? kFloat32 : parameter_dtype);
                            if (layers == 1 && parameters_16bit) {
                                NoGradGuard no_grad;
                                const auto rounded = fused_model.named_parameters();
                                auto widened = separate_model.named_parameters();
                                for (std::size_t k = 0; k < rounded.size(); ++k)
                                    widened[k].second.copy_(rounded[k].second.to(kFloat32));
                            }
                            std::vector<Tensor> outs, input_grads, weight_grads, bias_grads, running;
                            Tensor upstream;
                            for (Sequential* model : {&fused_model, &separate_model}) {
                                const Tensor in = x.detach().requires_grad_();
                                Tensor out;
                                if (model == &fused_model) {
                                    out = (*model)(in);
                                } else if (layers == 1) {
                                    out = (*model)(in.to(kFloat32)).to(dtype);
                                } else {
                                    out = in;
                                    for (Module* child : model->children()) out = (*child)(out);
                                }
                                if (!upstream.defined()) upstream = randn(out.shape()).to(dtype);
                                (out * upstream).sum().backward();
                                auto& norm = static_cast<BatchNorm2d&>((*model)[0]);
                                outs.push_back(out);
                                input_grads.push_back(in.grad());
                                weight_grads.push_back(norm.weight.grad().to(parameter_dtype));
                                bias_grads.push_back(norm.bias.grad().to(parameter_dtype));
                                running.push_back(norm.running_mean.to(parameter_dtype));
                                running.push_back(norm.running_var.to(parameter_dtype));
                            }
                            if (layers == 3) CHECK(outs[0].grad_fn()->next_functions().size() == 3);
                            if (layers == 2) CHECK(outs[0].grad_fn()->name() == "ReluBackward0");
                            CHECK(outs[0].dtype() == dtype);
                            CHECK(input_grads[0].dtype() == dtype);
                            CHECK(weight_grads[0].dtype() == parameter_dtype);
                            lazynn::testing::check_same(outs[0], outs[1], true, 0.0);
                            lazynn::testing::check_same(input_grads[0], input_grads[1], true, 0.0);
                            // bfloat16's pooled backward (layers 3) sums the batch norm's terms over
                            // the pooling's picks, as the float32 fused kernel does: its parameter
                            // gradients are the layers' sums in another order, which differ by float32
                            // rounding (more where terms cancel; a 16-bit parameter's gradient then
                            // rounds to within one 16-bit step). A wrong pick or mask moves whole terms.
                            const bool reordered_sums = dtype == kBFloat16 && layers == 3;
                            double sum_order = 0.0;
                            if (reordered_sums)
                                sum_order = parameters_16bit ? std::ldexp(1.0, -7) : std::ldexp(1.0, -16);
                            lazynn::testing::check_same(weight_grads[0], weight_grads[1], false, sum_order);
                            lazynn::testing::check_same(bias_grads[0], bias_grads[1], false, sum_order);
                            if (layers > 1 || !parameters_16bit) {  // 16-bit statistics update in 16 bits
                                lazynn::testing::check_same(running[0], running[2], false, 0.0);
                                lazynn::testing::check_same(running[1], running[3], false, 0.0);
                            }
                        }
                    }
                }
            }
        }
    }

    TEST_CASE("without autograd, an eval-mode BatchNorm2d after a Conv2d is folded into it") {
        manual_seed(23);
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            CAPTURE(dtype_name(dtype));
            Sequential model{Conv2d(Conv2dOptions(3, 6, 3).padding(1)),
                             BatchNorm2d(6),
                             ReLU(),
                             Conv2d(6, 4, 3),
                             LazyBatchNorm2d(),
                             MaxPool2d(MaxPoolOptions<2>(2))};
            model.to(dtype);
            const Tensor x = randn({5, 3, 9, 8}).to(dtype);
            for (int step = 0; step < 3; ++step) (void)model(x * (step + 1.0));  // running statistics away from 0 and 1
            {
                NoGradGuard no_grad;
                for (auto& [name, p] : model.named_parameters()) {
                    if (name.rfind("1.", 0) == 0 || name.rfind("4.", 0) == 0)
                        p.copy_(randn(p.shape()).to(dtype));  // affine weights
                }
            }
            model.eval();
            auto separately = [&] {
                Tensor out = x;
                for (Module* child : model.children()) out = (*child)(out);
                return out;
            };
            const Tensor reference = separately();
            {
                NoGradGuard no_grad;
                const Tensor folded = model(x);
                check_close(folded, reference, dtype == kFloat32 ? 1e-5 : 1e-12, dtype == kFloat32 ? 1e-5 : 1e-12);
            }
            // With autograd the layers run as written (only the ReLU fuses), bit for bit.
            CHECK(equal(model(x), reference));
            // A hook on a batch norm keeps it (and its convolution) separate calls, its output visible.
            const Tensor first_norm = model[1](model[0](x));
            Tensor seen;
            auto handle = model[1].register_forward_hook(
                [&](Module&, const std::vector<Tensor>&, const Tensor& out) { seen = out; });
            NoGradGuard no_grad;
            check_close(model(x), reference, dtype == kFloat32 ? 1e-5 : 1e-12, dtype == kFloat32 ? 1e-5 : 1e-12);
            REQUIRE(seen.defined());
            CHECK(equal(seen, first_norm));
        }
    }

    TEST_CASE("fused layers pass gradcheck, follow PyTorch's ReLU at NaN and -0.0, and step aside for hooks") {
        manual_seed(22);
        const Tensor x = randn({2, 3, 5, 4}, kFloat64).requires_grad_();
        const Tensor w = randn({4, 3, 3, 3}, kFloat64).requires_grad_(), b = randn({4}, kFloat64).requires_grad_();
        auto conv = [](const std::vector<Tensor>& in) {
            return functional::conv2d_relu(in[0], in[1], in[2], {1, 1}, {1, 1, 0, 0}, {1, 1}, 1);
        };
        const auto conv_check = autograd::gradcheck(conv, {x, w, b});
        CHECK_MESSAGE(conv_check.ok, conv_check.message);
        const Tensor a = randn({5, 3}, kFloat64).requires_grad_(), wl = randn({4, 3}, kFloat64).requires_grad_();
        const auto linear_check = autograd::gradcheck(
            [](const std::vector<Tensor>& in) { return functional::linear_relu(in[0], in[1], in[2]); },
            {a, wl, randn({4}, kFloat64).requires_grad_()});
        CHECK_MESSAGE(linear_check.ok, linear_check.message);
        // relu(NaN) = NaN with gradient 1; relu(-0.0) = -0.0 with gradient 0 (PyTorch 1.13, measured).
        const double nan = std::nan("");
        const Tensor specials = tensor(std::vector<double>{nan, -1.0, 2.0}, {3, 1}, kFloat64).requires_grad_();
        const Tensor y = functional::linear_relu(specials, ones({1, 1}, kFloat64));
        CHECK(std::isnan(y.to_vector<double>()[0]));
        y.sum().backward();
        CHECK(specials.grad().to_vector<double>() == std::vector<double>{1.0, 0.0, 1.0});
        const Tensor unfused = tensor(std::vector<double>{nan, -0.0, 2.0}, {3}, kFloat64).requires_grad_();
        const Tensor r = unfused.relu();
        CHECK(std::isnan(r.to_vector<double>()[0]));
        CHECK(std::signbit(r.to_vector<double>()[1]));
        r.sum().backward();
        CHECK(unfused.grad().to_vector<double>() == std::vector<double>{1.0, 0.0, 1.0});
        // A hook on the layer must see the layer's own output, before the ReLU.
        Sequential model{Linear(4, 8), ReLU()};
        Tensor seen;
        auto handle =
            model[0].register_forward_hook([&](Module&, const std::vector<Tensor>&, const Tensor& out) { seen = out; });
        const Tensor out = model(randn({16, 4}));
        CHECK(seen.min().item<double>() < 0);
        CHECK(out.min().item<double>() >= 0);
        CHECK(out.grad_fn()->name() == "ReluBackward0");
        CHECK(equal(out, seen.relu()));
    }
}
