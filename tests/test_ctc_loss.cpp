// CTCLoss and functional::ctc_loss (modules/src/ctc_loss.cpp): losses and gradients against PyTorch
// (tests/fixtures/ctc.json from tools/fixtures/gen_ctc.py), gradcheck in float64, and the
// argument checks PyTorch leaves out (its CPU kernel reads out of bounds on a bad label or length).
#include "test_support.hpp"

#include <string>
#include <vector>

using namespace lazynn;
using namespace lazynn::nn;
using lazynn::testing::check_same;
using lazynn::testing::typed_fixture_tensor;

namespace {

Reduction reduction_named(const std::string& name) {
    return name == "none" ? Reduction::None : name == "sum" ? Reduction::Sum : Reduction::Mean;
}

CTCLoss criterion_of(const nlohmann::json& c) {
    return CTCLoss(CTCLossOptions()
                       .blank(c.at("blank").get<std::int64_t>())
                       .reduction(reduction_named(c.at("reduction")))
                       .zero_infinity(c.at("zero_infinity").get<bool>()));
}

}  // namespace

TEST_SUITE("CTCLoss") {
    TEST_CASE("losses and gradients match PyTorch") {
        const auto all = lazynn::testing::load_fixture("ctc.json");
        for (const auto& item : all.items()) {
            const std::string name = item.key();
            const auto& c = item.value();
            CAPTURE(name);
            const double rtol = c.at("dtype") == "float32" ? 1e-5 : 1e-9;
            CTCLoss criterion = criterion_of(c);
            const Tensor targets = typed_fixture_tensor(c.at("targets"));
            const Tensor input_lengths = typed_fixture_tensor(c.at("input_lengths"));
            const Tensor target_lengths = typed_fixture_tensor(c.at("target_lengths"));

            const Tensor logits = typed_fixture_tensor(c.at("logits")).requires_grad_();
            const Tensor loss = criterion(logits.log_softmax(-1), targets, input_lengths, target_lengths);
            check_same(loss, typed_fixture_tensor(c.at("loss")), false, rtol);
            (loss * typed_fixture_tensor(c.at("seed"))).sum().backward();
            check_same(logits.grad(), typed_fixture_tensor(c.at("grad_logits")), false, rtol);

            if (c.contains("grad_log_probs")) {
                // The true gradient with respect to log_probs (see gen_ctc.py for PyTorch's).
                const Tensor lp = logits.log_softmax(-1).detach().requires_grad_();
                const Tensor direct = criterion(lp, targets, input_lengths, target_lengths);
                (direct * typed_fixture_tensor(c.at("seed"))).sum().backward();
                check_same(lp.grad(), typed_fixture_tensor(c.at("grad_log_probs")), false, 1e-8);
            }
        }
        CHECK(CTCLoss().str() == "CTCLoss()");
    }

    TEST_CASE("gradcheck in float64: padded and concatenated targets, repeats, every reduction") {
        const Tensor lp = randn({6, 3, 5}, kFloat64).log_softmax(-1).detach().requires_grad_();
        const Tensor padded = tensor(std::vector<std::int64_t>{1, 1, 3, 4, 2, 0, 2, 0, 0}, {3, 3});
        const Tensor concatenated = tensor(std::vector<std::int64_t>{1, 1, 3, 4, 2, 2}, {6});
        const Tensor input_lengths = tensor(std::vector<std::int64_t>{6, 5, 3}, {3});
        const Tensor target_lengths = tensor(std::vector<std::int64_t>{3, 2, 1}, {3});
        for (const Reduction r : {Reduction::None, Reduction::Sum, Reduction::Mean}) {
            for (const Tensor& targets : {padded, concatenated}) {
                CHECK(autograd::gradcheck(
                    [&](const std::vector<Tensor>& in) {
                        return functional::ctc_loss(in[0], targets, input_lengths, target_lengths, 0, r);
                    },
                    {lp}));
            }
        }
        // Unbatched, with a blank other than 0.
        const Tensor single = randn({5, 4}, kFloat64).log_softmax(-1).detach().requires_grad_();
        CHECK(autograd::gradcheck(
            [&](const std::vector<Tensor>& in) {
                return functional::ctc_loss(in[0], tensor(std::vector<std::int64_t>{0, 1, 1}, {3}),
                                            scalar_tensor(5, kInt64), scalar_tensor(3, kInt64), 3);
            },
            {single}));
    }

    TEST_CASE("non-contiguous log_probs and an empty batch") {
        // [N, T, C] transposed to [T, N, C]: a strided view gives the contiguous copy's loss and gradient.
        const Tensor batch_major = randn({3, 6, 5}, kFloat64).log_softmax(-1).detach();
        const Tensor strided = batch_major.transpose(0, 1).requires_grad_();
        const Tensor packed = strided.detach().contiguous().requires_grad_();
        const Tensor targets = tensor(std::vector<std::int64_t>{1, 2, 3, 4, 4, 0, 2, 0, 0}, {3, 3});
        const Tensor input_lengths = tensor(std::vector<std::int64_t>{6, 5, 4}, {3});
        const Tensor target_lengths = tensor(std::vector<std::int64_t>{3, 2, 1}, {3});
        const Tensor a = functional::ctc_loss(strided, targets, input_lengths, target_lengths);
        const Tensor b = functional::ctc_loss(packed, targets, input_lengths, target_lengths);
        CHECK(a.item<double>() == b.item<double>());
        a.backward();
        b.backward();
        CHECK(equal(strided.grad(), packed.grad()));
        // No samples: 'none' is empty and 'sum' is 0, as in PyTorch.
        const Tensor empty_lp = zeros({4, 0, 5}, kFloat64);
        const Tensor none = functional::ctc_loss(empty_lp, zeros({0, 2}, kInt64), zeros({0}, kInt64),
                                                 zeros({0}, kInt64), 0, Reduction::None);
        CHECK(none.shape() == Shape{0});
        CHECK(functional::ctc_loss(empty_lp, zeros({0, 2}, kInt64), zeros({0}, kInt64), zeros({0}, kInt64), 0,
                                   Reduction::Sum)
                  .item<double>() == 0.0);
    }

    TEST_CASE("bad arguments are errors naming what was expected") {
        const Tensor lp = randn({6, 2, 4}).log_softmax(-1);
        const Tensor targets = tensor(std::vector<std::int64_t>{1, 2, 3, 1, 2, 0}, {2, 3});
        const Tensor lengths = tensor(std::vector<std::int64_t>{6, 5}, {2});
        const Tensor target_lengths = tensor(std::vector<std::int64_t>{3, 2}, {2});
        using functional::ctc_loss;
        CHECK_THROWS_WITH_AS(ctc_loss(lp, targets, lengths, target_lengths, 4),
                             "ctc_loss: blank must be in label range [0, 4), got 4", ValueError);
        CHECK_THROWS_WITH_AS(
            ctc_loss(lp, tensor(std::vector<std::int64_t>{1, 2, 9, 1, 2, 0}, {2, 3}), lengths, target_lengths),
            "ctc_loss: target 9 of sample 0 is out of the label range [0, 4)", IndexError);
        CHECK_THROWS_WITH_AS(
            ctc_loss(lp, tensor(std::vector<std::int64_t>{1, 0, 3, 1, 2, 0}, {2, 3}), lengths, target_lengths),
            "ctc_loss: sample 0 has the blank label 0 among its targets; targets cannot be blank", ValueError);
        CHECK_THROWS_WITH_AS(ctc_loss(lp, targets, tensor(std::vector<std::int64_t>{6, 7}, {2}), target_lengths),
                             "ctc_loss: input_lengths[1] is 7, expected a value in [0, 6] (log_probs has 6 time steps)",
                             ValueError);
        CHECK_THROWS_WITH_AS(
            ctc_loss(lp, targets, tensor(std::vector<std::int64_t>{6, -1}, {2}), target_lengths),
            "ctc_loss: input_lengths[1] is -1, expected a value in [0, 6] (log_probs has 6 time steps)", ValueError);
        CHECK_THROWS_WITH_AS(ctc_loss(lp, targets, lengths, tensor(std::vector<std::int64_t>{3, -1}, {2})),
                             "ctc_loss: target_lengths[1] is -1, expected a non-negative length", ValueError);
        CHECK_THROWS_WITH_AS(ctc_loss(lp, targets, lengths, tensor(std::vector<std::int64_t>{4, 2}, {2})),
                             "ctc_loss: target_lengths[0] is 4, but the padded targets hold 3 labels per sample",
                             ShapeError);
        CHECK_THROWS_WITH_AS(ctc_loss(lp, targets, tensor(std::vector<std::int64_t>{6}, {1}), target_lengths),
                             "ctc_loss: input_lengths must be of size batch_size (2), got shape [1]", ShapeError);
        CHECK_THROWS_WITH_AS(ctc_loss(lp, tensor(std::vector<std::int64_t>{1, 2, 3, 1}, {4}), lengths, target_lengths),
                             "ctc_loss: concatenated targets must hold sum(target_lengths) = 5 labels, got 4",
                             ShapeError);
        CHECK_THROWS_AS(ctc_loss(lp, targets.to(kFloat32), lengths, target_lengths), DtypeError);
        CHECK_THROWS_AS(ctc_loss(lp, targets, lengths.to(kFloat32), target_lengths), DtypeError);
        CHECK_THROWS_AS(ctc_loss(lp.flatten(), targets, lengths, target_lengths), ShapeError);
        // An input of length 0: the empty target has probability 1, any other none.
        const Tensor none = ctc_loss(lp, targets, tensor(std::vector<std::int64_t>{0, 0}, {2}),
                                     tensor(std::vector<std::int64_t>{0, 2}, {2}), 0, Reduction::None);
        CHECK(none.to_vector<float>()[0] == 0.0f);
        CHECK(std::isinf(none.to_vector<float>()[1]));
    }
}
