// The seams between lazynn::core and lazynn::nn: the op author's API (lazynn/extension.hpp), the
// fusion capabilities Sequential uses instead of layer types, const traversals and the one hook
// handle type for module and tensor hooks.
#include "test_support.hpp"

#include <lazynn/extension.hpp>

#include <type_traits>

using namespace lazynn;
using namespace lazynn::nn;

namespace {

/// y = x * x through the extension API (the docs/custom-ops.md example).
Tensor square(const Tensor& x, bool differentiable = false) {
    const Tensor in = extension::contiguous_data(x);
    Tensor out = empty(in.shape(), in.dtype());
    visit_floating(in.dtype(), "square", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* a = in.data_ptr<T>();
        T* y = out.data_ptr<T>();
        extension::elementwise_chunks(in.numel(), [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) y[i] = a[i] * a[i];
        });
    });
    if (!extension::needs_grad({&x})) return out;
    if (differentiable) {
        // Tensor ops on x itself, so double backward differentiates through them.
        extension::record_backward(
            out, "SquareBackward", {x}, [x](const Tensor& grad) { return std::vector<Tensor>{grad * x * 2.0}; }, false,
            true);
    } else {
        extension::record_backward(out, "SquareBackward", {x},
                                   [saved = extension::SavedTensor(in)](const Tensor& grad) {
                                       return std::vector<Tensor>{grad * saved.unpack() * 2.0};
                                   });
    }
    return out;
}

/// A Conv2d that reports whether Sequential folded the following normalisation into it.
struct RecordingConv : Conv2d {
    using Conv2d::Conv2d;
    std::optional<Tensor> forward_folded(const Tensor& input, const ChannelNormalization& norm, bool relu) override {
        offered = norm;
        offered_relu = relu;
        return Conv2d::forward_folded(input, norm, relu);
    }
    std::optional<ChannelNormalization> offered;
    bool offered_relu = false;
};

}  // namespace

TEST_SUITE("layering") {
    TEST_CASE("extension API: a custom op records its node, passes gradcheck, and its saved tensor checks versions") {
        Tensor x = tensor(std::vector<double>{1.0, -2.0, 3.0, 0.5}, {2, 2}, kFloat64).requires_grad_();
        Tensor y = square(x);
        REQUIRE(y.grad_fn());
        CHECK(y.grad_fn()->name() == "SquareBackward");
        y.sum().backward();
        CHECK(equal(x.grad(), (x * 2.0).detach()));
        CHECK(autograd::gradcheck([](const std::vector<Tensor>& in) { return square(in[0]); }, {x}).ok);
        CHECK(autograd::gradgradcheck([](const std::vector<Tensor>& in) { return square(in[0], true); }, {x}).ok);
        // Without grad mode nothing is recorded.
        {
            NoGradGuard no_grad;
            CHECK_FALSE(square(x).grad_fn());
        }
        // Modifying a saved tensor in place makes the backward refuse it (PyTorch's message).
        Tensor leaf = tensor(std::vector<double>{1.0, 2.0}, {2}, kFloat64).requires_grad_();
        Tensor h = leaf * 1.0;
        Tensor z = square(h);
        {
            NoGradGuard no_grad;
            h.add_(1.0);
        }
        CHECK_THROWS_WITH_AS(z.sum().backward(), doctest::Contains("modified by an inplace operation"), RuntimeError);
    }

    TEST_CASE("extension API: gemm and parallel_for") {
        const std::vector<double> a{1, 2, 3, 4, 5, 6};  // [2, 3]
        const std::vector<double> b{1, 0, 0, 1, 1, 1};  // [3, 2]
        std::vector<double> c(4, 100.0);
        extension::gemm(false, false, 2, 2, 3, 1.0, a.data(), 3, b.data(), 2, 0.0, c.data(), 2);
        CHECK(c == std::vector<double>{4, 5, 10, 11});
        std::vector<float> ct(4, 0.0f);
        const std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
        // (b^T a^T)^T = a b: the transposed operands read the same buffers.
        extension::gemm(true, true, 2, 2, 3, 1.0f, bf.data(), 2, af.data(), 3, 0.0f, ct.data(), 2);
        CHECK(ct == std::vector<float>{4, 10, 5, 11});
        std::vector<int> hits(100000, 0);
        extension::parallel_for(static_cast<std::int64_t>(hits.size()), 1000,
                                [&](std::int64_t begin, std::int64_t end) {
                                    for (std::int64_t i = begin; i < end; ++i) ++hits[static_cast<std::size_t>(i)];
                                });
        CHECK(std::all_of(hits.begin(), hits.end(), [](int v) { return v == 1; }));
    }

    TEST_CASE("Sequential folds through the capabilities layers declare, with the batch norm's running statistics") {
        manual_seed(5);
        Sequential model{RecordingConv(Conv2dOptions(2, 4, 3).padding(1)), BatchNorm2d(4), ReLU()};
        auto& conv = dynamic_cast<RecordingConv&>(model[0]);
        auto& norm = dynamic_cast<BatchNorm2d&>(model[1]);
        const Tensor x = randn({8, 2, 12, 12});
        (void)model(x);  // training: statistics move
        CHECK_FALSE(conv.offered);
        model.eval();
        (void)model(x);  // autograd on: no folding offered
        CHECK_FALSE(conv.offered);
        NoGradGuard no_grad;
        (void)model(x);
        REQUIRE(conv.offered);
        CHECK(conv.offered->mean.is_same(norm.running_mean));
        CHECK(conv.offered->var.is_same(norm.running_var));
        CHECK(conv.offered->eps == norm.options().eps());
        CHECK(conv.offered_relu);
        // A normalisation that does not apply to this rank or mode is not offered.
        CHECK_FALSE(norm.channel_normalization(3));
        norm.train();
        CHECK_FALSE(norm.channel_normalization(4));
    }

    TEST_CASE("traversals work on a const module and give const modules") {
        Sequential model{Linear(2, 3), ReLU(), Linear(3, 1)};
        const Module& view = model;
        const auto named = view.named_modules();
        static_assert(std::is_same_v<decltype(named), const std::vector<std::pair<std::string, const Module*>>>);
        REQUIRE(named.size() == 4);
        CHECK(named[0].first.empty());
        CHECK(named[0].second == &model);
        CHECK(named[2].first == "1");
        CHECK(view.modules().size() == 4);
        CHECK(view.children().size() == 3);
        CHECK(view.children()[2] == &model[2]);
        CHECK(view.named_children()[1].first == "1");
        CHECK(view.named_parameters().size() == 4);
    }

    TEST_CASE("module hooks and tensor hooks return the same handle type") {
        static_assert(std::is_same_v<RemovableHandle, HookHandle>);
        Linear layer(2, 2);
        int module_calls = 0, tensor_calls = 0;
        std::vector<HookHandle> handles;
        handles.push_back(
            layer.register_forward_hook([&](Module&, const std::vector<Tensor>&, const Tensor&) { ++module_calls; }));
        Tensor w = ones({2}).requires_grad_();
        handles.push_back(w.register_hook([&](const Tensor&) {
            ++tensor_calls;
            return Tensor();
        }));
        (void)layer(ones({1, 2}));
        (w * 2.0).sum().backward();
        CHECK(module_calls == 1);
        CHECK(tensor_calls == 1);
        for (HookHandle& h : handles) h.remove();
        for (HookHandle& h : handles) h.remove();  // idempotent
        (void)layer(ones({1, 2}));
        (w * 2.0).sum().backward();
        CHECK(module_calls == 1);
        CHECK(tensor_calls == 1);
        CHECK(layer.num_forward_hooks() == 0);
    }
}
