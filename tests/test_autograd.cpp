// Autograd semantics: leaves, accumulation, retain_graph, no_grad, retain_grad, autograd::grad,
// in-place rules and the version counter, and gradcheck's ability to catch a wrong gradient.
#include "test_support.hpp"

#include <functional>
#include <map>
#include <string>
#include <thread>

using namespace lazynn;
using lazynn::testing::check_close;

TEST_SUITE("autograd") {
    TEST_CASE("leaf and non-leaf semantics") {
        Tensor x = ones({2, 2}).requires_grad_();
        CHECK(x.is_leaf());
        CHECK(x.grad_fn() == nullptr);
        Tensor y = x * 3;
        CHECK_FALSE(y.is_leaf());
        CHECK(y.requires_grad());
        REQUIRE(y.grad_fn() != nullptr);
        CHECK(y.grad_fn()->name() == "MulBackward0");
        CHECK(y.grad_fn()->next_functions().size() == 2);
        CHECK(y.grad_fn()->next_functions()[0]->name() == "AccumulateGrad");
        CHECK(y.grad_fn()->next_functions()[1] == nullptr);  // the scalar needs no gradient
        CHECK(ones({2}).is_leaf());
        CHECK_FALSE((ones({2}) * 2).requires_grad());
        CHECK_THROWS_AS(y.requires_grad_(false), RuntimeError);
    }

    TEST_CASE("backward accumulates into leaves across calls") {
        Tensor x = tensor({1.0, 2.0}).requires_grad_();
        (x * x).sum().backward();
        CHECK(x.grad().to_vector<float>() == std::vector<float>{2, 4});
        (x * 3).sum().backward();
        CHECK(x.grad().to_vector<float>() == std::vector<float>{5, 7});
        x.set_grad(Tensor());
        (x * 3).sum().backward();
        CHECK(x.grad().to_vector<float>() == std::vector<float>{3, 3});
    }

    TEST_CASE("a tensor used twice receives the sum of both paths") {
        Tensor x = tensor({2.0}).requires_grad_();
        Tensor y = x * x + x.exp() * x;
        y.backward();
        const double xv = 2.0;
        CHECK(x.grad().item<double>() == doctest::Approx(2 * xv + std::exp(xv) * (1 + xv)).epsilon(1e-6));
    }

    TEST_CASE("a node used many times sums its gradients without touching any it was handed") {
        // The engine sums a node's incoming gradients in place once the sum is its own; the tensors
        // it was handed (a retained .grad, the same gradient passed to both inputs of an add, a
        // broadcast of the loss's gradient) must keep their values.
        Tensor x = tensor({1.0, 2.0, 3.0}, kFloat64).requires_grad_();
        Tensor y = x * 3.0;
        y.retain_grad();
        Tensor s = y + y;  // AddBackward hands one gradient to both edges into y's node
        s.retain_grad();
        Tensor t = s + y + y.exp() + y * y;
        t.retain_grad();
        Tensor given = tensor({1.0, -1.0, 0.5}, kFloat64);
        t.backward(given);
        const std::vector<double> g = given.to_vector<double>(), yv = y.detach().to_vector<double>();
        CHECK(given.to_vector<double>() == std::vector<double>{1.0, -1.0, 0.5});
        CHECK(t.grad().to_vector<double>() == g);
        CHECK(s.grad().to_vector<double>() == g);
        for (std::size_t i = 0; i < 3; ++i) {
            CAPTURE(i);
            const double dy = g[i] * (3.0 + std::exp(yv[i]) + 2.0 * yv[i]);
            CHECK(y.grad().to_vector<double>()[i] == doctest::Approx(dy).epsilon(1e-12));
            CHECK(x.grad().to_vector<double>()[i] == doctest::Approx(3.0 * dy).epsilon(1e-12));
        }
        // The same through a loss whose gradient is one broadcast scalar, used 40 times.
        Tensor w = tensor({0.5, -0.25}, kFloat64).requires_grad_();
        Tensor total = zeros({2}, kFloat64);
        double per_element = 0;
        for (int k = 0; k < 40; ++k) {
            total = total + w * static_cast<double>(k % 3);
            per_element += k % 3;
        }
        total.sum().backward();
        CHECK(w.grad().to_vector<double>() == std::vector<double>{per_element, per_element});
    }

    TEST_CASE("backward with an explicit gradient, and the scalar rule") {
        Tensor x = tensor({1.0, 2.0, 3.0}).requires_grad_();
        Tensor y = x * 2;
        y.backward(tensor({1.0, 0.5, 0.0}));
        CHECK(x.grad().to_vector<float>() == std::vector<float>{2, 1, 0});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR((x * 2).backward(), RuntimeError,
                                        "grad can be implicitly created only for scalar outputs");
        CHECK_THROWS_AS((x * 2).backward(ones({2})), ShapeError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ones({1}).backward(), RuntimeError,
                                        "does not require grad and does not have a grad_fn");
    }

    TEST_CASE("a freed graph cannot be walked twice unless retained") {
        Tensor x = tensor({1.0, 2.0}).requires_grad_();
        Tensor y = (x * x).sum();
        y.backward(Tensor(), true);
        y.backward();
        CHECK(x.grad().to_vector<float>() == std::vector<float>{4, 8});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(y.backward(), RuntimeError,
                                        "Trying to backward through the graph a second time");
        // A graph whose nodes save nothing can be walked again, as in PyTorch.
        Tensor z = (x + 1).sum();
        z.backward();
        z.backward();
        CHECK(x.grad().to_vector<float>() == std::vector<float>{6, 10});
    }

    TEST_CASE("NoGradGuard records nothing and is thread-local and nested") {
        Tensor x = ones({2}).requires_grad_();
        {
            NoGradGuard guard;
            CHECK_FALSE(is_grad_enabled());
            Tensor y = x * 2;
            CHECK_FALSE(y.requires_grad());
            { NoGradGuard inner; }
            CHECK_FALSE(is_grad_enabled());
            bool other_thread_enabled = false;
            std::thread([&] { other_thread_enabled = is_grad_enabled(); }).join();
            CHECK(other_thread_enabled);
        }
        CHECK(is_grad_enabled());
        CHECK((x * 2).requires_grad());
    }

    TEST_CASE("detach cuts the graph but shares storage") {
        Tensor x = ones({2}).requires_grad_();
        Tensor d = (x * 2).detach();
        CHECK_FALSE(d.requires_grad());
        CHECK(d.is_leaf());
        Tensor y = x * 2;
        Tensor dy = y.detach();
        dy.fill_(7.0);
        CHECK(y.to_vector<float>() == std::vector<float>{7, 7});
    }

    TEST_CASE("retain_grad keeps a non-leaf gradient") {
        Tensor x = tensor({1.0, 2.0}).requires_grad_();
        Tensor h = x * 3;
        h.retain_grad();
        CHECK(h.retains_grad());
        (h * h).sum().backward();
        REQUIRE(h.grad().defined());
        CHECK(h.grad().to_vector<float>() == std::vector<float>{6, 12});
        Tensor h2 = x * 2;
        (h2 * 1).sum().backward();
        CHECK_FALSE(h2.grad().defined());
    }

    TEST_CASE("autograd::grad returns gradients without accumulating") {
        Tensor x = tensor({1.0, 2.0}, kFloat64).requires_grad_();
        Tensor w = tensor({3.0, 4.0}, kFloat64).requires_grad_();
        Tensor y = (x * w).sum();
        const auto g = autograd::grad({y}, {x, w});
        CHECK(g[0].to_vector<double>() == std::vector<double>{3, 4});
        CHECK(g[1].to_vector<double>() == std::vector<double>{1, 2});
        CHECK_FALSE(x.grad().defined());
        Tensor unused = ones({1}).requires_grad_();
        CHECK_THROWS_AS(autograd::grad({(x * 2).sum()}, {unused}), RuntimeError);
        CHECK_FALSE(autograd::grad({(x * 2).sum()}, {unused}, {}, false, false, true)[0].defined());
    }

    TEST_CASE("gradients keep the leaf's dtype across promotion") {
        Tensor x = ones({2}).requires_grad_();  // float32
        Tensor w = ones({2}, kFloat64).requires_grad_();
        (x * w).sum().backward();
        CHECK(x.grad().dtype() == kFloat32);
        CHECK(w.grad().dtype() == kFloat64);
    }

    TEST_CASE("in-place rules") {
        Tensor leaf = ones({2}).requires_grad_();
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(leaf.add_(1.0), RuntimeError,
                                        "a leaf Variable that requires grad is being used in an in-place operation.");
        {
            NoGradGuard no_grad;
            leaf.add_(1.0);  // optimizers update leaves like this
        }
        CHECK(leaf.to_vector<float>() == std::vector<float>{2, 2});

        // In-place on a non-leaf is differentiable.
        Tensor x = tensor({1.0, 2.0}, kFloat64).requires_grad_();
        Tensor y = x * 2;
        y.mul_(x);  // y = 2x * x
        y.add_(1.0);
        y.sum().backward();
        CHECK(x.grad().to_vector<double>() == std::vector<double>{4, 8});

        // Modifying a tensor that a node saved is detected on backward.
        Tensor a = tensor({1.0, 2.0}).requires_grad_();
        Tensor b = a * 1;
        Tensor c = b * b;  // saves b
        b.add_(1.0);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(c.sum().backward(), RuntimeError, "modified by an inplace operation");
    }

    TEST_CASE("copy_ is differentiable with respect to the source") {
        Tensor src = tensor({1.0, 2.0}, kFloat64).requires_grad_();
        Tensor dst = zeros({2, 2}, kFloat64);
        dst.copy_(src * 3);  // broadcast over rows
        dst.sum().backward();
        CHECK(src.grad().to_vector<double>() == std::vector<double>{6, 6});
    }

    TEST_CASE("gradcheck catches a wrong gradient") {
        // d/dx of x.detach() * x is x.detach(): half the true derivative of x*x, so the check must fail.
        Tensor x = tensor({0.5, -1.5}, kFloat64).requires_grad_();
        const auto bad = autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0].detach() * in[0]; }, {x});
        CHECK_FALSE(bad.ok);
        CHECK(bad.message.find("Jacobian mismatch") != std::string::npos);
        const auto good = autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {x});
        CHECK_MESSAGE(good.ok, good.message);
        CHECK_THROWS_AS(
            autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0]; }, {ones({1}).requires_grad_()}),
            DtypeError);
    }

    TEST_CASE("gradients through views land in the right elements") {
        Tensor x = arange(6, kFloat64).reshape({2, 3}).requires_grad_();
        (x.t().select(0, 1) * tensor({10.0, 20.0}, kFloat64)).sum().backward();
        check_close(x.grad(), tensor({{0.0, 10.0, 0.0}, {0.0, 20.0, 0.0}}, kFloat64));
    }
}

TEST_SUITE("gradient hooks and backward callbacks") {
    TEST_CASE("a post-accumulate hook sees the leaf once per backward, with its summed gradient") {
        Tensor w = tensor({1.0, 2.0}).requires_grad_();
        Tensor b = tensor({3.0}).requires_grad_();
        std::vector<std::vector<double>> seen;
        HookHandle handle = w.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
            CHECK(leaf.is_same(w));
            seen.push_back(leaf.grad().to_vector<double>());
        });
        ((w * 2.0).sum() + (w * b).sum()).backward();  // two paths into w: 2 + b
        REQUIRE(seen.size() == 1);
        CHECK(seen[0] == std::vector<double>{5.0, 5.0});
        (w * 10.0).sum().backward();  // accumulates: hook sees the running sum
        CHECK(seen.back() == std::vector<double>{15.0, 15.0});
        handle.remove();
        (w * 1.0).sum().backward();
        CHECK(seen.size() == 2);
        handle.remove();  // idempotent, like every HookHandle
        HookHandle outlived;
        {
            const Tensor gone = tensor({1.0}).requires_grad_();
            outlived = gone.register_post_accumulate_grad_hook([](const Tensor&) {});
        }
        outlived.remove();  // the leaf is gone: nothing to do, no crash
        CHECK_THROWS_WITH_AS((w * 2.0).register_post_accumulate_grad_hook([](const Tensor&) {}),
                             "post accumulate grad hooks cannot be registered on non-leaf tensors", RuntimeError);
        CHECK_THROWS_AS(tensor({1.0}).register_post_accumulate_grad_hook([](const Tensor&) {}), RuntimeError);
    }

    TEST_CASE("queued callbacks run after every leaf has its gradient") {
        Tensor a = tensor({1.0}).requires_grad_();
        Tensor c = tensor({2.0}).requires_grad_();
        std::vector<std::string> events;
        a.register_post_accumulate_grad_hook([&](const Tensor&) {
            events.push_back("a");
            autograd::queue_callback(
                [&] { events.emplace_back(c.grad().defined() ? "callback after c" : "callback too early"); });
        });
        c.register_post_accumulate_grad_hook([&](const Tensor&) { events.push_back("c"); });
        (a * c).sum().backward();
        REQUIRE(events.size() == 3);
        CHECK(events.back() == "callback after c");
        CHECK_THROWS_WITH_AS(autograd::queue_callback([] {}), doctest::Contains("no backward pass is running"),
                             RuntimeError);
    }
}

namespace {

using Scenario = std::function<Tensor(Tensor&)>;

/// The scenarios of tools/fixtures/gen_tensor_edge_cases.py (views_after_inplace), written as in PyTorch.
const std::map<std::string, Scenario>& views_after_inplace() {
    static const std::map<std::string, Scenario> table = {
        {"slice_then_base_mul",
         [](Tensor& x) {
             Tensor h = x * 1;
             const Tensor v = h.slice(0, 0, 2);
             h.mul_(2);
             return (v * 1).sum();
         }},
        {"transpose_then_base_add_self",
         [](Tensor& x) {
             Tensor h = x * 1;
             const Tensor t = h.t();
             h.add_(h);
             return (t * t).sum();
         }},
        {"mul_into_slice_of_clone",
         [](Tensor& x) {
             Tensor b = x.clone();
             b.slice(0, 0, 2).mul_(2);
             return b.sum();
         }},
        {"mul_into_slice_then_use_view_and_base",
         [](Tensor& x) {
             Tensor b = x.clone();
             Tensor v = b.slice(0, 1, 3);
             v.mul_(x.slice(0, 0, 2));
             return (v * b.slice(0, 0, 2)).sum() + (b * b).sum();
         }},
        {"copy_into_slice_of_constant",
         [](Tensor& x) {
             Tensor b = zeros({4}, kFloat64);
             b.slice(0, 1, 3).copy_(x.slice(0, 0, 2) * 3);
             return (b * b * arange(4, kFloat64)).sum();
         }},
        {"fill_slice",
         [](Tensor& x) {
             Tensor b = x * 1;
             b.slice(0, 0, 1).fill_(5);
             return (b * b).sum();
         }},
        {"view_of_view_then_base_mul",
         [](Tensor& x) {
             Tensor h = x.view({2, 2}) * 1;
             const Tensor v = h.t().select(0, 1);
             h.mul_(3);
             return (v * v).sum();
         }},
        {"expand_then_base_mul",
         [](Tensor& x) {
             Tensor h = x.view({4, 1}) * 1;
             const Tensor e = h.expand({4, 2});
             h.mul_(x.view({4, 1}));
             return (e * e).sum();
         }},
        {"select_then_add_into_view",
         [](Tensor& x) {
             Tensor h = x.view({2, 2}) * 1;
             Tensor row = h.select(0, 1);
             row.add_(h.select(0, 0) * 3);
             return (h * h).sum() + (row * 2).sum();
         }},
        {"fill_base_then_use_view",
         [](Tensor& x) {
             Tensor h = x * 1;
             const Tensor v = h.slice(0, 0, 2);
             h.fill_(3);
             return (v * v).sum();
         }},
        {"split_output_after_base_mul",
         [](Tensor& x) {
             Tensor h = x * 1;
             const Tensor first = h.split(2)[0];
             h.mul_(2);
             return (first * 1).sum();
         }},
        {"mul_into_split_output",
         [](Tensor& x) {
             Tensor h = x * 1;
             h.split(2)[0].mul_(2);
             return h.sum();
         }},
        {"mul_into_view_of_leaf",
         [](Tensor& x) {
             x.slice(0, 0, 2).mul_(2);
             return x.sum();
         }},
    };
    return table;
}

/// The calls that must fail with PyTorch's wording (fixture "errors": the key phrase of each).
const std::map<std::string, std::function<void()>>& error_cases() {
    static const std::map<std::string, std::function<void()>> table = {
        {"backward_gradient_shape", [] { (ones({3}).requires_grad_() * 2).backward(ones({4})); }},
        {"grad_unused_input",
         [] {
             const Tensor x = ones({3}).requires_grad_(), y = ones({3}).requires_grad_();
             autograd::grad({(x * 2).sum()}, {x, y});
         }},
        {"grad_input_not_requiring",
         [] {
             const Tensor x = ones({3}).requires_grad_();
             autograd::grad({(x * 2).sum()}, {ones({3})});
         }},
        {"backward_root_not_requiring", [] { ones({3}).sum().backward(); }},
        {"requires_grad_int64", [] { ones({3}, kInt64).requires_grad_(); }},
        {"set_grad_size", [] { ones({3}).requires_grad_().set_grad(ones({4})); }},
        {"set_grad_type", [] { ones({3}).requires_grad_().set_grad(ones({3}, kFloat64)); }},
        {"detach_view_inplace", [] { (ones({4}).requires_grad_() * 1).slice(0, 0, 2).detach_(); }},
        {"implicit_grad_non_scalar", [] { (ones({3}).requires_grad_() * 2).backward(); }},
        {"backward_twice",
         [] {
             const Tensor x = ones({3}).requires_grad_();
             const Tensor out = (x * x).sum();
             out.backward();
             out.backward();
         }},
        {"saved_tensor_modified",
         [] {
             const Tensor x = ones({3}).requires_grad_();
             Tensor h = x * 1;
             const Tensor out = h * h;
             h.add_(1.0);
             out.sum().backward();
         }},
        {"leaf_inplace", [] { ones({3}).requires_grad_().add_(1.0); }},
        {"multi_output_view_modified",
         [] {
             const Tensor x = ones({3}).requires_grad_();
             Tensor h = x * 1;
             const Tensor first = h.split(2)[0];
             h.mul_(2);
             (first * 1).sum().backward();
         }},
    };
    return table;
}

}  // namespace

TEST_SUITE("autograd vs PyTorch (issue 21)") {
    TEST_CASE("error messages carry PyTorch 1.13's key phrases") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops_edge.json");
        CHECK(fixture.at("errors").size() == error_cases().size());
        for (const auto& [name_, fn] : error_cases()) {
            const std::string& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE)
            CAPTURE(name);
            const std::string phrase = fixture.at("errors").at(name).at("phrase");
            LAZYNN_CHECK_THROWS_WITH_SUBSTR(fn(), RuntimeError, phrase);
        }
    }

    TEST_CASE("views written in place, or whose base was, give PyTorch's gradient or PyTorch's error") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops_edge.json");
        const auto& expected_all = fixture.at("views_after_inplace");
        CHECK(expected_all.size() == views_after_inplace().size());
        for (const auto& [name_, scenario] : views_after_inplace()) {
            const std::string& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE)
            CAPTURE(name);
            const auto& expected = expected_all.at(name);
            Tensor x = lazynn::testing::fixture_tensor(expected.at("input")).requires_grad_();
            if (expected.contains("error")) {
                const std::string message = expected.at("error");
                const std::string phrase = message.substr(message.find(' ') + 1, 60);  // past "Output 0" / "a"
                LAZYNN_CHECK_THROWS_WITH_SUBSTR(scenario(x).backward(), RuntimeError, phrase);
                continue;
            }
            const Tensor loss = scenario(x);
            CHECK(loss.item<double>() == doctest::Approx(expected.at("loss").get<double>()).epsilon(1e-12));
            loss.backward();
            REQUIRE(x.grad().defined());
            check_close(x.grad(), lazynn::testing::fixture_tensor(expected.at("grad")), 1e-12, 1e-12);
        }
    }

    TEST_CASE("gradcheck agrees with the rebased histories of views written in place") {
        const auto fixture = lazynn::testing::load_fixture("tensor_ops_edge.json");
        for (const auto& [name_, scenario] : views_after_inplace()) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            if (fixture.at("views_after_inplace").at(name).contains("error")) continue;
            CAPTURE(name);
            const Tensor x = tensor({0.5, -1.25, 2.0, 0.75}, kFloat64).requires_grad_();
            const auto result = autograd::gradcheck(
                [&scenario = scenario](const std::vector<Tensor>& in) {
                    Tensor leaf = in[0];
                    return scenario(leaf);
                },
                {x});
            CHECK_MESSAGE(result.ok, result.message);
        }
    }

    TEST_CASE("a view keeps following its base: grad_fn and requires_grad after the base gains history") {
        const Tensor x = tensor({1.0, 2.0}, kFloat64).requires_grad_();
        Tensor b = zeros({2}, kFloat64);
        const Tensor v = b.slice(0, 0, 1);
        CHECK_FALSE(v.requires_grad());
        b.add_(x);  // b now has history; v, made before, must see it
        REQUIRE(v.grad_fn() != nullptr);
        CHECK(v.grad_fn()->name() == "AsStridedBackward0");
        (v * 5).sum().backward();
        check_close(x.grad(), tensor({5.0, 0.0}, kFloat64));
    }

    TEST_CASE("detach_ on a non-view still works; the float32 leaf takes a float32 gradient") {
        Tensor y = ones({2}).requires_grad_() * 2;
        y.detach_();
        CHECK_FALSE(y.requires_grad());
        const Tensor leaf = ones({2}).requires_grad_();
        leaf.set_grad(full({2}, 3.0));
        CHECK(leaf.grad().to_vector<float>() == std::vector<float>{3, 3});
    }
}
