// Lazy modules: the life cycle of spec section 2 and the relevant cases of PyTorch's
// test/nn/test_lazy_modules.py, ported to this API, plus docs/design.md decisions 3-6.
#include "test_support.hpp"

using namespace lazynn;

namespace {

/// A lazy module holding a bare uninitialised parameter and buffer, like PyTorch's
/// `class LazyModule(LazyModuleMixin, Module)` in test_lazy_module_parameter/buffer.
struct Holder : Cloneable<Holder>, LazyModule {
    Parameter test_param{this, "test_param", UninitializedParameter()};
    Buffer test_buffer{this, "test_buffer", UninitializedBuffer()};
    Holder() : LazyModule(*this, "Holder", "Holder") {}
};

/// The same members in a module that is not lazy.
struct PlainHolder : Module {
    Parameter test_param{this, "test_param", UninitializedParameter()};
};

/// A lazy module that forgets to override initialize_parameters.
struct NoInit : Module, LazyModule {
    NoInit() : LazyModule(*this, "NoInit", "Done") {}
    Tensor forward(const Tensor& x) override { return x; }
};

/// A lazy module whose initialize_parameters leaves a parameter uninitialised.
struct HalfInit : Module, LazyModule {
    Parameter a{this, "a", UninitializedParameter()};
    Parameter b{this, "b", UninitializedParameter()};
    HalfInit() : LazyModule(*this, "HalfInit", "Done") {}
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
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(eager.load_state_dict(lazy.state_dict()), RuntimeError,
                                        "Can't access the shape of an uninitialized parameter");
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
        CHECK(dynamic_cast<nn::Linear*>(&m) != nullptr);  // kind queries: it is a Linear
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
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(m(ones({1, 4})), ShapeError,
                                        "mat1 and mat2 shapes cannot be multiplied (1x4 and 3x2)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            m(ones({1, 4})), ShapeError,
            "Linear(in_features=3, out_features=2): expected input of shape [*, 3], got [1, 4]");
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
        std::vector<Parameter> held = m.parameters();  // what an optimizer stores
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
        m.register_forward_pre_hook(
            [&](Module& mod, const std::vector<Tensor>&) { saw_real = !mod.has_uninitialized_params(); });
        m(ones({1, 3}));
        CHECK(saw_real);
        CHECK(m.num_forward_pre_hooks() == 1);  // only the user's hook remains
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
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(m.requires_grad_(false), ValueError,
                                        "Attempted to use an uninitialized parameter in requires_grad_");
        m.train();
        m.eval();
        m.zero_grad();  // these work on an uninitialised module
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
        CHECK_THROWS_AS(nn::LazyLinear(10).load_state_dict(sd), RuntimeError);  // strict: bias missing
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
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(m(ones({1})), NotImplementedError,
                                        "initialize_parameters is not implemented for NoInit");
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
        (void)randn({100});  // draws between construction and the first forward do not matter
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

TEST_SUITE("initialize() and summary() have no side effects (issue 13, item 4)") {
    struct Model : Module {
        nn::LazyConv2d conv{this, "conv", 4, 3};
        nn::LazyBatchNorm2d bn{this, "bn"};
        nn::BatchNorm2d eager_bn{this, "eager_bn", 4};
        nn::Dropout drop{this, "drop", 0.5};
        nn::Flatten flat{this, "flat"};
        nn::LazyLinear fc{this, "fc", 3};
        Tensor forward(const Tensor& x) override { return fc(flat(drop(eager_bn(bn(conv(x)))))); }
    };

    void check_untouched(Model & m) {
        CHECK(equal(m.bn.running_mean, zeros({4})));
        CHECK(equal(m.bn.running_var, ones({4})));
        CHECK(m.bn.num_batches_tracked.item<std::int64_t>() == 0);
        CHECK(equal(m.eager_bn.running_mean, full({4}, 0.5)));
        CHECK(m.eager_bn.num_batches_tracked.item<std::int64_t>() == 7);
        // Each submodule's own flag, not one flag for the whole tree.
        CHECK(m.is_training());
        CHECK(m.conv.is_training());
        CHECK_FALSE(m.bn.is_training());
        CHECK(m.eager_bn.is_training());
        CHECK_FALSE(m.drop.is_training());
    }

    void prepare(Model & m) {
        m.bn.eval();
        m.drop.eval();
        NoGradGuard no_grad;
        m.eager_bn.running_mean.fill_(0.5);
        m.eager_bn.num_batches_tracked.fill_(7);
    }

    TEST_CASE("initialize: no statistics move, modes and the global stream are restored") {
        manual_seed(3);
        Model m;
        prepare(m);
        const std::string before = default_generator().state();
        const Tensor expected = randn({6});  // what the stream gives next without a dry run
        default_generator().set_state(before);
        m.initialize(ones({2, 3, 6, 6}));
        CHECK(default_generator().state() == before);
        CHECK(equal(randn({6}), expected));
        CHECK_FALSE(m.is_lazy());
        CHECK_FALSE(m.conv.is_lazy());
        CHECK(m.fc.in_features() == 64);
        check_untouched(m);
        m.train();
        prepare(m);
        const std::string again = default_generator().state();
        m.summary({2, 3, 6, 6});
        CHECK(default_generator().state() == again);
        check_untouched(m);
    }

    TEST_CASE("summary on an uninitialised model leaves the generator and statistics alone") {
        Model m;
        prepare(m);
        const std::string before = default_generator().state();
        const std::string table = m.summary({1, 3, 5, 5});
        CHECK(table.find("conv (Conv2d)") != std::string::npos);
        CHECK(default_generator().state() == before);
        check_untouched(m);
    }

    TEST_CASE("initialize materialises with the values a first (training) forward gives") {
        manual_seed(21);
        Model a;
        manual_seed(21);
        Model b;
        a.initialize(ones({2, 3, 6, 6}));
        (void)b(ones({2, 3, 6, 6}));  // a real forward: training mode, dropout draws, statistics move
        CHECK(equal(a.conv.weight, b.conv.weight));
        CHECK(equal(a.conv.bias, b.conv.bias));
        CHECK(equal(a.fc.weight, b.fc.weight));
        CHECK(equal(a.fc.bias, b.fc.bias));
        CHECK(equal(a.bn.weight, b.bn.weight));
        CHECK(b.bn.num_batches_tracked.item<std::int64_t>() == 1);  // the real forward did count
    }

    TEST_CASE("a failing dry run still restores modes and the generator") {
        Model m;
        prepare(m);
        manual_seed(5);
        const std::string before = default_generator().state();
        CHECK_THROWS_AS(m.initialize(ones({2, 3})), Error);
        CHECK(default_generator().state() == before);
        CHECK_FALSE(m.bn.is_training());
        CHECK(m.eager_bn.is_training());
    }
}

TEST_SUITE("partial load, then forward (issue 13, item 7)") {
    TEST_CASE("loaded tensors are kept; only the missing ones are initialised, as a fresh module would") {
        nn::Linear source(5, 10);
        manual_seed(8);
        nn::LazyLinear lazy(10);
        manual_seed(8);
        nn::LazyLinear fresh(10);
        StateDict sd;
        sd.insert("weight", source.state_dict().at("weight"));
        lazy.load_state_dict(sd, false);
        (void)lazy(ones({2, 5}));
        (void)fresh(ones({2, 5}));
        CHECK(equal(lazy.weight, source.weight));
        CHECK(equal(lazy.bias, fresh.bias));  // the same draws from the module's seed
        CHECK_FALSE(equal(lazy.weight, fresh.weight));
        CHECK(lazy.name() == "Linear");
        CHECK(lazy.in_features() == 5);
    }

    TEST_CASE("a loaded shape that disagrees with the input is a clear error; the module stays lazy") {
        nn::Linear source(5, 10);
        nn::LazyLinear lazy(10);
        StateDict sd;
        sd.insert("weight", source.state_dict().at("weight"));
        lazy.load_state_dict(sd, false);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            lazy(ones({2, 7})), ShapeError,
            "LazyLinear: the loaded weight has shape [10, 5], but the input ([2, 7]) needs [10, 7]");
        CHECK(lazy.is_lazy());
        CHECK(is_lazy(lazy.bias));
        CHECK(equal(lazy.weight, source.weight));  // still the loaded values
        CHECK(lazy(ones({2, 5})).shape() == Shape{2, 10});
        CHECK(equal(lazy.weight, source.weight));
    }

    TEST_CASE("conv, batch norm and recurrent layers keep what was loaded") {
        nn::Conv2d conv_src(3, 4, 3);
        nn::LazyConv2d conv(4, 3);
        StateDict c;
        c.insert("bias", conv_src.state_dict().at("bias"));
        conv.load_state_dict(c, false);
        (void)conv(ones({1, 3, 5, 5}));
        CHECK(equal(conv.bias, conv_src.bias));
        CHECK(conv.weight.shape() == Shape{4, 3, 3, 3});

        nn::BatchNorm2d bn_src(3);
        {
            NoGradGuard no_grad;
            bn_src.running_mean.fill_(0.25);
        }
        nn::LazyBatchNorm2d bn;
        StateDict b;
        b.insert("running_mean", bn_src.state_dict().at("running_mean"));
        bn.load_state_dict(b, false);
        bn.eval();
        (void)bn(ones({2, 3, 2, 2}));
        CHECK(equal(bn.running_mean, full({3}, 0.25)));
        CHECK(equal(bn.running_var, ones({3})));
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            [&] {
                nn::LazyBatchNorm2d other;
                other.load_state_dict(b, false);
                return other(ones({2, 4, 2, 2}));
            }(),
            ShapeError, "the loaded running_mean has shape [3], but the input ([2, 4, 2, 2]) needs [4]");

        nn::LSTM lstm_src(3, 2);
        nn::LazyLSTM lstm(2);
        StateDict l;
        l.insert("weight_ih_l0", lstm_src.state_dict().at("weight_ih_l0"));
        lstm.load_state_dict(l, false);
        (void)lstm(ones({4, 1, 3}));
        CHECK(equal(lstm.get_parameter("weight_ih_l0"), lstm_src.get_parameter("weight_ih_l0")));
    }
}

TEST_SUITE("copies of an uninitialised lazy module (issue 13, item 10)") {
    TEST_CASE("copies, clones and ModuleList copies initialise independently") {
        nn::LazyLinear a(4);
        nn::LazyLinear b = a;
        auto c = a.clone();
        nn::ModuleList list{a, a};
        const Tensor x = ones({1, 3});
        (void)a(x);
        (void)b(x);
        (void)(*c)(x);
        (void)list[0](x);
        (void)list[1](x);
        const std::vector<Tensor> weights{a.weight, b.weight, c->get_parameter("weight"),
                                          list[0].get_parameter("weight"), list[1].get_parameter("weight")};
        for (std::size_t i = 0; i < weights.size(); ++i) {
            for (std::size_t j = i + 1; j < weights.size(); ++j) {
                CAPTURE(i);
                CAPTURE(j);
                CHECK_FALSE(equal(weights[i], weights[j]));
            }
        }
        CHECK(a.seed() != b.seed());
    }

    TEST_CASE("copying draws nothing from the global generator, and moving keeps the seed") {
        nn::LazyLinear a(4);
        const std::string before = default_generator().state();
        nn::LazyLinear b = a;
        auto c = b.clone();
        CHECK(default_generator().state() == before);
        const std::uint64_t seed = b.seed();
        nn::LazyLinear moved = std::move(b);
        CHECK(moved.seed() == seed);
    }

    TEST_CASE("same manual_seed, same weights, for a whole model built from copies") {
        struct Blocks : Module {
            nn::ModuleList blocks{this, "blocks"};
            Blocks() {
                nn::Sequential block{nn::LazyLinear(8), nn::ReLU()};
                for (int i = 0; i < 3; ++i) blocks.push_back(block);  // copies of one uninitialised block
            }
            Tensor forward(const Tensor& x) override {
                Tensor y = x;
                for (Module* b : blocks.children()) y = (*b)(y);
                return y;
            }
        };
        manual_seed(77);
        Blocks m1;
        manual_seed(77);
        Blocks m2;
        m1.initialize(ones({2, 5}));
        (void)m2(ones({2, 5}));
        const auto p1 = m1.named_parameters(), p2 = m2.named_parameters();
        REQUIRE(p1.size() == 6);
        for (std::size_t i = 0; i < p1.size(); ++i) {
            CAPTURE(p1[i].first);
            CHECK(equal(p1[i].second, p2[i].second));
        }
        CHECK_FALSE(equal(m1.get_parameter("blocks.1.0.weight"), m1.get_parameter("blocks.2.0.weight")));
    }
}

TEST_SUITE("lazy options without the inferred size (issue 13, item 6)") {
    // The expected reprs are what PyTorch 1.13 prints for the same lazy layers after one forward.
    TEST_CASE("LazyInstanceNorm options keep the lazy defaults (affine, tracked statistics)") {
        nn::LazyInstanceNorm2d norm(nn::LazyInstanceNormOptions().eps(1e-3));
        CHECK(norm.str() == "LazyInstanceNorm2d(0, eps=0.001, momentum=0.1, affine=True, track_running_stats=True)");
        (void)norm(ones({2, 3, 4, 4}));
        CHECK(norm.str() == "InstanceNorm2d(3, eps=0.001, momentum=0.1, affine=True, track_running_stats=True)");
        CHECK(norm.weight.shape() == Shape{3});
        // InstanceNormOptions (InstanceNorm's defaults) no longer silently switch them off.
        static_assert(!std::is_constructible_v<nn::LazyInstanceNorm2d, nn::InstanceNormOptions>);
    }

    TEST_CASE("LazyBatchNorm takes no size") {
        nn::LazyBatchNorm1d bn(nn::LazyBatchNormOptions().momentum(0.2).affine(false));
        CHECK(bn.str() == "LazyBatchNorm1d(0, eps=1e-05, momentum=0.2, affine=False, track_running_stats=True)");
        (void)bn(ones({2, 3}));
        CHECK(bn.str() == "BatchNorm1d(3, eps=1e-05, momentum=0.2, affine=False, track_running_stats=True)");
    }

    TEST_CASE("lazy convolutions take (out_channels, kernel_size) options") {
        nn::LazyConv2d conv(nn::LazyConv2dOptions(16, 3).stride(2).padding(1).bias(false));
        (void)conv(ones({1, 3, 8, 8}));
        CHECK(conv.str() == "Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)");
        nn::LazyConvTranspose2d up(nn::LazyConvTranspose2dOptions(4, 3).stride(2).output_padding(1));
        (void)up(ones({1, 3, 8, 8}));
        CHECK(up.str() == "ConvTranspose2d(3, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))");
        nn::LazyConv1d c1(nn::LazyConv1dOptions(2, 3).groups(2));
        CHECK(c1(ones({1, 4, 5})).shape() == Shape{1, 2, 3});
        nn::LazyConv3d c3(nn::LazyConv3dOptions(2, 1));
        CHECK(c3(ones({1, 3, 2, 2, 2})).shape() == Shape{1, 2, 2, 2, 2});
    }

    TEST_CASE("lazy recurrent layers take hidden_size only") {
        nn::LazyLSTM lstm(nn::LazyRNNOptions(5).bidirectional(true));
        (void)lstm(ones({4, 1, 3}));
        CHECK(lstm.str() == "LSTM(3, 5, bidirectional=True)");
        nn::LazyGRU gru(nn::LazyRNNOptions(2).num_layers(2).batch_first(true));
        CHECK(gru(ones({1, 4, 6})).shape() == Shape{1, 4, 2});
    }

    TEST_CASE("the older forms still compile and behave as before") {
        nn::LazyConv2d conv(nn::Conv2dOptions(0, 4, 3).padding(1));
        CHECK(conv(ones({1, 2, 5, 5})).shape() == Shape{1, 4, 5, 5});
        nn::LazyBatchNorm2d bn(nn::BatchNormOptions(0).eps(1e-3));
        (void)bn(ones({2, 3, 2, 2}));
        CHECK(bn.num_features() == 3);
        nn::LazyRNN rnn(nn::RNNOptions(0, 2));
        CHECK(rnn(ones({3, 1, 4})).shape() == Shape{3, 1, 2});
    }
}

TEST_SUITE("one lazy protocol (issue 16, item 2)") {
    TEST_CASE("a built-in twin is its concrete layer plus LazyModule, named Lazy + the concrete name") {
        static_assert(std::is_base_of_v<nn::BatchNorm2d, nn::LazyBatchNorm2d>);
        static_assert(std::is_base_of_v<LazyModule, nn::LazyBatchNorm2d>);
        static_assert(std::is_base_of_v<nn::ConvTranspose2d, nn::LazyConvTranspose2d>);
        static_assert(!std::is_base_of_v<LazyModule, nn::Linear>);
        nn::Linear plain(2, 3);
        CHECK_FALSE(plain.is_lazy());
        nn::LazyGRUCell cell(3);
        CHECK(cell.name() == "LazyGRUCell");
        (void)cell.step(ones({2, 4}));
        CHECK(cell.str() == "GRUCell(4, 3)");
        CHECK_FALSE(cell.is_lazy());
        nn::LazyInstanceNorm1d norm;
        CHECK(norm.name() == "LazyInstanceNorm1d");
    }

    TEST_CASE(
        "a twin whose options matter without parameters still infers them (LayerNorm, GroupNorm without affine)") {
        nn::LazyLayerNorm ln(1, 1e-5, false);
        (void)ln(ones({2, 5}));
        CHECK(ln.str() == "LayerNorm((5,), eps=1e-05, elementwise_affine=False)");
        nn::LazyGroupNorm gn(2, 1e-5, false);
        (void)gn(ones({2, 4, 3}));
        CHECK(gn.str() == "GroupNorm(2, 4, eps=1e-05, affine=False)");
    }

    TEST_CASE("manual initialize_parameters after a partial load checks the loaded weight (PyTorch 2.8's assertion)") {
        nn::Linear source(5, 10);
        nn::LazyLinear lazy(10);
        StateDict sd;
        sd.insert("weight", source.state_dict().at("weight"));
        lazy.load_state_dict(sd, false);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            lazy.initialize_parameters(ones({2, 7})), AssertionError,
            "The in_features inferred from input: 7 is not equal to in_features from self.weight: 5");
    }
}

TEST_SUITE("options convention for the lazy families (issue 16, item 3)") {
    TEST_CASE("getters, fluent setters and enums; the repr keeps PyTorch's strings") {
        nn::LinearOptions o(3, 4);
        o.bias(false);
        CHECK(o.in_features() == 3);
        CHECK_FALSE(o.bias());
        nn::Conv2d c(nn::Conv2dOptions(2, 4, 3).padding(nn::kSame).padding_mode(nn::PaddingMode::Reflect));
        CHECK(c.str() == "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, padding_mode=reflect)");
        CHECK(c(ones({1, 2, 5, 5})).shape() == Shape{1, 4, 5, 5});
        nn::GroupNorm g(nn::GroupNormOptions(2, 6).eps(1e-3));
        CHECK(g.str() == "GroupNorm(2, 6, eps=0.001, affine=True)");
        nn::LayerNorm l(nn::LayerNormOptions({4}).elementwise_affine(false));
        CHECK(l.str() == "LayerNorm((4,), eps=1e-05, elementwise_affine=False)");
        nn::RNN r(nn::RNNOptions(3, 2).nonlinearity(nn::RNNNonlinearity::ReLU));
        CHECK(r.options().nonlinearity() == nn::RNNNonlinearity::ReLU);
        nn::LSTMCell cell(nn::RNNCellOptions(3, 2).bias(false));
        CHECK(cell.str() == "LSTMCell(3, 2, bias=False)");
    }
}

TEST_SUITE("a lazy module's parameter list is fixed at construction (issue 22, item 1)") {
    // What an optimizer built before the first forward holds must be what trains after it: the same
    // names, in the same order, the same objects; buffers too. Every lazy layer lazynn ships.
    template <class M>
    void check_fixed(M module, const std::vector<Tensor>& inputs, const std::string& what) {
        CAPTURE(what);
        std::vector<std::string> names, buffer_names;
        std::vector<Parameter> held;
        bool any_lazy = false;
        for (const auto& [name, p] : module.named_parameters()) {
            names.push_back(name);
            held.push_back(p);
            any_lazy = any_lazy || is_lazy(p);  // a recurrent layer knows its hidden weights already
        }
        CHECK(any_lazy);
        for (const auto& [name, b] : module.named_buffers()) buffer_names.push_back(name);
        if constexpr (std::is_base_of_v<nn::MultiheadAttention, M>) {
            if (inputs.size() == 3) (void)module(inputs[0], inputs[1], inputs[2]);
        }
        if constexpr (std::is_base_of_v<nn::Bilinear, M>) (void)module(inputs.at(0), inputs.at(1));
        if (inputs.size() == 1) module.initialize(inputs[0]);
        std::vector<std::string> after, buffers_after;
        std::vector<Parameter> held_after;
        for (const auto& [name, p] : module.named_parameters()) {
            after.push_back(name);
            held_after.push_back(p);
        }
        for (const auto& [name, b] : module.named_buffers()) buffers_after.push_back(name);
        CHECK(names == after);
        CHECK(buffer_names == buffers_after);
        REQUIRE(held.size() == held_after.size());
        for (std::size_t i = 0; i < held.size(); ++i) {
            CHECK(held[i].is_same(held_after[i]));
            CHECK_FALSE(is_lazy(held[i]));
        }
    }

    TEST_CASE("every lazy layer") {
        const Tensor seq = randn({4, 2, 6}), x1 = randn({2, 3, 7}), x2 = randn({2, 3, 5, 5}),
                     x3 = randn({2, 3, 4, 4, 4});
        check_fixed(nn::LazyLinear(4), {randn({2, 6})}, "LazyLinear");
        check_fixed(nn::LazyConv1d(4, 3), {x1}, "LazyConv1d");
        check_fixed(nn::LazyConv2d(nn::LazyConv2dOptions(4, 3).bias(false)), {x2}, "LazyConv2d");
        check_fixed(nn::LazyConv3d(4, 3), {x3}, "LazyConv3d");
        check_fixed(nn::LazyConvTranspose1d(4, 3), {x1}, "LazyConvTranspose1d");
        check_fixed(nn::LazyConvTranspose2d(4, 3), {x2}, "LazyConvTranspose2d");
        check_fixed(nn::LazyConvTranspose3d(4, 3), {x3}, "LazyConvTranspose3d");
        check_fixed(nn::LazyBatchNorm1d(), {x1}, "LazyBatchNorm1d");
        check_fixed(nn::LazyBatchNorm2d(), {x2}, "LazyBatchNorm2d");
        check_fixed(nn::LazyBatchNorm3d(), {x3}, "LazyBatchNorm3d");
        const auto instance = nn::LazyInstanceNormOptions().affine(true).track_running_stats(true);
        check_fixed(nn::LazyInstanceNorm1d(instance), {x1}, "LazyInstanceNorm1d");
        check_fixed(nn::LazyInstanceNorm2d(instance), {x2}, "LazyInstanceNorm2d");
        check_fixed(nn::LazyInstanceNorm3d(instance), {x3}, "LazyInstanceNorm3d");
        check_fixed(nn::LazyLayerNorm(2), {x2}, "LazyLayerNorm");
        check_fixed(nn::LazyGroupNorm(3), {x2}, "LazyGroupNorm");
        check_fixed(nn::LazyRNN(nn::LazyRNNOptions(5).num_layers(2)), {seq}, "LazyRNN");
        check_fixed(nn::LazyLSTM(nn::LazyRNNOptions(5).bidirectional(true).proj_size(3)), {seq}, "LazyLSTM");
        check_fixed(nn::LazyGRU(nn::LazyRNNOptions(5).bias(false)), {seq}, "LazyGRU");
        check_fixed(nn::LazyRNNCell(5), {randn({2, 6})}, "LazyRNNCell");
        check_fixed(nn::LazyLSTMCell(5), {randn({2, 6})}, "LazyLSTMCell");
        check_fixed(nn::LazyGRUCell(5), {randn({2, 6})}, "LazyGRUCell");
        check_fixed(nn::LazyRNNCell(nn::RNNCellOptions(0, 5).nonlinearity(nn::RNNNonlinearity::ReLU)), {randn({2, 6})},
                    "LazyRNNCell, relu");
        check_fixed(nn::LazyBilinear(3), {randn({2, 4}), randn({2, 5})}, "LazyBilinear");
        check_fixed(nn::LazyMultiheadAttention(2), {seq}, "LazyMultiheadAttention");
        check_fixed(nn::LazyMultiheadAttention(nn::MultiheadAttentionOptions(0, 2).separate_projections(true)),
                    {seq, randn({3, 2, 4}), randn({3, 2, 5})}, "LazyMultiheadAttention, separate projections");
        check_fixed(nn::Sequential(nn::LazyLinear(8), nn::ReLU(), nn::LazyLinear(2)), {randn({2, 6})},
                    "Sequential of LazyLinear");
    }
}
