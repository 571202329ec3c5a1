// bfloat16 and float16 tensors: conversion bit for bit as PyTorch rounds, type promotion, printing,
// element-wise ops, reductions, indexing and their gradients against PyTorch 1.13 (computed in
// float32 and rounded once, as PyTorch's CPU kernels do), modules and safetensors files in 16 bits.
// Fixtures: tools/fixtures/gen_bfloat16.py (bfloat16.json), gen_half_precision.py.
#include "test_support.hpp"
#include "fixture_values.hpp"

#include <lazynn/nn.hpp>
#include <lazynn/optim/sgd.hpp>
#include <lazynn/serialize.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

using namespace lazynn;
using nlohmann::json;

namespace {

using lazynn::testing::dtype_named;
using lazynn::testing::parse_values;

/// Same dtype and shape, values within `ulps` units in the last place of the dtype (NaN to NaN,
/// infinities exact, zeros' signs too when `signed_zeros`).
void check_values(const Tensor& actual, const json& expected_entry, double ulps = 1.0, bool signed_zeros = true) {
    const Tensor expected = lazynn::testing::tensor_from_strings(expected_entry);
    CHECK(dtype_name(actual.dtype()) == dtype_name(expected.dtype()));
    REQUIRE(actual.shape() == expected.shape());
    const double eps = actual.dtype() == kBFloat16  ? std::ldexp(1.0, -8)
                       : actual.dtype() == kFloat16 ? std::ldexp(1.0, -11)
                       : actual.dtype() == kFloat32 ? std::ldexp(1.0, -24)
                                                    : 0.0;
    const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        if (std::isnan(e[i])) {
            CHECK_MESSAGE(std::isnan(a[i]), "got " << a[i] << ", expected nan");
        } else if (std::isinf(e[i]) || e[i] == 0) {
            CHECK_MESSAGE(a[i] == e[i], "got " << a[i] << ", expected " << e[i]);
            if (e[i] == 0 && signed_zeros) CHECK(std::signbit(a[i]) == std::signbit(e[i]));
        } else {
            CHECK_MESSAGE(std::abs(a[i] - e[i]) <= ulps * 2 * eps * std::abs(e[i]),
                          "got " << a[i] << ", expected " << e[i]);
        }
    }
}

using Inputs = std::vector<Tensor>;
using Op = std::function<Tensor(const Inputs&, const json&)>;

/// The fixture's op names, run as lazynn spells them.
const std::map<std::string, Op>& op_table() {
    static const std::map<std::string, Op> table{
        {"neg", [](const Inputs& x, const json&) { return x[0].neg(); }},
        {"abs", [](const Inputs& x, const json&) { return x[0].abs(); }},
        {"exp", [](const Inputs& x, const json&) { return x[0].exp(); }},
        {"log", [](const Inputs& x, const json&) { return x[0].log(); }},
        {"sqrt", [](const Inputs& x, const json&) { return x[0].sqrt(); }},
        {"tanh", [](const Inputs& x, const json&) { return x[0].tanh(); }},
        {"sigmoid", [](const Inputs& x, const json&) { return x[0].sigmoid(); }},
        {"relu", [](const Inputs& x, const json&) { return x[0].relu(); }},
        {"gelu", [](const Inputs& x, const json&) { return x[0].gelu(); }},
        {"sin", [](const Inputs& x, const json&) { return x[0].sin(); }},
        {"add", [](const Inputs& x, const json& a) { return add(x[0], x[1], a.value("alpha", 1.0)); }},
        {"sub", [](const Inputs& x, const json&) { return x[0] - x[1]; }},
        {"mul", [](const Inputs& x, const json&) { return x[0] * x[1]; }},
        {"div", [](const Inputs& x, const json&) { return x[0] / x[1]; }},
        {"maximum", [](const Inputs& x, const json&) { return maximum(x[0], x[1]); }},
        {"pow", [](const Inputs& x, const json& a) { return x[0].pow(a.at("exponent").get<double>()); }},
        {"pow_tensor", [](const Inputs& x, const json&) { return x[0].pow(x[1]); }},
        {"eq", [](const Inputs& x, const json&) { return eq(x[0], x[1]); }},
        {"lt", [](const Inputs& x, const json&) { return lt(x[0], x[1]); }},
        {"gt", [](const Inputs& x, const json&) { return gt(x[0], x[1]); }},
        {"sum",
         [](const Inputs& x, const json& a) {
             return a.contains("dim") ? x[0].sum({a.at("dim").get<std::int64_t>()}, a.value("keepdim", false))
                                      : x[0].sum();
         }},
        {"mean",
         [](const Inputs& x, const json& a) {
             return a.contains("dim") ? x[0].mean({a.at("dim").get<std::int64_t>()}, a.value("keepdim", false))
                                      : x[0].mean();
         }},
        {"amax", [](const Inputs& x,
                    const json& a) { return x[0].amax({a.at("dim").get<std::int64_t>()}, a.value("keepdim", false)); }},
        {"max_all", [](const Inputs& x, const json&) { return x[0].max(); }},
        {"norm", [](const Inputs& x, const json& a) { return x[0].norm(a.value("p", 2.0)); }},
        {"softmax", [](const Inputs& x, const json& a) { return x[0].softmax(a.at("dim").get<std::int64_t>()); }},
        {"log_softmax",
         [](const Inputs& x, const json& a) { return x[0].log_softmax(a.at("dim").get<std::int64_t>()); }},
        {"transpose_contiguous",
         [](const Inputs& x, const json& a) {
             return x[0].transpose(a.value("dim0", 0), a.value("dim1", 1)).contiguous();
         }},
        {"reshape", [](const Inputs& x, const json& a) { return x[0].reshape(a.at("shape").get<Shape>()); }},
        {"cat",
         [](const Inputs& x, const json& a) {
             return cat({x[0], x[1]}, a.value("dim", 0));
         }},
        {"stack",
         [](const Inputs& x, const json& a) {
             return stack({x[0], x[1]}, a.value("dim", 0));
         }},
        {"index_select",
         [](const Inputs& x, const json& a) {
             return x[0].index_select(a.at("dim"),
                                      tensor(a.at("index").get<std::vector<std::int64_t>>(), Shape{}, kInt64));
         }},
        {"gather", [](const Inputs& x, const json& a) { return x[0].gather(a.at("dim"), x[1]); }},
        {"flip", [](const Inputs& x, const json& a) { return x[0].flip(a.at("dims").get<Shape>()); }},
        {"masked_fill",
         [](const Inputs& x, const json& a) { return x[0].masked_fill(x[1], a.at("value").get<double>()); }},
        {"where", [](const Inputs& x, const json&) { return where(x[0], x[1], x[2]); }},
        {"slice", [](const Inputs& x,
                     const json& a) { return x[0].slice(a.at("dim"), a.at("start"), a.at("end")).contiguous(); }},
        {"clone", [](const Inputs& x, const json&) { return x[0].clone(); }},
        {"to_float32_grad", [](const Inputs& x, const json&) { return x[0].to(kFloat32) * x[1]; }},
    };
    return table;
}

/// The fixture name without its variant suffix: "add_alpha" and "add_bf16_f32" run add,
/// "exp_nonfinite" runs exp, "sum_dim1" runs sum.
std::string base_op(const std::string& name) {
    if (name.rfind("to_", 0) == 0 && name != "to_float32_grad") return "to";
    // Longest first: "add_bf16_f16" is add, not "add_bf16" with "_f16".
    for (const char* suffix : {"_bf16_scalar_f32", "_dim0_keepdim", "_nonfinite", "_broadcast", "_bf16_f32",
                               "_bf16_f16", "_bf16_i64", "_bf16_f64", "_alpha", "_dim1", "_f16", "_f32"}) {
        const std::string s(suffix);
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
            return name.substr(0, name.size() - s.size());
    }
    return name;
}

}  // namespace

TEST_SUITE("bfloat16") {
    TEST_CASE("to(kBFloat16) and to(kFloat16) round as PyTorch does, bit for bit, and come back exactly") {
        const auto fixture = lazynn::testing::load_fixture("half_precision.json");
        for (const char* source : {"float32", "float64"}) {
            CAPTURE(source);
            const auto& cases = fixture.at(source);
            const std::vector<double> values = parse_values(cases.at("inputs"));
            const Tensor x =
                tensor(values, {static_cast<std::int64_t>(values.size())}, kFloat64).to(dtype_named(source));
            const Tensor b = x.to(kBFloat16), h = x.to(kFloat16);
            REQUIRE(b.dtype() == kBFloat16);
            REQUIRE(h.dtype() == kFloat16);
            const BFloat16* bp = b.data_ptr<BFloat16>();
            const Half* hp = h.data_ptr<Half>();
            const auto& bf16_bits = cases.at("bf16_bits");
            const auto& f16_bits = cases.at("f16_bits");
            const std::vector<double> bf16_values = parse_values(cases.at("bf16_values"));
            const std::vector<double> f16_values = parse_values(cases.at("f16_values"));
            const std::vector<float> b_back = b.to_vector<float>(), h_back = h.to(kFloat32).to_vector<float>();
            for (std::size_t i = 0; i < values.size(); ++i) {
                CAPTURE(values[i]);
                if (std::isnan(values[i])) {
                    CHECK(std::isnan(b_back[i]));
                    CHECK(std::isnan(h_back[i]));
                    continue;
                }
                CHECK(bp[i].bits == bf16_bits[i].get<unsigned>());
                CHECK(hp[i].bits == f16_bits[i].get<unsigned>());
                CHECK(static_cast<double>(b_back[i]) == bf16_values[i]);
                CHECK(static_cast<double>(h_back[i]) == f16_values[i]);
            }
        }
    }

    TEST_CASE("conversions between bfloat16, float16, int64 and bool match PyTorch") {
        const json fixture = lazynn::testing::load_fixture("bfloat16.json");
        int checked = 0;
        for (const auto& c : fixture.at("ops")) {
            const std::string name = c.at("name");
            if (base_op(name) != "to") continue;
            CAPTURE(name);
            const Tensor x = lazynn::testing::tensor_from_strings(c.at("inputs")[0]);
            const Tensor out = x.to(dtype_named(c.at("out").at("dtype")));
            check_values(out, c.at("out"), 0.0);
            ++checked;
        }
        CHECK(checked == 7);
    }

    TEST_CASE("element-wise ops, reductions and indexing: PyTorch's values and gradients, in the input's dtype") {
        const json fixture = lazynn::testing::load_fixture("bfloat16.json");
        int checked = 0;
        for (const auto& c : fixture.at("ops")) {
            const std::string name = c.at("name");
            const std::string op = base_op(name);
            if (op == "to") continue;
            CAPTURE(name);
            Inputs inputs;
            for (const auto& entry : c.at("inputs")) inputs.push_back(lazynn::testing::tensor_from_strings(entry));
            Tensor out;
            if (name == "max_dim") {
                const ValuesIndices vi = inputs[0].max(c.at("args").at("dim"), c.at("args").value("keepdim", false));
                check_values(vi.indices, c.at("indices"), 0.0);
                out = vi.values;
            } else {
                REQUIRE_MESSAGE(op_table().count(op) == 1, "no lazynn op for fixture case " << name);
                out = op_table().at(op)(inputs, c.at("args"));
            }
            // PyTorch 1.13's 16-bit gelu and softmax/log_softmax backward round intermediate results
            // (gelu(-4.3) comes out -0.0); lazynn rounds once, so those compare with the exact value
            // rounded once (the fixture's "_exact" entries) instead.
            const bool exact = c.contains("out_exact");
            check_values(out, c.at(exact ? "out_exact" : "out"));
            if (c.contains("grad_out")) {
                out.backward(lazynn::testing::tensor_from_strings(c.at("grad_out")));
                for (std::size_t k = 0; k < inputs.size(); ++k) {
                    CAPTURE(k);
                    const json& expected = c.at(exact ? "grads_exact" : "grads")[k];
                    if (expected.is_null()) {
                        CHECK_FALSE(inputs[k].grad().defined());
                        continue;
                    }
                    REQUIRE(inputs[k].grad().defined());
                    // Each gradient is rounded once, as PyTorch's; two roundings apart at most.
                    check_values(inputs[k].grad(), expected, 2.0, /*signed_zeros=*/false);
                }
            }
            ++checked;
        }
        CHECK(checked >= 55);
    }

    TEST_CASE("type promotion with bfloat16 and float16 follows PyTorch's result_type") {
        const json fixture = lazynn::testing::load_fixture("bfloat16.json");
        for (const auto& row : fixture.at("promotion")) {
            const std::string a = row.at("a"), b = row.at("b");
            const int a_dim = row.at("a_dim"), b_dim = row.at("b_dim");
            CAPTURE(a);
            CAPTURE(a_dim);
            CAPTURE(b);
            CAPTURE(b_dim);
            const Tensor x = ones(a_dim ? Shape{2} : Shape{}, dtype_named(a));
            const Tensor y = ones(b_dim ? Shape{2} : Shape{}, dtype_named(b));
            CHECK(dtype_name((x * y).dtype()) == row.at("result").get<std::string>());
        }
    }

    TEST_CASE("printing matches PyTorch's repr") {
        const json fixture = lazynn::testing::load_fixture("bfloat16.json");
        for (const auto& c : fixture.at("printing")) {
            CAPTURE(c.at("name").get<std::string>());
            const Tensor t = lazynn::testing::tensor_from_strings(c);
            CHECK(t.str() == c.at("repr").get<std::string>());
        }
    }

    TEST_CASE("a scalar beside a bfloat16 tensor is read in float32, not rounded to 16 bits first") {
        // 256 + 1.0039 = 257.0039 rounds up to 258 in bfloat16 (spacing 2 there). Rounding the scalar
        // to bfloat16 first would give 1.0, then 257, a tie, which rounds to even: 256.
        const Tensor x = full({1}, 256.0, kBFloat16);
        CHECK((x + 1.0039).dtype() == kBFloat16);
        CHECK((x + 1.0039).item<float>() == 258.0f);
        Tensor y = x.clone();
        y.add_(1.0039);
        CHECK(y.item<float>() == 258.0f);
    }

    TEST_CASE("abs(-0.0) is +0.0 in every floating dtype, as PyTorch's (fixture abs_nonfinite for bfloat16)") {
        for (const Dtype dtype : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
            CAPTURE(dtype_name(dtype));
            CHECK_FALSE(std::signbit(full({1}, -0.0, dtype).abs().item<double>()));
        }
    }

    TEST_CASE("in-place arithmetic on a bfloat16 tensor computes in float32 and rounds into it") {
        Tensor x = tensor(std::vector<double>{1.0, 2.0, 3.0}, {3}, kBFloat16);
        const Tensor y = tensor(std::vector<double>{0.01, 0.02, 0.03}, {3}, kBFloat16);
        const Tensor expected = (x.to(kFloat32) * y.to(kFloat32)).to(kBFloat16);
        x.mul_(y);
        CHECK(x.dtype() == kBFloat16);
        CHECK(equal(x, expected));
    }

    TEST_CASE("Module::to(kBFloat16): a bfloat16 model runs forward and backward in bfloat16") {
        manual_seed(3);
        nn::Linear fc(4, 3);
        const Tensor x = randn({2, 4});
        fc.to(kBFloat16);
        CHECK(fc.weight.dtype() == kBFloat16);
        CHECK(fc.bias.dtype() == kBFloat16);
        const Tensor out = fc(x.to(kBFloat16));
        CHECK(out.dtype() == kBFloat16);
        // One rounding of the float32 GEMM on the same (already 16-bit) weights.
        nn::Linear reference(4, 3);
        {
            NoGradGuard no_grad;
            reference.weight.copy_(fc.weight);
            reference.bias.copy_(fc.bias);
        }
        CHECK(equal(out, reference(x.to(kBFloat16).to(kFloat32)).to(kBFloat16)));
        out.sum().backward();
        CHECK(fc.weight.grad().dtype() == kBFloat16);
        CHECK(fc.bias.grad().dtype() == kBFloat16);
        CHECK(equal(fc.bias.grad(), full({3}, 2.0, kBFloat16)));
        CHECK_THROWS_AS(fc.to(kInt64), TypeError);
    }

    TEST_CASE("bfloat16 and float16 tensors are written as BF16 and F16 and read back bit for bit") {
        // Per process: ctest runs this binary twice at once (test_bfloat16 and test_bfloat16_native).
        const std::string path = (std::filesystem::temp_directory_path() /
                                  ("lazynn_bf16_roundtrip_" + std::to_string(::getpid()) + ".safetensors"))
                                     .string();
        StateDict sd;
        const Tensor b = tensor(std::vector<double>{1.0, -2.5, 1e-40, 3e38, 0.1}, {5}, kFloat64).to(kBFloat16);
        const Tensor h = tensor(std::vector<double>{1.0, -2.5, 6e-8, 65504.0}, {2, 2}, kFloat64).to(kFloat16);
        sd.insert("b", b);
        sd.insert("h", h);
        serialize::save_safetensors(sd, path);
        const auto back = serialize::load_safetensors(path);
        CHECK(back.tensors.at("b").dtype() == kBFloat16);
        CHECK(back.tensors.at("h").dtype() == kFloat16);
        CHECK(equal(back.tensors.at("b"), b));
        CHECK(equal(back.tensors.at("h"), h));
        CHECK(std::filesystem::file_size(path) > 18);
        // A bfloat16 tensor asked to be written as F16 is rounded from its float32 value.
        serialize::save_safetensors(sd, path, {},
                                    serialize::SaveOptions().float_format(serialize::FloatFormat::Float16));
        const auto narrowed = serialize::load_safetensors(path);
        CHECK(narrowed.tensors.at("b").dtype() == kFloat16);
        CHECK(equal(narrowed.tensors.at("b"), b.to(kFloat16)));
        std::filesystem::remove(path);
    }

    TEST_CASE("a layer given a 16-bit input beside float32 parameters names itself and says what to do") {
        // (Optimizers used to refuse bfloat16 parameters here; they step them now: test_optim_16bit.)
        nn::LayerNorm norm(std::vector<std::int64_t>{4});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(norm(ones({2, 4}, kBFloat16)), DtypeError,
                                        "LayerNorm: expected a float32 input (the dtype of its parameters), got "
                                        "bfloat16; convert the input with .to(float32) or the module with "
                                        ".to(bfloat16)");
        norm.to(kBFloat16);
        CHECK(norm(ones({2, 4}, kBFloat16)).dtype() == kBFloat16);
    }
}

TEST_SUITE("linear") {
    TEST_CASE("linear over zero input features is the bias on every row, as in PyTorch (float32, float64)") {
        for (const Dtype dtype : {kFloat32, kFloat64}) {
            CAPTURE(dtype_name(dtype));
            const Tensor x = zeros({4, 0}, dtype).requires_grad_(true);
            const Tensor w = zeros({3, 0}, dtype).requires_grad_(true);
            const Tensor b = tensor(std::vector<double>{-1.5, 0.25, 2.0}, Shape{3}, dtype).requires_grad_(true);
            const Tensor out = ops::linear(x, w, b);
            CHECK(equal(out, b.detach().unsqueeze(0).expand({4, 3})));
            CHECK(equal(ops::linear_relu(x, w, b), b.detach().relu().unsqueeze(0).expand({4, 3})));
            out.sum().backward();
            CHECK(equal(b.grad(), full({3}, 4.0, dtype)));
            CHECK(w.grad().shape() == Shape{3, 0});
        }
    }
}

namespace {

/// Sets the bfloat16 kernel policy for one scope.
class KernelsGuard {
public:
    explicit KernelsGuard(BFloat16Kernels kernels) : before_(get_bfloat16_kernels()) { set_bfloat16_kernels(kernels); }
    ~KernelsGuard() { set_bfloat16_kernels(before_); }
    KernelsGuard(const KernelsGuard&) = delete;
    KernelsGuard& operator=(const KernelsGuard&) = delete;

private:
    BFloat16Kernels before_;
};

bool runs_natively() { return backend_info().bfloat16.find("on oneDNN's bfloat16 kernels") != std::string::npos; }

/// An op's output and its inputs' gradients for one upstream gradient, all in bfloat16.
struct Outcome {
    Tensor out;
    std::vector<Tensor> grads;
};

using BfloatOp = std::function<Tensor(const std::vector<Tensor>&)>;

Outcome run_op(const BfloatOp& op, const std::vector<Tensor>& values, std::uint64_t seed) {
    std::vector<Tensor> inputs;
    for (const Tensor& v : values) inputs.push_back(v.detach().requires_grad_(true));
    Outcome o{op(inputs), {}};
    manual_seed(seed);
    o.out.backward(randn(o.out.shape()).to(kBFloat16));
    for (const Tensor& t : inputs) o.grads.push_back(t.grad());
    return o;
}

/// The two kernels' results are the same float32 sums in another order, each rounded once: within a
/// bfloat16 rounding of each other, plus `slack` times the largest value (float32 reordering noise on
/// sums that cancel, by default).
void check_same_rounding(const Tensor& native, const Tensor& float32, double slack = std::ldexp(1.0, -16)) {
    REQUIRE(native.defined());
    CHECK(native.dtype() == kBFloat16);
    REQUIRE(native.shape() == float32.shape());
    const std::vector<double> a = native.to_vector<double>(), b = float32.to_vector<double>();
    double scale = 0;
    for (double v : b) scale = std::max(scale, std::abs(v));
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        CHECK_MESSAGE(std::abs(a[i] - b[i]) <= std::ldexp(std::abs(b[i]), -7) + slack * scale,
                      "native " << a[i] << ", float32 kernels " << b[i]);
        if (b[i] == 0 && a[i] == 0) CHECK(std::signbit(a[i]) == std::signbit(b[i]));  // ReLU's +0.0
    }
}

}  // namespace

TEST_SUITE("bfloat16 kernels") {
    TEST_CASE(
        "the policy: automatic uses oneDNN's bfloat16 kernels with AMX or on AMD's AVX512-BF16, native wherever "
        "oneDNN has them") {
        const std::string isa = backend_info().onednn_isa;
        {
            KernelsGuard guard(BFloat16Kernels::float32);
            CHECK(get_bfloat16_kernels() == BFloat16Kernels::float32);
            CHECK(backend_info().bfloat16.find("through float32 kernels") != std::string::npos);
        }
        {
            KernelsGuard guard(BFloat16Kernels::automatic);
            CAPTURE(isa);
            CHECK(runs_natively() == (isa == "avx512_core_amx" || (isa == "avx512_core_bf16" && testing::amd_cpu())));
        }
        {
            KernelsGuard guard(BFloat16Kernels::native);
            const std::string said = backend_info().bfloat16;
            CAPTURE(said);
            // Natively, unless this oneDNN has no bfloat16 matmul for the CPU (AVX2): then it says so.
            CHECK((runs_natively() || said.find("has no bfloat16 matmul for " + isa) != std::string::npos));
            if (isa == "avx512_core_bf16" || isa == "avx512_core_amx") CHECK(runs_natively());
        }
    }

    TEST_CASE("oneDNN's bfloat16 kernels agree with the float32 kernels: matmul, linear, convolutions, and backward") {
        {
            KernelsGuard native(BFloat16Kernels::native);
            if (!runs_natively()) {
                MESSAGE("no bfloat16 kernels on this CPU (" << backend_info().onednn_isa << "): compared elsewhere");
                return;
            }
        }
        const auto bf16 = [](const Shape& shape) { return randn(shape).to(kBFloat16); };
        manual_seed(7);
        const std::vector<std::pair<std::string, std::pair<BfloatOp, std::vector<Tensor>>>> cases{
            {"matmul", {[](const auto& x) { return matmul(x[0], x[1]); }, {bf16({33, 70}), bf16({70, 45})}}},
            {"matmul of transposed views",
             {[](const auto& x) { return matmul(x[0].t(), x[1].t()); }, {bf16({70, 33}), bf16({45, 70})}}},
            {"batched matmul", {[](const auto& x) { return matmul(x[0], x[1]); }, {bf16({3, 17, 40}), bf16({40, 9})}}},
            {"broadcast matmul",
             {[](const auto& x) { return matmul(x[0], x[1]); }, {bf16({2, 1, 5, 8}), bf16({3, 8, 4})}}},
            {"vector-matrix", {[](const auto& x) { return matmul(x[0], x[1]); }, {bf16({64}), bf16({64, 130})}}},
            {"linear",
             {[](const auto& x) { return ops::linear(x[0], x[1], x[2]); },
              {bf16({4, 6, 96}), bf16({40, 96}), bf16({40})}}},
            {"linear_relu",
             {[](const auto& x) { return ops::linear_relu(x[0], x[1], x[2]); },
              {bf16({300, 64}), bf16({72, 64}), bf16({72})}}},
            {"linear without bias",
             {[](const auto& x) { return ops::linear(x[0], x[1]); }, {bf16({7, 5}), bf16({3, 5})}}},
            {"conv2d",
             {[](const auto& x) {
                  return ops::conv2d(x[0], x[1], x[2], {2, 2}, {1, 1, 1, 1}, {1, 1}, 1);
              },
              {bf16({3, 5, 11, 9}), bf16({16, 5, 3, 3}), bf16({16})}}},
            {"grouped conv2d_relu",
             {[](const auto& x) {
                  return ops::conv2d_relu(x[0], x[1], x[2], {1, 1}, {0, 1, 1, 0}, {2, 1}, 2);
              },
              {bf16({2, 8, 10, 10}), bf16({16, 4, 3, 2}), bf16({16})}}},
            // Blocked activations of 16 channels, moved from and to PyTorch's layout by lazynn's
            // transpositions: a padded last block (20 and 40 channels), a plane of 63 pixels (a
            // partial register at every width), and a batch smaller than the threads, whose output
            // is split over them by blocks of channels (each part's planes a block of a larger tensor).
            {"conv2d over padded channel blocks",
             {[](const auto& x) {
                  return ops::conv2d(x[0], x[1], x[2], {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
              },
              {bf16({3, 20, 7, 9}), bf16({40, 20, 3, 3}), bf16({40})}}},
            {"conv2d of three samples on four threads",
             {[](const auto& x) {
                  const int threads = get_num_threads();
                  set_num_threads(4);
                  Tensor y = ops::conv2d(x[0], x[1], x[2], {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
                  set_num_threads(threads);
                  return y;
              },
              {bf16({3, 32, 6, 5}), bf16({64, 32, 3, 3}), bf16({64})}}},
            {"conv3d over channel blocks",
             {[](const auto& x) {
                  return ops::conv3d(x[0], x[1], x[2], {1, 1, 1}, {1, 1, 1, 1, 1, 1}, {1, 1, 1}, 1);
              },
              {bf16({2, 16, 3, 4, 5}), bf16({32, 16, 3, 3, 3}), bf16({32})}}},
            {"conv3d",
             {[](const auto& x) {
                  return ops::conv3d(x[0], x[1], x[2], {1, 2, 1}, {1, 1, 0, 0, 1, 1}, {1, 1, 1}, 1);
              },
              {bf16({2, 3, 5, 6, 7}), bf16({8, 3, 3, 3, 3}), bf16({8})}}},
            {"conv_transpose2d",
             {[](const auto& x) {
                  return ops::conv_transpose2d(x[0], x[1], x[2], {2, 2}, {1, 1}, {1, 1}, {1, 1}, 1);
              },
              {bf16({2, 6, 5, 5}), bf16({6, 4, 3, 3}), bf16({4})}}},
            // Edges: an empty inner dimension (every output the bias, or zero), an empty batch, and
            // operands that are strided views rather than contiguous tensors.
            {"matmul over an empty inner dimension",
             {[](const auto& x) { return matmul(x[0], x[1]); }, {bf16({5, 0}), bf16({0, 7})}}},
            {"linear over zero input features",
             {[](const auto& x) { return ops::linear_relu(x[0], x[1], x[2]); },
              {bf16({4, 0}), bf16({6, 0}), bf16({6})}}},
            {"conv2d of an empty batch",
             {[](const auto& x) {
                  return ops::conv2d(x[0], x[1], x[2], {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
              },
              {bf16({0, 3, 8, 8}), bf16({4, 3, 3, 3}), bf16({4})}}},
            {"linear of a strided view",
             {[](const auto& x) { return ops::linear(x[0].slice(1, 0, 192, 2), x[1], x[2]); },
              {bf16({64, 192}), bf16({48, 96}), bf16({48})}}},
            {"conv2d of a permuted view",
             {[](const auto& x) {
                  return ops::conv2d(x[0].permute({0, 3, 1, 2}), x[1], x[2], {1, 1}, {0, 0, 0, 0}, {1, 1}, 1);
              },
              {bf16({2, 9, 9, 8}), bf16({16, 8, 3, 3}), bf16({16})}}},
        };
        for (const auto& [name, op_and_inputs] : cases) {
            const std::string& op_name = name;
            CAPTURE(op_name);
            const auto& [op, inputs] = op_and_inputs;
            Outcome native, float32;
            {
                KernelsGuard guard(BFloat16Kernels::native);
                native = run_op(op, inputs, 11);
            }
            {
                KernelsGuard guard(BFloat16Kernels::float32);
                float32 = run_op(op, inputs, 11);
            }
            check_same_rounding(native.out, float32.out);
            // A broadcast operand's gradient is a sum of per-batch products. Natively each product is
            // rounded to bfloat16 before the sum, as in PyTorch; the float32 kernels round only the sum.
            const double slack = op_name == "broadcast matmul" ? std::ldexp(1.0, -6) : std::ldexp(1.0, -16);
            for (std::size_t k = 0; k < inputs.size(); ++k) {
                CAPTURE(k);
                check_same_rounding(native.grads[k], float32.grads[k], slack);
            }
        }
    }
}
