// Forwards with several inputs and outputs (issue 22, item 3): TensorStructure's flat form,
// TypedModule's call, hooks over several outputs, lazy children, initialize()/summary() with
// several samples, Sequential chaining several tensors, gradients through a struct output.
#include "test_support.hpp"

#include <lazynn/typed_module.hpp>

using namespace lazynn;
namespace F = lazynn::nn::functional;

namespace {

struct Pair {
    Tensor first, second;
};
struct Nested {
    Tensor head;
    Pair pair;
    std::vector<Tensor> rest;
    std::tuple<Tensor, Tensor> tail;
};
struct WithNumber {
    Tensor t;
    int n;
};

static_assert(TensorStructure<Tensor>);
static_assert(TensorStructure<std::vector<Tensor>>);
static_assert(TensorStructure<Pair>);
static_assert(TensorStructure<Nested>);
static_assert(TensorStructure<std::pair<Tensor, Pair>>);
static_assert(!TensorStructure<WithNumber>);
static_assert(!TensorStructure<int>);
static_assert(!TensorStructure<Shape>);
static_assert(has_fixed_size<Pair>());
static_assert(!has_fixed_size<Nested>());

/// Two inputs of their own widths, three outputs: a small encoder whose sizes come from the data.
struct Encoded {
    Tensor code, mu, logvar;
};
struct TwoTowers : Cloneable<TwoTowers, TypedModule<Encoded(const Tensor&, const Tensor&)>> {
    nn::LazyLinear image{this, "image", 4};
    nn::LazyLinear text{this, "text", 4};
    nn::Linear mu_head{this, "mu_head", 4, 2};
    nn::Linear logvar_head{this, "logvar_head", 4, 2};
    /// Shapes: images [N, A], words [N, B] -> code [N, 4], mu [N, 2], logvar [N, 2]
    Encoded forward(const Tensor& images, const Tensor& words) override {
        Tensor code = (image(images) + text(words)).tanh();
        return {code, mu_head(code), logvar_head(code)};
    }
};

/// One input, two outputs; and two inputs, one output: chained by Sequential.
struct Split : Cloneable<Split, TypedModule<std::pair<Tensor, Tensor>(Tensor)>> {
    nn::LazyLinear left{this, "left", 3};
    nn::LazyLinear right{this, "right", 5};
    /// Shapes: [N, A] -> [N, 3], [N, 5]
    std::pair<Tensor, Tensor> forward(Tensor x) override { return {left(x), right(x)}; }
};
struct Join : Cloneable<Join, TypedModule<Tensor(const Tensor&, const Tensor&)>> {
    nn::LazyLinear out{this, "out", 2};
    /// Shapes: [N, A], [N, B] -> [N, 2]
    Tensor forward(const Tensor& a, const Tensor& b) override { return out(cat({a, b}, 1)); }
};

struct TakesList : TypedModule<Tensor(const std::vector<Tensor>&)> {
    /// Shapes: k tensors of one shape -> their sum
    Tensor forward(const std::vector<Tensor>& xs) override {
        Tensor sum = xs.at(0);
        for (std::size_t i = 1; i < xs.size(); ++i) sum = sum + xs[i];
        return sum;
    }
};

Encoded reference_encoding(TwoTowers& m, const Tensor& images, const Tensor& words) {
    const Tensor code =
        (F::linear(images, m.image.weight, m.image.bias) + F::linear(words, m.text.weight, m.text.bias)).tanh();
    return {code, F::linear(code, m.mu_head.weight, m.mu_head.bias),
            F::linear(code, m.logvar_head.weight, m.logvar_head.bias)};
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    return (a.to(kFloat64) - b.to(kFloat64)).abs().max().item<double>();
}

}  // namespace

TEST_SUITE("TensorStructure") {
    TEST_CASE("flatten is depth first in declaration order; rebuild_like restores the layout") {
        const Nested value{full({1}, 0.0),
                           {full({1}, 1.0), full({1}, 2.0)},
                           {full({1}, 3.0), full({1}, 4.0)},
                           {full({1}, 5.0), Tensor()}};
        const std::vector<Tensor> flat = flatten(value);
        REQUIRE(flat.size() == 7);
        for (std::size_t i = 0; i < 6; ++i) CHECK(flat[i].item<float>() == static_cast<float>(i));
        CHECK_FALSE(flat[6].defined());  // an undefined tensor (None) keeps its slot

        std::vector<Tensor> doubled;
        for (std::size_t i = 0; i < 6; ++i) doubled.push_back(flat[i] * 2.0);
        doubled.push_back(Tensor());
        std::size_t position = 0;
        const Nested rebuilt = rebuild_like(value, doubled, position, "test");
        CHECK(position == 7);
        CHECK(rebuilt.pair.second.item<float>() == 4.0f);
        REQUIRE(rebuilt.rest.size() == 2);
        CHECK(rebuilt.rest[1].item<float>() == 8.0f);
        CHECK(std::get<0>(rebuilt.tail).item<float>() == 10.0f);

        position = 0;
        std::vector<Tensor> too_few(flat.begin(), flat.begin() + 3);
        CHECK_THROWS_WITH_AS(rebuild_like(value, too_few, position, "MyModule"),
                             "MyModule: expected at least 5 tensors, got 3", ValueError);
    }

    TEST_CASE("unflatten builds fixed-size structures from a flat list") {
        const std::vector<Tensor> flat{full({1}, 1.0), full({1}, 2.0), full({1}, 3.0)};
        std::size_t position = 0;
        const auto [t, p] = unflatten<std::pair<Tensor, Pair>>(flat, position, "test");
        CHECK(position == 3);
        CHECK(t.item<float>() == 1.0f);
        CHECK(p.second.item<float>() == 3.0f);
        position = 1;
        using TensorAndPair = std::pair<Tensor, Pair>;
        CHECK_THROWS_AS(unflatten<TensorAndPair>(flat, position, "test"), ValueError);
    }
}

TEST_SUITE("TypedModule") {
    TEST_CASE("several inputs and a struct output; lazy children materialise in place on the first call") {
        manual_seed(3);
        TwoTowers m;
        const std::vector<Parameter> before = m.parameters();
        CHECK(m.num_parameters().uninitialized == 4);
        const Tensor images = randn({5, 7});
        const Tensor words = randn({5, 3});
        const Encoded out = m(images, words);
        CHECK(out.code.shape() == Shape{5, 4});
        CHECK(out.mu.shape() == Shape{5, 2});
        CHECK(out.logvar.shape() == Shape{5, 2});
        CHECK(m.image.weight.shape() == Shape{4, 7});
        CHECK(m.text.weight.shape() == Shape{4, 3});
        CHECK(m.num_parameters().uninitialized == 0);
        // The same objects before and after: an optimizer built first sees the real tensors.
        const std::vector<Parameter> after = m.parameters();
        REQUIRE(before.size() == after.size());
        for (std::size_t i = 0; i < before.size(); ++i) CHECK(before[i].is_same(after[i]));
        const Encoded expected = reference_encoding(m, images, words);
        CHECK(max_abs_diff(out.code, expected.code) == 0);
        CHECK(max_abs_diff(out.mu, expected.mu) == 0);
        CHECK(max_abs_diff(out.logvar, expected.logvar) == 0);
    }

    TEST_CASE("initialize and summary take several samples and run the typed forward") {
        manual_seed(4);
        TwoTowers m;
        m.initialize(randn({2, 6}), randn({2, 9}));
        CHECK(m.image.weight.shape() == Shape{4, 6});
        CHECK(m.text.weight.shape() == Shape{4, 9});

        TwoTowers fresh;
        const std::string table = fresh.summary(zeros({2, 6}), zeros({2, 9}));
        INFO(table);
        CHECK(table.find("(root) (TwoTowers)") != std::string::npos);
        CHECK(table.find("[2, 4], [2, 2], [2, 2]") != std::string::npos);  // the root's three outputs
        CHECK(table.find("image (Linear)") != std::string::npos);
        CHECK(table.find("Input shape: [2, 6], [2, 9]") != std::string::npos);
        CHECK(fresh.text.weight.shape() == Shape{4, 9});

        // The generic entry (Module::initialize over call()) gives the same sizes.
        TwoTowers generic;
        Module& base = generic;
        base.initialize(zeros({2, 6}), zeros({2, 9}));
        CHECK(generic.image.weight.shape() == Shape{4, 6});

        // One tensor by value, two outputs: typed, and through a Module& (whose one-tensor
        // initialize goes through call(), so it reaches the typed forward).
        Split split;
        split.initialize(zeros({3, 7}));
        CHECK(split.left.weight.shape() == Shape{3, 7});
        Split through_base;
        Module& split_base = through_base;
        split_base.initialize(zeros({3, 5}));
        CHECK(through_base.right.weight.shape() == Shape{5, 5});
        CHECK(Split().summary(zeros({1, 4})).find("[1, 3], [1, 5]") != std::string::npos);
    }

    TEST_CASE("hooks see every input and output, and may replace them") {
        manual_seed(5);
        TwoTowers m;
        const Tensor images = randn({3, 4});
        const Tensor words = randn({3, 2});
        m.initialize(images, words);
        std::size_t inputs_seen = 0, outputs_seen = 0;
        auto observe =
            m.register_forward_hook([&](Module&, const std::vector<Tensor>& in, const std::vector<Tensor>& out) {
                inputs_seen = in.size();
                outputs_seen = out.size();
            });
        m(images, words);
        CHECK(inputs_seen == 2);
        CHECK(outputs_seen == 3);
        observe.remove();

        SUBCASE("a pre-hook replacing the second input changes what forward sees") {
            m.register_forward_pre_hook([](Module&, const std::vector<Tensor>& in) {
                return std::optional<std::vector<Tensor>>(std::vector<Tensor>{in[0], in[1] * 0.0});
            });
            const Encoded out = m(images, words);
            const Encoded expected = reference_encoding(m, images, words * 0.0);
            CHECK(max_abs_diff(out.mu, expected.mu) == 0);
        }
        SUBCASE("a forward hook replacing the outputs changes the struct returned") {
            m.register_forward_hook([](Module&, const std::vector<Tensor>&, const std::vector<Tensor>& out) {
                return std::optional<std::vector<Tensor>>(std::vector<Tensor>{out[0], out[1] + 1.0, out[2]});
            });
            const Encoded out = m(images, words);
            const Encoded expected = reference_encoding(m, images, words);
            CHECK(max_abs_diff(out.mu, expected.mu + 1.0) < 1e-6);
            CHECK(max_abs_diff(out.logvar, expected.logvar) == 0);
        }
        SUBCASE("a hook returning the wrong number of outputs is refused, naming the module") {
            m.register_forward_hook([](Module&, const std::vector<Tensor>&, const std::vector<Tensor>& out) {
                return std::optional<std::vector<Tensor>>(std::vector<Tensor>{out[0]});
            });
            CHECK_THROWS_WITH_AS(m(images, words),
                                 "TwoTowers: a forward hook returned 1 outputs, but the module returns 3; return them "
                                 "all (std::optional<std::vector<Tensor>>) or std::nullopt to keep them",
                                 ValueError);
        }
        SUBCASE("a one-tensor hook on a module returning three is a TypeError, not a silent first output") {
            m.register_forward_hook([](Module&, const std::vector<Tensor>&, const Tensor&) {});
            CHECK_THROWS_WITH_AS(m(images, words),
                                 "TwoTowers returns 3 tensors, but a forward hook registered on it takes one `const "
                                 "Tensor& output`; take `const std::vector<Tensor>& outputs` to see them all",
                                 TypeError);
        }
    }

    TEST_CASE("call() is the flat form: the same values, and clear errors") {
        manual_seed(6);
        TwoTowers m;
        const Tensor images = randn({2, 3});
        const Tensor words = randn({2, 5});
        const std::vector<Tensor> flat = m.call({images, words});
        REQUIRE(flat.size() == 3);
        const Encoded typed = m(images, words);
        CHECK(max_abs_diff(flat[1], typed.mu) == 0);
        CHECK_THROWS_WITH_AS(m.call({images}),
                             "TwoTowers takes 2 tensors (its forward's arguments, flattened), but was called with 1",
                             ValueError);
        TakesList list;
        CHECK(list({ones({2}), ones({2}), ones({2})}).sum().item<float>() == 6.0f);
        CHECK_THROWS_AS(list.call({ones({2})}), TypeError);
        nn::Linear plain(3, 2);
        CHECK_THROWS_WITH_AS(plain.call({images, words}),
                             "Linear takes one tensor (its forward(const Tensor&)), but was called with 2; a module "
                             "whose forward takes several derives TypedModule (<lazynn/typed_module.hpp>)",
                             TypeError);
    }

    TEST_CASE("Sequential chains a module returning two tensors into one taking two") {
        manual_seed(7);
        nn::Sequential chain{Split(), Join(), nn::ReLU()};
        const Tensor x = randn({4, 6});
        const Tensor y = chain(x);
        CHECK(y.shape() == Shape{4, 2});
        auto& split = dynamic_cast<Split&>(chain[0]);
        auto& join = dynamic_cast<Join&>(chain[1]);
        CHECK(split.left.weight.shape() == Shape{3, 6});
        CHECK(join.out.weight.shape() == Shape{2, 8});
        const Tensor expected =
            F::linear(cat({split.left(x), split.right(x)}, 1), join.out.weight, join.out.bias).relu();
        CHECK(max_abs_diff(y, expected) == 0);

        nn::Sequential ends_split{Split()};
        CHECK_THROWS_AS(ends_split(x), TypeError);
        const std::vector<Tensor> both = ends_split.call({x});
        REQUIRE(both.size() == 2);
        CHECK(both[1].shape() == Shape{4, 5});

        // A deep copy keeps the typed children working.
        nn::Sequential copy(chain);
        CHECK(max_abs_diff(copy(x), y) == 0);
        CHECK_FALSE(copy.parameters()[0].is_same(chain.parameters()[0]));
    }

    TEST_CASE("gradients through every output of a struct match finite differences (float64)") {
        manual_seed(8);
        TwoTowers m;
        m.to(kFloat64);
        const Tensor images = randn({3, 4}, kFloat64).requires_grad_();
        const Tensor words = randn({3, 2}, kFloat64).requires_grad_();
        m.initialize(images, words);
        // Each output reaches the loss through a different function, so a gradient lost or
        // mixed up between outputs shows.
        const auto check = autograd::gradcheck(
            [&](const std::vector<Tensor>& in) {
                const Encoded e = m(in[0], in[1]);
                return stack({e.code.sum(), (e.mu * e.mu).sum(), e.logvar.exp().sum()});
            },
            {images, words});
        CHECK_MESSAGE(check.ok, check.message);
        const Encoded e = m(images, words);
        (e.mu.sum() + e.logvar.sum()).backward();
        CHECK(m.logvar_head.weight.grad().defined());
        CHECK(m.image.weight.grad().defined());
    }

    TEST_CASE("clone through a base pointer keeps the typed forward") {
        manual_seed(9);
        TwoTowers m;
        const Tensor images = randn({2, 3});
        const Tensor words = randn({2, 2});
        const Encoded out = m(images, words);
        std::unique_ptr<Module> copy = m.clone();
        const std::vector<Tensor> flat = copy->call({images, words});
        CHECK(max_abs_diff(flat[2], out.logvar) == 0);
        CHECK(copy->name() == "TwoTowers");
    }
}
