// Parameter, UninitializedParameter, Buffer and UninitializedBuffer (spec section 1).
#include "test_support.hpp"

#include <sstream>

using namespace lazynn;

TEST_SUITE("Parameter") {
    TEST_CASE("a leaf that requires grad by default, even under NoGradGuard") {
        Parameter p(ones({2, 3}));
        CHECK(p.requires_grad());
        CHECK(p.is_leaf());
        {
            NoGradGuard no_grad;
            CHECK(Parameter(ones({2})).requires_grad());
        }
        CHECK_FALSE(Parameter(ones({2}), false).requires_grad());
        CHECK(Parameter().defined() == false);
        CHECK_THROWS_AS(Parameter(ones({2}, kInt64)), RuntimeError);
        CHECK_FALSE(Parameter(ones({2}, kInt64), false).requires_grad());
    }

    TEST_CASE("construction shares storage and detaches from the graph") {
        Tensor x = ones({3}).requires_grad_();
        Tensor y = x * 2;
        Parameter p(y);
        CHECK(p.is_leaf());
        CHECK(p.grad_fn() == nullptr);
        CHECK(p.data_ptr<float>() == y.data_ptr<float>());
        Tensor t = zeros({2});
        Parameter q(t);
        {
            NoGradGuard no_grad;
            q.fill_(4.0);
        }
        CHECK(t.to_vector<float>() == std::vector<float>{4, 4});
        CHECK_FALSE(t.requires_grad());  // the source keeps its own flag
    }

    TEST_CASE("results of ops on a parameter are plain tensors with history") {
        Parameter p(ones({2}));
        Tensor r = p * 2;
        CHECK_FALSE(r.is_leaf());
        CHECK(r.grad_fn()->name() == "MulBackward0");
    }

    TEST_CASE("deep_copy gives new storage with equal values and the same requires_grad") {
        Parameter p(tensor({1.0, 2.0}), false);
        Parameter q = p.deep_copy();
        CHECK(equal(p, q));
        CHECK_FALSE(q.is_same(p));
        CHECK(q.data_ptr<float>() != p.data_ptr<float>());
        CHECK_FALSE(q.requires_grad());
        UninitializedParameter u(true, kFloat64);
        Parameter v = u.deep_copy();
        CHECK(is_lazy(v));
        CHECK(v.dtype() == kFloat64);
        u.materialize({2});
        CHECK(is_lazy(v));  // independent of the original
    }

    TEST_CASE("printing") {
        Parameter p(tensor({0., 1., 2.}));
        CHECK(p.str() == "Parameter containing:\ntensor([0., 1., 2.], requires_grad=True)");
        CHECK(Parameter(ones({2}), false).str() == "Parameter containing:\ntensor([1., 1.])");
        std::ostringstream os;
        os << UninitializedParameter();
        CHECK(os.str() == "<UninitializedParameter>");
    }
}

TEST_SUITE("UninitializedParameter") {
    TEST_CASE("allowed operations (spec 1.3)") {
        UninitializedParameter u;
        CHECK(u.requires_grad());
        CHECK(u.dtype() == kFloat32);
        CHECK(u.is_leaf());
        CHECK_FALSE(u.grad().defined());
        CHECK(u.sizes() == Shape{0});
        CHECK(u.is_floating_point());
        CHECK(u.is_uninitialized());
        CHECK(is_lazy(u));
        const Tensor converted = u.to(kFloat64);  // conversions keep it uninitialised
        CHECK(converted.dtype() == kFloat64);
        CHECK(is_lazy(converted));
        CHECK(converted.requires_grad());
        CHECK_FALSE(converted.is_same(u));
        CHECK(u.dtype() == kFloat32);
        CHECK(u.str() == "<UninitializedParameter>");
        CHECK(UninitializedParameter(false, kFloat64).dtype() == kFloat64);
        CHECK_FALSE(UninitializedParameter(false).requires_grad());
    }

    TEST_CASE("shape() throws the spec's RuntimeError") {
        UninitializedParameter u;
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(
            u.shape(), RuntimeError,
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` "
            "when trying to load an uninitialized parameter into an initialized one. Call `forward` to initialize the "
            "parameters before accessing their attributes.");
    }

    TEST_CASE("every other operation throws the ValueError") {
        UninitializedParameter u;
        const std::string fragment = "Attempted to use an uninitialized parameter in ";
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.numel(), ValueError, fragment + "numel");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.dim(), ValueError, fragment + "dim");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u + u, ValueError, fragment + "add");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.exp(), ValueError, fragment + "exp");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.sum(), ValueError, fragment + "sum");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.detach(), ValueError, fragment + "detach");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.zero_(), ValueError, fragment + "fill_");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.requires_grad_(false), ValueError, fragment + "requires_grad_");
        // The *_like factories give the same ValueError as every other op (issue 13, item 3).
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(empty_like(u), ValueError, fragment + "empty_like");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(zeros_like(u), ValueError, fragment + "zeros_like");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ones_like(u), ValueError, fragment + "ones_like");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(full_like(u, 2.0), ValueError, fragment + "full_like");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(rand_like(u), ValueError, fragment + "rand_like");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(randn_like(u), ValueError, fragment + "randn_like");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(zeros_like(UninitializedBuffer()), ValueError,
                                        "`lazynn::UninitializedBuffer` objects");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(matmul(u, ones({1})), ValueError, fragment + "matmul");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.reshape({1}), ValueError, fragment + "reshape");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.item<float>(), ValueError, fragment + "item");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.size(0), ValueError, fragment + "size");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u + u, ValueError,
                                        "This error happens when you are using a `LazyModule` or explicitly "
                                        "manipulating `lazynn::UninitializedParameter` objects. "
                                        "When using LazyModules Call `forward` with a dummy batch to initialize the "
                                        "parameters before calling tensor functions");
    }

    TEST_CASE("copy_ into a leaf that requires grad fails like PyTorch") {
        UninitializedParameter u;
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.copy_(ones({2})), RuntimeError,
                                        "a leaf Variable that requires grad is being used in an in-place operation.");
    }

    TEST_CASE("materialize allocates in place, keeping identity") {
        UninitializedParameter u;
        Parameter holder = u;  // e.g. an optimizer's handle
        std::vector<Tensor> list{u};
        u.materialize({3, 4});
        CHECK_FALSE(u.is_uninitialized());
        CHECK(holder.shape() == Shape{3, 4});
        CHECK(list[0].shape() == Shape{3, 4});
        CHECK(holder.is_same(u));
        CHECK(u.requires_grad());
        CHECK(u.dtype() == kFloat32);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(u.materialize({3, 4}), AttributeError,
                                        "'Parameter' object has no attribute 'materialize'");
        UninitializedParameter d(true, kFloat64);
        d.materialize({5}, kFloat32);
        CHECK(d.dtype() == kFloat32);
        CHECK(d.shape() == Shape{5});
    }
}

TEST_SUITE("Buffer") {
    TEST_CASE("buffers do not require grad; UninitializedBuffer follows the same rules") {
        Buffer b(zeros({2}));
        CHECK_FALSE(b.requires_grad());
        UninitializedBuffer ub;
        CHECK_FALSE(ub.requires_grad());
        CHECK(ub.str() == "<UninitializedBuffer>");
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ub.numel(), ValueError, "`lazynn::UninitializedBuffer` objects");
        ub.materialize({4});
        CHECK(ub.shape() == Shape{4});
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(ub.materialize({4}), AttributeError, "has no attribute 'materialize'");
    }
}
