// Lazy modules: the life cycle of spec section 2 and the relevant cases of PyTorch's
// test/nn/test_lazy_modules.py, ported to this API, plus docs/design.md decisions 3-6.
#include "test_support.hpp"

using namespace lazynn;

namespace {

/// A lazy module holding a bare uninitialised parameter and buffer, like PyTorch's
/// `class LazyModule(LazyModuleMixin, Module)` in test_lazy_module_parameter/buffer.
struct Holder : Cloneable<Holder> {
    Parameter test_param{this, "test_param", UninitializedParameter()};
    Buffer test_buffer{this, "test_buffer", UninitializedBuffer()};
    Holder() {
        set_name("Holder");
        make_lazy("Holder");
    }
};

/// The same members in a module that is not lazy.
struct PlainHolder : Module {
    Parameter test_param{this, "test_param", UninitializedParameter()};
};

/// A lazy module that forgets to override initialize_parameters.
struct NoInit : Module {
    NoInit() {
        set_name("NoInit");
        make_lazy("Done");
    }
    Tensor forward(const Tensor& x) override { return x; }
};

/// A lazy module whose initialize_parameters leaves a parameter uninitialised.
struct HalfInit : Module {
    Parameter a{this, "a", UninitializedParameter()};
    Parameter b{this, "b", UninitializedParameter()};
    HalfInit() {
        set_name("HalfInit");
        make_lazy("Done");
    }
    void initialize_parameters(const std::vector<Tensor>& inputs) override { a.materialize(inputs[0].shape()); }
    Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace

TEST_SUITE("lazy parameters in a module") {
    TEST_CASE("uninitialised entries are listed, in state_dict as the same objects, and load") {
        Holder m;
        CHECK(m.has_uninitialized_params());
        CHECK(m.parameters().size() == 1);
        const StateDict sd = m.state_dict();
        CHECK(sd.at("test_param").is_same(m.test_param));
        CHECK(sd.at("test_buffer").is_same(m.test_buffer));

        Holder other;
        StateDict real;
        real.insert("test_param", ones({5, 5}));
        real.insert("test_buffer", ones({5, 5}));
        other.load_state_dict(real);
        CHECK_FALSE(other.has_uninitialized_params());
        CHECK(equal(other.test_param, ones({5, 5})));
        CHECK(equal(other.test_buffer, ones({5, 5})));
        CHECK_FALSE(other.is_lazy());

        // A module that is not lazy cannot take the values: a clear error, not a silent skip.
        PlainHolder plain;
        StateDict one;
        one.insert("test_param", ones({2}));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(plain.load_state_dict(one), RuntimeError, "is not a lazy module");
    }

    TEST_CASE("loading an uninitialised entry into an initialised module raises the spec's error") {
        nn::Linear eager(5, 10);
        nn::LazyLinear lazy(10);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(eager.load_state_dict(lazy.state_dict()), RuntimeError, "Can't access the shape of an uninitialized parameter");
    }

    TEST_CASE("uninitialised into uninitialised: nothing happens, no error") {
        nn::LazyLinear a(10), b(10);
        CHECK(b.load_state_dict(a.state_dict()).ok());
        CHECK(b.is_lazy());
        CHECK(b.has_uninitialized_params());
    }
}

TEST_SUITE("LazyLinear") {
    TEST_CASE("first forward infers in_features, materialises and becomes a Linear") {
        nn::LazyLinear m(10);
        CHECK(m.name() == "LazyLinear");
        CHECK(m.str() == "LazyLinear(in_features=0, out_features=10, bias=True)");
        CHECK(m.is_lazy());
        CHECK(m.num_forward_pre_hooks() == 1);
        CHECK(m.num_load_state_dict_pre_hooks() == 1);
        CHECK(is_lazy(m.weight));
        const Tensor out = m(ones({5, 5}));
        CHECK(out.shape() == Shape{5, 10});
        CHECK(m.name() == "Linear");
        CHECK(m.str() == "Linear(in_features=5, out_features=10, bias=True)");
        CHECK_FALSE(m.is_lazy());
        CHECK(m.num_forward_pre_hooks() == 0);
        CHECK(m.num_load_state_dict_pre_hooks() == 0);
        CHECK(m.in_features() == 5);
        CHECK(m.weight.shape() == Shape{10, 5});
        CHECK(m.bias.shape() == Shape{10});
        CHECK(dynamic_cast<nn::Linear*>(&m) != nullptr);   // kind queries: it is a Linear
        // The forward that initialised the module ran normally.
        CHECK(allclose(out, nn::functional::linear(ones({5, 5}), m.weight, m.bias)));
    }

    TEST_CASE("batched and 3-D inputs; bias=false") {
        nn::LazyLinear m(4, false);
        CHECK(m(ones({2, 3, 7})).shape() == Shape{2, 3, 4});
        CHECK_FALSE(m.bias.defined());
        CHECK(m.state_dict().keys() == std::vector<std::string>{"weight"});
    }

    TEST_CASE("later inputs are not re-inferred: a mismatch is an ordinary error") {
        nn::LazyLinear m(2);
        m(ones({1, 3}));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(m(ones({1, 4})), ShapeError, "mat1 and mat2 shapes cannot be multiplied (1x4 and 3x2)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(m(ones({1, 4})), ShapeError, "Linear(in_features=3, out_features=2): expected input of shape [*, 3], got [1, 4]");
    }

    TEST_CASE("a failed initialisation leaves the module lazy so the next call retries") {
        nn::LazyLinear m(3);
        CHECK_THROWS_AS(m(scalar_tensor(1.0)), ShapeError);
        CHECK(m.is_lazy());
        CHECK(m.num_forward_pre_hooks() == 1);
        CHECK(m(ones({2, 4})).shape() == Shape{2, 3});
        CHECK_FALSE(m.is_lazy());
    }

    TEST_CASE("manual initialize_parameters materialises; the next forward finishes the module") {
        nn::LazyLinear m(3);
        m.initialize_parameters(ones({4, 6}));
        CHECK(m.weight.shape() == Shape{3, 6});
        CHECK_FALSE(m.has_uninitialized_params());
        CHECK(m.name() == "LazyLinear");
        CHECK(m.num_forward_pre_hooks() == 1);
        m(ones({1, 6}));
        CHECK(m.name() == "Linear");
        CHECK(m.num_forward_pre_hooks() == 0);
    }

    TEST_CASE("reset_parameters is a silent no-op while uninitialised") {
        nn::LazyLinear m(3);
        m.reset_parameters();
        CHECK(m.has_uninitialized_params());
    }

    TEST_CASE("an optimizer-like holder built before the first forward sees the real tensors") {
        nn::LazyLinear m(10);
        std::vector<Parameter> held = m.parameters();   // what an optimizer stores
        REQUIRE(held.size() == 2);
        CHECK(is_lazy(held[0]));
        m(ones({3, 5}));
        CHECK(held[0].shape() == Shape{10, 5});
        CHECK(held[0].is_same(m.weight));
        // A step through the held handles changes the module's weights.
        (m(ones({3, 5})).sum()).backward();
        const Tensor before = m.weight.clone();
        {
            NoGradGuard no_grad;
            for (auto& p : held) p.sub_(p.grad() * 0.1);
        }
        CHECK_FALSE(equal(before, m.weight));
    }

    TEST_CASE("user pre-hooks registered after the lazy hook see materialised parameters") {
        nn::LazyLinear m(2);
        bool saw_real = false;
        m.register_forward_pre_hook([&](Module& mod, const std::vector<Tensor>&) {
            saw_real = !mod.has_uninitialized_params();
        });
        m(ones({1, 3}));
        CHECK(saw_real);
        CHECK(m.num_forward_pre_hooks() == 1);   // only the user's hook remains
    }

    TEST_CASE("to(dtype) before initialisation sets the dtype the parameters get") {
        nn::LazyLinear m(4);
        m.to(kFloat64);
        CHECK(is_lazy(m.weight));
        CHECK(m.weight.dtype() == kFloat64);
        m(ones({2, 3}, kFloat64));
        CHECK(m.weight.dtype() == kFloat64);
        CHECK(m.bias.dtype() == kFloat64);
    }

    TEST_CASE("requires_grad_ on an uninitialised module raises the ValueError") {
        nn::LazyLinear m(4);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(m.requires_grad_(false), ValueError, "Attempted to use an uninitialized parameter in requires_grad_");
        m.train();
        m.eval();
        m.zero_grad();   // these work on an uninitialised module
    }

    TEST_CASE("copying an uninitialised module gives an independent lazy module") {
        nn::LazyLinear a(4);
        nn::LazyLinear b = a;
        CHECK(b.is_lazy());
        CHECK_FALSE(b.weight.is_same(a.weight));
        b(ones({1, 3}));
        CHECK(a.is_lazy());
        CHECK(is_lazy(a.weight));
        CHECK_FALSE(b.is_lazy());
        auto c = a.clone();
        CHECK(c->is_lazy());
        CHECK(c->name() == "LazyLinear");
    }
}

TEST_SUITE("loading into lazy modules (Gen C)") {
    TEST_CASE("load materialises, copies, sets in_features and finalises without a forward") {
        nn::Linear source(5, 10);
        nn::LazyLinear lazy(10);
        CHECK(lazy.load_state_dict(source.state_dict()).ok());
        CHECK(lazy.name() == "Linear");
        CHECK_FALSE(lazy.is_lazy());
        CHECK(lazy.in_features() == 5);
        CHECK(lazy.num_forward_pre_hooks() == 0);
        CHECK(lazy.num_load_state_dict_pre_hooks() == 0);
        CHECK(equal(lazy.weight, source.weight));
        CHECK(equal(lazy.bias, source.bias));
        CHECK(lazy.str() == "Linear(in_features=5, out_features=10, bias=True)");
        // ... and the forward that follows works and matches the source.
        CHECK(allclose(lazy(ones({2, 5})), source(ones({2, 5}))));
    }

    TEST_CASE("loading does not run the random initialiser") {
        nn::Linear source(3, 2);
        nn::LazyLinear lazy(2);
        const std::string before = default_generator().state();
        lazy.load_state_dict(source.state_dict());
        CHECK(default_generator().state() == before);
        CHECK(equal(lazy.weight, source.weight));
    }

    TEST_CASE("a whole lazy model loads a checkpoint of its eager twin") {
        nn::Sequential eager{nn::Linear(6, 4), nn::ReLU(), nn::Linear(4, 2)};
        nn::Sequential lazy{nn::LazyLinear(4), nn::ReLU(), nn::LazyLinear(2)};
        lazy.load_state_dict(eager.state_dict());
        CHECK(lazy.str() == eager.str());
        CHECK(allclose(lazy(ones({3, 6})), eager(ones({3, 6}))));
    }

    TEST_CASE("a partial load (strict=false) leaves the module lazy; the next forward completes it") {
        nn::Linear source(5, 10);
        nn::LazyLinear lazy(10);
        StateDict sd;
        sd.insert("weight", source.state_dict().at("weight"));
        const auto keys = lazy.load_state_dict(sd, false);
        CHECK(keys.missing_keys == std::vector<std::string>{"bias"});
        CHECK(lazy.is_lazy());
        CHECK(equal(lazy.weight, source.weight));
        CHECK(lazy(ones({1, 5})).shape() == Shape{1, 10});
        CHECK_FALSE(lazy.is_lazy());
        CHECK_THROWS_AS(nn::LazyLinear(10).load_state_dict(sd), RuntimeError);   // strict: bias missing
    }

    TEST_CASE("loading a float32 checkpoint into a float64 lazy module keeps float64") {
        nn::Linear source(3, 2);
        nn::LazyLinear lazy(2);
        lazy.to(kFloat64);
        lazy.load_state_dict(source.state_dict());
        CHECK(lazy.weight.dtype() == kFloat64);
        CHECK(allclose(lazy.weight.to(kFloat32), source.weight));
    }
}

TEST_SUITE("lazy machinery contracts") {
    TEST_CASE("a lazy module without initialize_parameters names itself") {
        NoInit m;
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(m(ones({1})), NotImplementedError, "initialize_parameters is not implemented for NoInit");
        CHECK(m.is_lazy());
    }

    TEST_CASE("still uninitialised after initialize_parameters is an error, and stays lazy") {
        HalfInit m;
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(m(ones({2})), RuntimeError, "module HalfInit has not been fully initialized");
        CHECK(m.is_lazy());
    }

    TEST_CASE("same seed, same weights, lazy or eager (decision 5)") {
        manual_seed(1234);
        nn::Linear eager(784, 256);
        manual_seed(1234);
        nn::LazyLinear lazy(256);
        lazy(zeros({1, 784}));
        CHECK(equal(eager.weight, lazy.weight));
        CHECK(equal(eager.bias, lazy.bias));

        // Whole models too, whatever else draws from the generator in between.
        struct EagerMlp : Module {
            nn::Linear fc1{this, "fc1", 20, 16};
            nn::ReLU act{this, "act"};
            nn::Linear fc2{this, "fc2", 16, 3};
        };
        struct LazyMlp : Module {
            nn::LazyLinear fc1{this, "fc1", 16};
            nn::ReLU act{this, "act"};
            nn::LazyLinear fc2{this, "fc2", 3};
            Tensor forward(const Tensor& x) override { return fc2(act(fc1(x))); }
        };
        manual_seed(99);
        EagerMlp e;
        manual_seed(99);
        LazyMlp l;
        (void)randn({100});   // draws between construction and the first forward do not matter
        l.initialize(zeros({1, 20}));
        CHECK(equal(e.fc1.weight, l.fc1.weight));
        CHECK(equal(e.fc2.bias, l.fc2.bias));
    }

    TEST_CASE("the README example compiles and runs as shown") {
        struct Net : Module {
            nn::LazyLinear fc1{this, "fc1", 256};
            nn::ReLU act{this, "act"};
            nn::LazyLinear fc2{this, "fc2", 10};
            Parameter temperature{this, "temperature", ones({1})};
            Tensor forward(const Tensor& x) override { return fc2(act(fc1(x))) / temperature; }
        };
        Net net;
        const Tensor y = net(randn({64, 784}));
        CHECK(y.shape() == Shape{64, 10});
        CHECK(net.str() ==
              "Net(\n"
              "  (fc1): Linear(in_features=784, out_features=256, bias=True)\n"
              "  (act): ReLU()\n"
              "  (fc2): Linear(in_features=256, out_features=10, bias=True)\n"
              ")");
        nn::Sequential seq{nn::LazyLinear(128), nn::ReLU(), nn::LazyLinear(10)};
        CHECK(seq(randn({2, 30})).shape() == Shape{2, 10});
    }
}
