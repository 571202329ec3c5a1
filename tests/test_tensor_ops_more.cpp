// The ops issue 21 found missing, against PyTorch 1.13 (tests/fixtures/tensor_ops_more.json from
// tools/fixtures/gen_tensor_ops_more.py): bool dtype and comparisons, logical ops, indexing, sort,
// more reductions and shape ops, mm/bmm/outer/dot, einsum (tests/fixtures/einsum.json from
// tools/fixtures/gen_einsum.py). Values, dtypes and gradients per case, then
// float64 gradchecks, errors and the bool dtype's printing and serialisation.
#include "test_support.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <tuple>

using namespace lazynn;
using lazynn::testing::check_same;
using lazynn::testing::load_fixture;
using lazynn::testing::typed_fixture_tensor;

namespace {

using Ins = std::vector<Tensor>;
using MultiFn = std::function<std::vector<Tensor>(const Ins&)>;

MultiFn one(std::function<Tensor(const Ins&)> fn) {
    return [fn](const Ins& x) { return std::vector<Tensor>{fn(x)}; };
}
MultiFn both(std::function<ValuesIndices(const Ins&)> fn) {
    return [fn](const Ins& x) {
        const ValuesIndices r = fn(x);
        return std::vector<Tensor>{r.values, r.indices};
    };
}

const std::map<std::string, MultiFn>& cases() {
    static const std::map<std::string, MultiFn> table = {
        {"eq_f32", one([](const Ins& x) { return x[0] == x[1]; })},
        {"lt_broadcast_int64", one([](const Ins& x) { return x[0] < x[1]; })},
        {"ge_mixed_dtypes", one([](const Ins& x) { return x[0] >= x[1]; })},
        {"ne_nan", one([](const Ins& x) { return x[0] != x[0]; })},
        {"gt_scalar", one([](const Ins& x) { return x[0] > 0.0; })},
        {"logical_and", one([](const Ins& x) { return logical_and(x[0], x[1]); })},
        {"logical_or_float", one([](const Ins& x) { return logical_or(x[0], x[1]); })},
        {"logical_xor", one([](const Ins& x) { return x[0] ^ x[1]; })},
        {"logical_not_int64", one([](const Ins& x) { return logical_not(x[0]); })},
        {"bool_sum", one([](const Ins& x) { return x[0].sum(); })},
        {"bool_sum_dim", one([](const Ins& x) { return x[0].sum({1}); })},
        {"bool_times_float", one([](const Ins& x) { return x[0] * x[1]; })},
        {"bool_plus_bool", one([](const Ins& x) { return x[0] + x[1]; })},
        {"bool_times_bool", one([](const Ins& x) { return x[0] * x[1]; })},
        {"bool_plus_int", one([](const Ins& x) { return x[0] + 2.0; })},
        {"bool_to_float", one([](const Ins& x) { return x[0].to(kFloat32); })},
        {"float_to_bool", one([](const Ins& x) { return x[0].to(kBool); })},
        {"where_bool", one([](const Ins& x) { return where(x[0], x[1], x[2]); })},
        {"masked_fill_bool", one([](const Ins& x) { return x[0].masked_fill(x[1], -1.5); })},
        {"bool_cumsum", one([](const Ins& x) { return x[0].cumsum(0); })},
        {"bool_max", one([](const Ins& x) { return x[0].max(); })},
        {"bool_div", one([](const Ins& x) { return x[0] / x[1]; })},
        {"gather_dim0", one([](const Ins& x) { return x[0].gather(0, x[1]); })},
        {"gather_dim1", one([](const Ins& x) { return gather(x[0], 1, x[1]); })},
        {"gather_neg_dim_noncontig", one([](const Ins& x) { return x[0].gather(-1, x[1]); })},
        {"gather_int64", one([](const Ins& x) { return x[0].gather(1, x[1]); })},
        {"gather_empty_index", one([](const Ins& x) { return x[0].gather(1, x[1]); })},
        {"scatter_src", one([](const Ins& x) { return x[0].scatter(0, x[1], x[2]); })},
        {"scatter_value", one([](const Ins& x) { return scatter(x[0], 1, x[1], 2.5); })},
        {"scatter_add", one([](const Ins& x) { return x[0].scatter_add(0, x[1], x[2]); })},
        {"scatter_add_dim1_dupes", one([](const Ins& x) { return scatter_add(x[0], 1, x[1], x[2]); })},
        {"masked_select", one([](const Ins& x) { return x[0].masked_select(x[1]); })},
        {"masked_select_broadcast", one([](const Ins& x) { return masked_select(x[0], x[1]); })},
        {"nonzero_2d", one([](const Ins& x) { return x[0].nonzero(); })},
        {"nonzero_bool_1d", one([](const Ins& x) { return nonzero(x[0]); })},
        {"nonzero_none", one([](const Ins& x) { return x[0].nonzero(); })},
        {"one_hot", one([](const Ins& x) { return one_hot(x[0]); })},
        {"one_hot_classes_2d", one([](const Ins& x) { return one_hot(x[0], 5); })},
        {"sort_rows", both([](const Ins& x) { return x[0].sort(); })},
        {"sort_dim0_descending", both([](const Ins& x) { return x[0].sort(0, true); })},
        {"sort_stable_ties", both([](const Ins& x) { return x[0].sort(-1, false, true); })},
        {"sort_stable_ties_descending", both([](const Ins& x) { return sort(x[0], -1, true, true); })},
        {"sort_nan", both([](const Ins& x) { return x[0].sort(); })},
        {"sort_nan_descending", both([](const Ins& x) { return x[0].sort(-1, true); })},
        {"sort_int64", both([](const Ins& x) { return x[0].sort(1); })},
        {"sort_noncontig", both([](const Ins& x) { return x[0].sort(0); })},
        {"sort_0dim", both([](const Ins& x) { return x[0].sort(); })},
        {"sort_empty", both([](const Ins& x) { return x[0].sort(); })},
        {"argsort_descending_stable", one([](const Ins& x) { return x[0].argsort(-1, true, true); })},
        {"topk_largest", both([](const Ins& x) { return x[0].topk(2); })},
        {"topk_smallest_dim0", both([](const Ins& x) { return topk(x[0], 3, 0, false); })},
        {"topk_k0", both([](const Ins& x) { return x[0].topk(0); })},
        {"norm_2", one([](const Ins& x) { return x[0].norm(); })},
        {"norm_1", one([](const Ins& x) { return x[0].norm(1); })},
        {"norm_inf", one([](const Ins& x) { return norm(x[0], std::numeric_limits<double>::infinity()); })},
        {"norm_3", one([](const Ins& x) { return x[0].norm(3); })},
        {"norm_2_dim", one([](const Ins& x) { return x[0].norm(2, {1}); })},
        {"norm_2_dim_keepdim", one([](const Ins& x) { return x[0].norm(2, {0}, true); })},
        {"norm_2_zero", one([](const Ins& x) { return x[0].norm(); })},
        {"norm_1_zero", one([](const Ins& x) { return x[0].norm(1); })},
        {"norm_3_zero", one([](const Ins& x) { return x[0].norm(3); })},
        {"norm_f32", one([](const Ins& x) { return x[0].norm(); })},
        {"all_float", one([](const Ins& x) { return x[0].all(); })},
        {"all_dim", one([](const Ins& x) { return x[0].all(1); })},
        {"any_dim_keepdim", one([](const Ins& x) { return x[0].any(1, true); })},
        {"any_bool", one([](const Ins& x) { return any(x[0]); })},
        {"all_empty", one([](const Ins& x) { return all(x[0]); })},
        {"cumprod", one([](const Ins& x) { return x[0].cumprod(1); })},
        {"cumprod_dim0", one([](const Ins& x) { return cumprod(x[0], 0); })},
        {"cumprod_one_zero", one([](const Ins& x) { return x[0].cumprod(0); })},
        {"cumprod_two_zeros", one([](const Ins& x) { return x[0].cumprod(1); })},
        {"cumprod_int64", one([](const Ins& x) { return x[0].cumprod(0); })},
        {"amax_dims", one([](const Ins& x) {
             return x[0].amax({0, 2});
         })},
        {"amin_dims_keepdim", one([](const Ins& x) {
             return x[0].amin({1, 2}, true);
         })},
        {"amax_ties", one([](const Ins& x) { return x[0].amax({1}); })},
        {"amax_all", one([](const Ins& x) { return amax(x[0]); })},
        {"repeat", one([](const Ins& x) {
             return x[0].repeat({2, 1, 3});
         })},
        {"repeat_noncontig", one([](const Ins& x) {
             return x[0].repeat({2, 2});
         })},
        {"repeat_zero", one([](const Ins& x) {
             return x[0].repeat({0, 2});
         })},
        {"roll_flat", one([](const Ins& x) { return x[0].roll(2); })},
        {"roll_dims", one([](const Ins& x) {
             return roll(x[0], {1, -5}, {0, 1});
         })},
        {"roll_neg_dim", one([](const Ins& x) { return x[0].roll(3, -1); })},
        {"unbind_dim1", [](const Ins& x) { return x[0].unbind(1); }},
        {"split_sizes", [](const Ins& x) { return x[0].split(std::vector<std::int64_t>{1, 3, 2}); }},
        {"split_sizes_dim1_zero", [](const Ins& x) { return x[0].split(std::vector<std::int64_t>{2, 0, 3}, 1); }},
        {"mm", one([](const Ins& x) { return x[0].mm(x[1]); })},
        {"mm_noncontig", one([](const Ins& x) { return mm(x[0], x[1]); })},
        {"bmm", one([](const Ins& x) { return bmm(x[0], x[1]); })},
        {"outer", one([](const Ins& x) { return outer(x[0], x[1]); })},
        {"dot", one([](const Ins& x) { return dot(x[0], x[1]); })},
        {"mm_f32", one([](const Ins& x) { return x[0].mm(x[1]); })},
        {"bitwise_and_int64", one([](const Ins& x) { return x[0] & x[1]; })},
        {"bitwise_or_broadcast", one([](const Ins& x) { return bitwise_or(x[0], x[1]); })},
        {"bitwise_xor_int_bool", one([](const Ins& x) { return x[0] ^ x[1]; })},
        {"bitwise_and_bools", one([](const Ins& x) { return bitwise_and(x[0], x[1]); })},
        {"bitwise_not_int64", one([](const Ins& x) { return ~x[0]; })},
        {"bitwise_not_bool", one([](const Ins& x) { return bitwise_not(x[0]); })},
        {"cumsum_dim0_3d", one([](const Ins& x) { return x[0].cumsum(0); })},
        {"cumsum_dim1_3d_f32", one([](const Ins& x) { return x[0].cumsum(-2); })},
        {"cumsum_dim1_noncontig", one([](const Ins& x) { return x[0].cumsum(1); })},
        {"cumsum_dim0_int64", one([](const Ins& x) { return x[0].cumsum(0); })},
    };
    return table;
}

/// float32: the same sums as PyTorch's in another order (oneDNN's GEMM kernels block by ISA: 1.7e-6 seen on
/// an AVX-512 Xeon where a sum cancels).
double rtol_for(Dtype d) { return d == kFloat32 ? 1e-5 : 1e-10; }

}  // namespace

TEST_SUITE("missing tensor ops vs PyTorch (issue 21)") {
    TEST_CASE("every fixture case has an implementation and vice versa") {
        const auto fx = load_fixture("tensor_ops_more.json");
        CHECK(fx.at("cases").size() == cases().size());
        for (const auto& entry : cases()) {
            const auto& name = entry.first;  // named: clang 14 cannot capture a structured binding
            CHECK_MESSAGE(fx.at("cases").contains(name), name);
        }
    }

    TEST_CASE("values, dtypes and gradients match PyTorch") {
        const auto fx = load_fixture("tensor_ops_more.json");
        for (const auto& [name_, fn] : cases()) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            CAPTURE(name);
            const auto& c = fx.at("cases").at(name);
            const bool differentiable = c.at("differentiable").get<bool>();
            Ins inputs;
            for (const auto& in : c.at("inputs")) {
                Tensor x = typed_fixture_tensor(in);
                if (differentiable && x.is_floating_point()) x.requires_grad_();
                inputs.push_back(x);
            }
            // Non-contiguous fixtures: the generator permuted them; rebuild the same layout here.
            if (name.find("noncontig") != std::string::npos) {
                const std::size_t count = inputs.size();
                for (std::size_t k = 0; k < count; ++k) {
                    const Tensor x = inputs[k];
                    if (x.dim() < 2 || !x.is_floating_point()) continue;
                    Shape order;
                    for (std::int64_t d = x.dim(); d-- > 0;) order.push_back(d);
                    Tensor base = x.detach().permute(order).contiguous().requires_grad_(differentiable);
                    inputs[k] = base.permute(order);
                    REQUIRE_FALSE(inputs[k].is_contiguous());
                    inputs.push_back(base);  // keeps the leaf whose gradient is checked
                }
            }
            const std::vector<Tensor> outs = fn(inputs);
            REQUIRE(outs.size() == c.at("outputs").size());
            for (std::size_t k = 0; k < outs.size(); ++k) {
                CAPTURE(k);
                const Tensor expected = typed_fixture_tensor(c.at("outputs")[k]);
                check_same(outs[k], expected, false, rtol_for(expected.dtype()));
            }
            if (!differentiable) continue;
            Tensor loss;
            for (std::size_t k = 0; k < outs.size(); ++k) {
                if (c.at("weights")[k].is_null()) continue;
                const Tensor term = (outs[k] * typed_fixture_tensor(c.at("weights")[k])).sum();
                loss = loss.defined() ? loss + term : term;
            }
            loss.backward();
            const std::size_t fixture_inputs = c.at("inputs").size();
            for (std::size_t k = 0; k < fixture_inputs; ++k) {
                CAPTURE(k);
                if (c.at("grads")[k].is_null()) continue;
                // For permuted inputs the leaf is the contiguous base appended after the inputs.
                Tensor leaf = inputs[k];
                if (!leaf.is_leaf()) {
                    std::size_t j = fixture_inputs;
                    for (std::size_t m = 0; m < k; ++m) j += inputs[m].is_leaf() ? 0 : 1;
                    leaf = inputs[j];
                }
                REQUIRE(leaf.grad().defined());
                Tensor grad = leaf.grad();
                if (!inputs[k].is_leaf()) {
                    Shape order;
                    for (std::int64_t d = grad.dim(); d-- > 0;) order.push_back(d);
                    grad = grad.permute(order);
                }
                const Tensor expected = typed_fixture_tensor(c.at("grads")[k]);
                check_same(grad, expected, false, rtol_for(expected.dtype()));
            }
        }
    }

    TEST_CASE("gradcheck in float64") {
        const Tensor x = tensor({{0.3, -1.2, 2.0, 0.7}, {1.1, 1.5, 0.8, 1.3}, {-0.4, 0.9, -2.2, 0.1}}, kFloat64);
        const Tensor y = tensor({{0.5, 0.25}, {-1.5, 2.0}, {0.75, -0.5}, {1.25, 0.1}}, kFloat64);
        const Tensor index = tensor({{2, 0, 1, 1}, {0, 1, 2, 0}});
        const Tensor mask = x > 0.5;
        const std::vector<std::pair<const char*, std::function<Tensor(const std::vector<Tensor>&)>>> ops{
            {"gather", [&](const auto& v) { return v[0].gather(0, index); }},
            {"scatter", [&](const auto& v) { return v[0].scatter(0, index.slice(0, 0, 1), v[0].slice(0, 1, 2) * 2); }},
            {"scatter_add", [&](const auto& v) { return v[0].scatter_add(0, index, v[0].slice(0, 0, 2)); }},
            {"masked_select", [&](const auto& v) { return v[0].masked_select(mask); }},
            {"sort", [](const auto& v) { return v[0].sort(1).values; }},
            {"topk", [](const auto& v) { return v[0].topk(2, 0).values; }},
            {"norm 2", [](const auto& v) { return v[0].norm(2, {1}); }},
            {"norm 1", [](const auto& v) { return v[0].norm(1); }},
            {"norm 3", [](const auto& v) { return v[0].norm(3, {0}); }},
            {"norm inf", [](const auto& v) { return v[0].norm(std::numeric_limits<double>::infinity()); }},
            {"cumprod", [](const auto& v) { return v[0].cumprod(1); }},
            {"amax", [](const auto& v) { return v[0].amax({0}); }},
            {"amin",
             [](const auto& v) {
                 return v[0].amin({0, 1});
             }},
            {"repeat",
             [](const auto& v) {
                 return v[0].repeat({2, 1, 2});
             }},
            {"roll",
             [](const auto& v) {
                 return v[0].roll({1, 2}, {0, 1});
             }},
            {"unbind", [](const auto& v) { return v[0].unbind(1)[2] * 3; }},
            {"split sizes",
             [](const auto& v) {
                 return v[0].split(std::vector<std::int64_t>{1, 3}, 1)[1] * 2;
             }},
            {"mm", [&](const auto& v) { return v[0].mm(y); }},
            {"bmm", [&](const auto& v) { return v[0].unsqueeze(0).bmm(y.unsqueeze(0)); }},
            {"outer", [](const auto& v) { return v[0].select(0, 0).outer(v[0].select(1, 1)); }},
            {"dot", [](const auto& v) { return v[0].select(0, 1).dot(v[0].select(0, 2)); }},
        };
        for (const auto& [name_, fn] : ops) {
            const auto& name = name_;  // clang 14 cannot capture a structured binding (CAPTURE/INFO)
            CAPTURE(name);
            const auto result = autograd::gradcheck(fn, {x.clone().requires_grad_()});
            CHECK_MESSAGE(result.ok, result.message);
        }
        // cumprod through zeros (the exact-products path).
        const Tensor z = tensor({{2.0, 0.0, 3.0, 0.0}, {1.5, 0.5, 2.0, 3.0}}, kFloat64);
        const auto with_zeros =
            autograd::gradcheck([](const auto& v) { return v[0].cumprod(1); }, {z.clone().requires_grad_()});
        CHECK_MESSAGE(with_zeros.ok, with_zeros.message);
    }

    TEST_CASE("unbind's pieces share one gradient: every use, unused pieces, repeated passes") {
        // The pieces fill one gradient per backward pass (linear in the number of pieces); it must
        // equal the sum of per-piece gradients in every arrangement of uses.
        const Tensor base = arange(24).reshape({4, 3, 2}).to(kFloat64) * 0.25;
        Tensor x = base.clone().requires_grad_();
        Tensor h = x * 2.0;  // a non-leaf input whose retained gradient must survive a second pass
        h.retain_grad();
        const std::vector<Tensor> pieces = h.unbind(0);
        // Piece 0 twice, piece 1 once through exp, piece 2 unused, piece 3 through a second unbind.
        const Tensor loss = (pieces[0] * pieces[0]).sum() + pieces[1].exp().sum() + pieces[0].sum() +
                            pieces[3].unbind(1)[1].sum() * 5.0;
        loss.backward({}, /*retain_graph=*/true);
        const Tensor hv = h.detach();
        Tensor expected = zeros({4, 3, 2}, kFloat64);
        expected.select(0, 0).copy_(hv.select(0, 0) * 2.0 + 1.0);
        expected.select(0, 1).copy_(hv.select(0, 1).exp());
        expected.select(0, 3).select(1, 1).fill_(5.0);
        CHECK(allclose(h.grad(), expected, 1e-12, 1e-12));
        CHECK(allclose(x.grad(), expected * 2.0, 1e-12, 1e-12));
        const Tensor first_retained = h.grad();
        const Tensor first_copy = first_retained.clone();
        loss.backward({}, /*retain_graph=*/true);  // a second pass fills a new gradient
        CHECK(equal(first_retained, first_copy));
        CHECK(allclose(x.grad(), expected * 4.0, 1e-12, 1e-12));
        // Finite differences, and second order through create_graph.
        const auto fn = [](const std::vector<Tensor>& v) {
            const auto p = v[0].unbind(1);
            return p[0] * p[2] + p[1].sin() + p[0].exp() * p[0];
        };
        const Tensor y = tensor({{0.3, -0.2, 0.5}, {1.1, 0.4, -0.7}}, kFloat64).requires_grad_();
        const auto first = autograd::gradcheck(fn, {y});
        CHECK_MESSAGE(first.ok, first.message);
        const auto second = autograd::gradgradcheck(fn, {y});
        CHECK_MESSAGE(second.ok, second.message);
    }

    TEST_CASE("errors name the op, the expected and the actual") {
        const Tensor x = randn({2, 3});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.gather(1, tensor({{0, 1}}, kFloat32)), DtypeError,
                                        "Expected dtype int64 for index");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.gather(1, tensor({{0, 3}})), IndexError,
                                        "out of bounds for dimension 1 with size 3");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.gather(1, tensor({0, 1})), ShapeError, "same number of dimensions");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.masked_select(ones({3})), DtypeError, "expected BoolTensor for mask");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.topk(4), RuntimeError, "selected index k out of range");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(one_hot(tensor({1, -1})), RuntimeError, "Class values must be non-negative");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(one_hot(tensor({1, 4}), 3), RuntimeError,
                                        "Class values must be smaller than num_classes");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.repeat({2}), RuntimeError, "can not be smaller than number of dimensions");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.split(std::vector<std::int64_t>{1, 3}, 1), RuntimeError, "sum exactly to 3");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.mm(randn({2, 3})), ShapeError,
                                        "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.mm(randn({3})), RuntimeError, "mat2 must be a 2D tensor");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.bmm(x), RuntimeError, "batch1 must be a 3D tensor");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(randn({3}).dot(randn({4})), ShapeError, "inconsistent tensor size");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(randn({3}).dot(randn({3}, kFloat64)), DtypeError, "same dtype");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(tensor({1, 2}).norm(), DtypeError, "Expected a floating point");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(-(x > 0.0), RuntimeError, "use the `~` or `logical_not()` operator instead");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR((x > 0.0) - (x > 1.0), RuntimeError, "with two bool tensors is not supported");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR((x > 0.0).mean(), DtypeError, "Input dtype must be a floating point dtype");
        // PyTorch's messages: bitwise ops have no floating form, where's condition must be bool.
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x & x, DtypeError, "\"bitwise_and_cpu\" not implemented for 'Float'");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(tensor({1, 2}) | randn({2}, kFloat64), DtypeError,
                                        "\"bitwise_or_cpu\" not implemented for 'Double'");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(~x, TypeError, "only implemented on integer and Boolean-type tensors");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(where(x, x, x), DtypeError,
                                        "where expected condition to be a boolean tensor, but got a tensor with dtype "
                                        "Float");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(where(tensor({1, 0, 1}), x, x), DtypeError, "dtype int64");
        // PyTorch 1.13 reads a float mask's bytes as bools (1.0 fills nothing, an int64 1 fills);
        // lazynn raises, as PyTorch 2 does.
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(x.masked_fill(ones({3}), 1.0), DtypeError,
                                        "masked_fill_ only supports boolean masks, but got mask with dtype float32");
    }

    TEST_CASE("attention takes bool masks as PyTorch does: true is not allowed to attend") {
        manual_seed(3);
        nn::MultiheadAttention mha(4, 2);
        const Tensor q = randn({3, 2, 4});
        const Tensor blocked = tensor({{0.0, 1.0, 0.0}, {0.0, 0.0, 1.0}, {1.0, 0.0, 0.0}}) > 0.5;
        const Tensor padding = tensor({{0.0, 0.0, 1.0}, {0.0, 0.0, 0.0}}) > 0.5;
        nn::AttentionCall with_bool, with_float;
        with_bool.attn_mask = blocked;
        with_bool.key_padding_mask = padding;
        with_float.attn_mask = nn::additive_mask(blocked);
        with_float.key_padding_mask = nn::additive_mask(padding);
        CHECK(allclose(mha(q, q, q, with_bool).output, mha(q, q, q, with_float).output));
        CHECK_FALSE(allclose(mha(q, q, q, with_bool).output, mha(q, q, q).output));
    }

    TEST_CASE("bool tensors print, convert and round-trip through safetensors as PyTorch's") {
        const Tensor m = tensor({1.0, -2.0, 3.0}) > 0.0;
        CHECK(m.dtype() == kBool);
        CHECK(dtype_name(m.dtype()) == "bool");
        CHECK(m.str() == "tensor([ True, False,  True])");
        CHECK((tensor({1.0}) > 0.0).reshape({}).str() == "tensor(True)");
        CHECK(zeros({0, 3}, kBool).str() == "tensor([], size=(0, 3), dtype=torch.bool)");
        CHECK(zeros({0}, kInt64).str() == "tensor([], dtype=torch.int64)");
        CHECK(m.select(0, 0).item<bool>());
        CHECK(m.to_vector<bool>() == std::vector<bool>{true, false, true});
        CHECK(m.to(kFloat32).to_vector<float>() == std::vector<float>{1, 0, 1});
        CHECK((m.sum().dtype() == kInt64 && m.sum().item<std::int64_t>() == 2));
        const std::string path = "test_tensor_ops_more_bool.safetensors";
        serialize::save_safetensors(StateDict{{"mask", m}}, path);
        const Tensor back = serialize::load_safetensors(path).tensors.at("mask");
        CHECK(back.dtype() == kBool);
        CHECK(equal(back, m));
        {
            // A byte that is not 0 or 1 cannot be a C++ bool: the load refuses it.
            std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
            file.seekp(-1, std::ios::end);
            file.put(static_cast<char>(2));
        }
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(serialize::load_safetensors(path), RuntimeError,
                                        "holds a BOOL byte 2 (expected 0 or 1)");
        std::remove(path.c_str());
    }
}

TEST_SUITE("einsum vs PyTorch (issue 21)") {
    TEST_CASE("values, dtypes and gradients match PyTorch for every equation form") {
        const auto fx = load_fixture("einsum.json");
        REQUIRE(fx.at("cases").size() >= 30);
        for (const auto& [name_, c] : fx.at("cases").items()) {
            const std::string name = name_;  // clang 14 cannot capture a structured binding
            const std::string equation = c.at("equation").get<std::string>();
            CAPTURE(name);
            CAPTURE(equation);
            // Leaves requiring grad; the "noncontiguous" case feeds transposed views of them, as the
            // generator did.
            const bool transposed = name == "noncontiguous";
            Ins leaves, operands;
            for (const auto& in : c.at("inputs")) {
                Tensor x = typed_fixture_tensor(in);
                if (transposed) x = x.t().contiguous();
                if (x.is_floating_point()) x.requires_grad_();
                leaves.push_back(x);
                operands.push_back(transposed ? x.t() : x);
            }
            const Tensor out = einsum(equation, operands);
            const Tensor expected = typed_fixture_tensor(c.at("output"));
            check_same(out, expected, false, rtol_for(expected.dtype()));
            if (!c.contains("weight")) continue;
            (out * typed_fixture_tensor(c.at("weight"))).sum().backward();
            for (std::size_t k = 0; k < leaves.size(); ++k) {
                CAPTURE(k);
                REQUIRE(leaves[k].grad().defined());
                const Tensor grad = transposed ? leaves[k].grad().t() : leaves[k].grad();
                const Tensor want = typed_fixture_tensor(c.at("grads")[k]);
                check_same(grad, want, false, rtol_for(want.dtype()));
            }
        }
    }

    TEST_CASE("malformed equations and operands raise PyTorch's errors") {
        const auto fx = load_fixture("einsum.json");
        for (const auto& [name_, c] : fx.at("errors").items()) {
            const std::string name = name_;
            CAPTURE(name);
            Ins operands;
            for (const auto& in : c.at("inputs")) operands.push_back(typed_fixture_tensor(in));
            const std::string equation = c.at("equation").get<std::string>();
            if (name == "mixed_dtypes") {
                // PyTorch's message comes from bmm; lazynn names the operands.
                LAZYNN_CHECK_THROWS_WITH_SUBSTR(einsum(equation, operands), DtypeError,
                                                "operand 0 is float32 and operand 1 is float64");
                continue;
            }
            LAZYNN_CHECK_THROWS_WITH_SUBSTR(einsum(equation, operands), RuntimeError,
                                            c.at("message").get<std::string>());
        }
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(einsum("ij", {}), RuntimeError, "must provide at least one operand");
    }

    TEST_CASE("gradcheck and gradgradcheck in float64") {
        auto leaf = [](const Shape& shape, double shift) {
            return (arange(static_cast<double>(shape_numel(shape)), kFloat64).reshape(shape) * 0.37 + shift)
                .sin()
                .requires_grad_();
        };
        const std::vector<std::tuple<std::string, std::vector<Shape>>> forms{
            {"ij,jk->ik", {{2, 3}, {3, 2}}},
            {"bij,bkj->bik", {{2, 2, 3}, {2, 4, 3}}},
            {"ij,jk,kl->il", {{2, 3}, {3, 2}, {2, 2}}},
            {"ii->i", {{3, 3}}},
            {"ii", {{3, 3}}},
            {"...i,...i->...", {{2, 1, 3}, {2, 3}}},
            {"ij,ij->ij", {{1, 3}, {2, 3}}},
            {"i,j->ij", {{3}, {2}}},
        };
        for (const auto& [equation_, shapes] : forms) {
            const std::string equation = equation_;
            CAPTURE(equation);
            std::vector<Tensor> inputs;
            for (std::size_t k = 0; k < shapes.size(); ++k)
                inputs.push_back(leaf(shapes[k], 0.3 * static_cast<double>(k)));
            const auto fn = [&equation](const std::vector<Tensor>& v) { return einsum(equation, v); };
            const auto first = autograd::gradcheck(fn, inputs);
            CHECK_MESSAGE(first.ok, first.message);
            const auto second = autograd::gradgradcheck(fn, inputs);
            CHECK_MESSAGE(second.ok, second.message);
        }
    }
}
