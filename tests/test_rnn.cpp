// Recurrent layers (modules/src/rnn.cpp): returned and given states, and the lazy twins.
#include "test_support.hpp"

using namespace lazynn;
using namespace lazynn::nn;

TEST_SUITE("recurrent layers") {
    TEST_CASE("states: h_n and c_n agree with the output sequence; given states are used") {
        manual_seed(2);
        LSTM lstm(RNNOptions(3, 4).num_layers(2));
        const Tensor x = randn({5, 2, 3});
        const RNNResult r = lstm.forward_with_state(x);
        CHECK(r.output.shape() == Shape{5, 2, 4});
        CHECK(r.h_n.shape() == Shape{2, 2, 4});
        CHECK(r.c_n.shape() == Shape{2, 2, 4});
        CHECK(equal(r.h_n.select(0, 1), r.output.select(0, 4)));
        // Continuing from the returned state equals running the whole sequence at once.
        const RNNResult first = lstm(x.narrow(0, 0, 3), Tensor(), Tensor());
        const RNNResult rest = lstm(x.narrow(0, 3, 2), first.h_n, first.c_n);
        CHECK(allclose(rest.output, r.output.narrow(0, 3, 2), 1e-5, 1e-6));
        CHECK_THROWS_AS(lstm(x, zeros({1, 2, 4}), Tensor()), ShapeError);
        LAZYNN_CHECK_THROWS_WITH_SUBSTR(lstm(randn({5, 2, 7})), ShapeError,
                                        "input.size(-1) must be equal to input_size. Expected 3, got 7");
        CHECK(lstm.str() == "LSTM(3, 4, num_layers=2)");
        CHECK(lstm.named_parameters()[4].first == "weight_ih_l1");
    }

    TEST_CASE("lazy recurrent layers infer input_size and load checkpoints") {
        manual_seed(6);
        LSTM eager(RNNOptions(7, 5).bidirectional(true));
        manual_seed(6);
        LazyLSTM lazy(RNNOptions(0, 5).bidirectional(true));
        CHECK(lazy.str() == "LazyLSTM(0, 5, bidirectional=True)");
        const Tensor x = randn({4, 2, 7});
        CHECK(equal(lazy(x), eager(x)));
        CHECK(lazy.name() == "LSTM");
        CHECK(lazy.str() == "LSTM(7, 5, bidirectional=True)");
        LazyGRU gru(8);
        CHECK(gru(randn({3, 6})).shape() == Shape{3, 8});  // unbatched
        LazyRNN loaded(5);
        loaded.load_state_dict(RNN(9, 5).state_dict());
        CHECK(loaded.str() == "RNN(9, 5)");
        LazyLSTMCell cell(6);
        CHECK(cell.step(randn({2, 3})).c_n.shape() == Shape{2, 6});
        CHECK(cell.input_size() == 3);
        CHECK(cell.name() == "LSTMCell");
        LazyGRUCell gcell(4);
        CHECK(gcell(randn({2, 5})).shape() == Shape{2, 4});
        LazyRNNCell rcell(4);
        rcell.load_state_dict(RNNCell(3, 4).state_dict());
        CHECK(rcell.input_size() == 3);
    }
}
