#pragma once
// Recurrent layers: RNN (tanh/relu), LSTM (with proj_size), GRU, multi-layer, bidirectional,
// batch_first, dropout between layers; the cells RNNCell, LSTMCell, GRUCell; and lazy twins that
// infer input_size from the last dimension of the first input (pytorch#69756). Parameter names
// are PyTorch's (weight_ih_l0, weight_hh_l1_reverse, weight_hr_l0, ...) so checkpoints map one to one.

#include <lazynn/arg.hpp>
#include <lazynn/lazy.hpp>
#include <lazynn/module.hpp>

#include <cstdint>
#include <optional>
#include <vector>
#include <string>
#include <utility>

namespace lazynn::nn {

/// RNN's element-wise nonlinearity: PyTorch's nonlinearity='tanh' or 'relu'.
enum class RNNNonlinearity { Tanh, ReLU };

/// A recurrent layer's options (PyTorch's RNN/LSTM/GRU(input_size, hidden_size, num_layers=1,
/// nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0, bidirectional=False, proj_size=0)).
struct RNNOptions {
    RNNOptions(std::int64_t input_size, std::int64_t hidden_size)
        : input_size_(input_size), hidden_size_(hidden_size) {}
    LAZYNN_ARG(std::int64_t, input_size);
    LAZYNN_ARG(std::int64_t, hidden_size);
    LAZYNN_ARG(std::int64_t, num_layers) = 1;
    /// RNN only.
    LAZYNN_ARG(RNNNonlinearity, nonlinearity) = RNNNonlinearity::Tanh;
    LAZYNN_ARG(bool, bias) = true;
    LAZYNN_ARG(bool, batch_first) = false;
    LAZYNN_ARG(double, dropout) = 0.0;
    LAZYNN_ARG(bool, bidirectional) = false;
    /// LSTM only: project the hidden state to this size (0 = off).
    LAZYNN_ARG(std::int64_t, proj_size) = 0;
};

/// A lazy recurrent layer's options: RNNOptions without input_size (inferred from input.size(-1)).
struct LazyRNNOptions {
    explicit LazyRNNOptions(std::int64_t hidden_size) : rnn_(0, hidden_size) {}
    LazyRNNOptions& num_layers(std::int64_t v) {
        rnn_.num_layers(v);
        return *this;
    }
    LazyRNNOptions& nonlinearity(RNNNonlinearity v) {
        rnn_.nonlinearity(v);
        return *this;
    }
    LazyRNNOptions& bias(bool v) {
        rnn_.bias(v);
        return *this;
    }
    LazyRNNOptions& batch_first(bool v) {
        rnn_.batch_first(v);
        return *this;
    }
    LazyRNNOptions& dropout(double v) {
        rnn_.dropout(v);
        return *this;
    }
    LazyRNNOptions& bidirectional(bool v) {
        rnn_.bidirectional(v);
        return *this;
    }
    LazyRNNOptions& proj_size(std::int64_t v) {
        rnn_.proj_size(v);
        return *this;
    }
    /// The concrete layer's options, input_size 0 until the first forward.
    const RNNOptions& rnn_options() const { return rnn_; }

private:
    RNNOptions rnn_;
};

/// What a recurrent layer returns: the output sequence and the final hidden (and cell) state.
///
/// Example:
///     nn::LSTM lstm(nn::RNNOptions(10, 20).num_layers(2));
///     nn::RNNResult r = lstm(x, h0, c0);   // x [T, N, 10] -> r.output [T, N, 20]; r.h_n, r.c_n [2, N, 20]
struct RNNResult {
    Tensor output;  // [T, N, D*H_out] ([N, T, D*H_out] with batch_first; [T, D*H_out] unbatched)
    Tensor h_n;     // [D*num_layers, N, H_out]
    Tensor c_n;     // LSTM only: [D*num_layers, N, hidden_size]
};

/// The shared implementation; `mode` is "RNN_TANH", "RNN_RELU", "LSTM" or "GRU".
class RNNBase : public Module {
public:
    /// Shapes: input [T, N, input_size] (or [N, T, .] with batch_first, or unbatched [T, input_size]);
    /// h0 [D*num_layers, N, H_out] and, for LSTM, c0 [D*num_layers, N, hidden_size]; zeros when undefined.
    RNNResult forward_with_state(const Tensor& input, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());
    /// The output sequence only (what a container calls). Call the module (operator()) rather than
    /// forward_with_state directly, so hooks (and lazy initialisation) run.
    Tensor forward(const Tensor& input) override { return forward_with_state(input).output; }
    RNNResult operator()(const Tensor& input, const Tensor& h0, const Tensor& c0 = Tensor());
    using Module::operator();
    /// requires: every parameter materialised (the uninitialised first-layer input weights are
    /// skipped). ensures: each redrawn from the module's seed, U(-1/sqrt(hidden), 1/sqrt(hidden)).
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const RNNOptions& options() const { return options_; }

protected:
    RNNBase(std::string mode, RNNOptions options, bool lazy);
    std::int64_t gates() const;
    std::int64_t output_hidden() const {
        return options_.proj_size() > 0 ? options_.proj_size() : options_.hidden_size();
    }
    /// Materialises the first layer's input weights [gates*hidden, input_size] (the lazy protocol).
    void materialize_from_options();
    std::string mode_;
    RNNOptions options_;
};

/// Elman RNN: h_t = tanh (or relu)(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).
///
/// Example:
///     nn::RNN rnn(nn::RNNOptions(4, 8).nonlinearity(nn::RNNNonlinearity::ReLU));   // [T, N, 4] -> [T, N, 8]
class RNN : public RNNBase {
    LAZYNN_MODULE(RNN)
public:
    explicit RNN(RNNOptions options);
    RNN(std::int64_t input_size, std::int64_t hidden_size) : RNN(RNNOptions(input_size, hidden_size)) {}

protected:
    RNN(RNNOptions options, Uninitialized);
};

/// Long short-term memory (with proj_size: LSTMP).
///
/// Example:
///     nn::LSTM lstm(nn::RNNOptions(4, 8).num_layers(2).batch_first(true));   // result.output, h_n, c_n
class LSTM : public RNNBase {
    LAZYNN_MODULE(LSTM)
public:
    explicit LSTM(RNNOptions options);
    LSTM(std::int64_t input_size, std::int64_t hidden_size) : LSTM(RNNOptions(input_size, hidden_size)) {}

protected:
    LSTM(RNNOptions options, Uninitialized);
};

/// Gated recurrent unit.
///
/// Example:
///     nn::GRU gru(nn::RNNOptions(4, 8).bidirectional(true));   // output [T, N, 16]
class GRU : public RNNBase {
    LAZYNN_MODULE(GRU)
public:
    explicit GRU(RNNOptions options);
    GRU(std::int64_t input_size, std::int64_t hidden_size) : GRU(RNNOptions(input_size, hidden_size)) {}

protected:
    GRU(RNNOptions options, Uninitialized);
};

/// The lazy twin of RNN, LSTM or GRU (pytorch#69756): input_size = input.size(-1).
///
/// Example:
///     nn::LazyLSTM lstm(nn::LazyRNNOptions(8).num_layers(2));
///     auto out = lstm(randn({5, 3, 4}));   // now LSTM(4, 8, num_layers=2)
template <class Recurrent>
class LazyRecurrent : public Lazy<Recurrent> {
    LAZYNN_MODULE(LazyRecurrent)
public:
    explicit LazyRecurrent(const LazyRNNOptions& options) : Lazy<Recurrent>(options.rnn_options()) {}
    /// The older form: input_size in the options is ignored (pass 0); prefer LazyRNNOptions.
    explicit LazyRecurrent(RNNOptions options) : Lazy<Recurrent>(options.input_size(0)) {}
    explicit LazyRecurrent(std::int64_t hidden_size) : LazyRecurrent(LazyRNNOptions(hidden_size)) {}

protected:
    void infer_options(const std::vector<Tensor>& inputs) override;
    /// input_size = weight_ih_l0.size(1).
    void lazy_load_finalize() override;
};
using LazyRNN = LazyRecurrent<RNN>;
using LazyLSTM = LazyRecurrent<LSTM>;
using LazyGRU = LazyRecurrent<GRU>;

/// A recurrent cell's options (PyTorch's RNNCell/LSTMCell/GRUCell(input_size, hidden_size, bias=True),
/// and RNNCell's nonlinearity='tanh').
struct RNNCellOptions {
    RNNCellOptions(std::int64_t input_size, std::int64_t hidden_size)
        : input_size_(input_size), hidden_size_(hidden_size) {}
    LAZYNN_ARG(std::int64_t, input_size);
    LAZYNN_ARG(std::int64_t, hidden_size);
    LAZYNN_ARG(bool, bias) = true;
    /// RNNCell only (LSTMCell and GRUCell have fixed gates: ValueError for ReLU).
    LAZYNN_ARG(RNNNonlinearity, nonlinearity) = RNNNonlinearity::Tanh;
};

/// One step of a recurrence: RNNCell, LSTMCell, GRUCell (weights weight_ih, weight_hh, bias_ih, bias_hh).
class RNNCellBase : public Module {
public:
    /// Shapes: input [N, input_size] or [input_size]; h [N, hidden] -> h' (and c' for LSTMCell).
    /// Runs the hooks (so a lazy cell initialises here too).
    RNNResult step(const Tensor& input, const Tensor& h = Tensor(), const Tensor& c = Tensor());
    Tensor forward(const Tensor& input) override { return step_impl(input, Tensor(), Tensor()).h_n; }
    /// requires: every parameter materialised (an uninitialised weight_ih is skipped). ensures:
    /// each redrawn from the module's seed, U(-1/sqrt(hidden), 1/sqrt(hidden)).
    virtual void reset_parameters();
    std::string extra_repr() const override;
    std::int64_t input_size() const { return options_.input_size(); }
    const RNNCellOptions& options() const { return options_; }

    Parameter weight_ih{this, "weight_ih"};
    Parameter weight_hh{this, "weight_hh"};
    Parameter bias_ih{this, "bias_ih"};
    Parameter bias_hh{this, "bias_hh"};

protected:
    RNNResult step_impl(const Tensor& input, const Tensor& h, const Tensor& c);
    RNNCellBase(std::string mode, RNNCellOptions options, bool lazy, const char* name);
    /// Materialises weight_ih [gates*hidden, input_size] (the lazy protocol).
    void materialize_from_options();
    std::int64_t gates() const;
    std::string mode_;
    RNNCellOptions options_;
};

/// One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), or relu with
/// RNNCellOptions::nonlinearity(RNNNonlinearity::ReLU).
///
/// Example:
///     nn::RNNCell cell(4, 8);   auto r = cell.step(x, h);   // r.h_n [N, 8]
///     nn::RNNCell relu_cell(nn::RNNCellOptions(4, 8).nonlinearity(nn::RNNNonlinearity::ReLU));
class RNNCell : public RNNCellBase {
    LAZYNN_MODULE(RNNCell)
public:
    explicit RNNCell(RNNCellOptions options) : RNNCellBase(mode_of(options), options, false, "RNNCell") {}
    RNNCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true)
        : RNNCell(RNNCellOptions(input_size, hidden_size).bias(bias)) {}

protected:
    RNNCell(RNNCellOptions options, Uninitialized) : RNNCellBase(mode_of(options), options, true, "RNNCell") {}

private:
    static const char* mode_of(const RNNCellOptions& o) {
        return o.nonlinearity() == RNNNonlinearity::ReLU ? "RNN_RELU" : "RNN_TANH";
    }
};

/// One LSTM step.
///
/// Example:
///     nn::LSTMCell cell(4, 8);   auto r = cell.step(x, h, c);   // r.h_n, r.c_n
class LSTMCell : public RNNCellBase {
    LAZYNN_MODULE(LSTMCell)
public:
    explicit LSTMCell(RNNCellOptions options) : RNNCellBase("LSTM", options, false, "LSTMCell") {}
    LSTMCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true)
        : LSTMCell(RNNCellOptions(input_size, hidden_size).bias(bias)) {}

protected:
    LSTMCell(RNNCellOptions options, Uninitialized) : RNNCellBase("LSTM", options, true, "LSTMCell") {}
};

/// One GRU step.
///
/// Example:
///     nn::GRUCell cell(4, 8);   auto r = cell.step(x, h);
class GRUCell : public RNNCellBase {
    LAZYNN_MODULE(GRUCell)
public:
    explicit GRUCell(RNNCellOptions options) : RNNCellBase("GRU", options, false, "GRUCell") {}
    GRUCell(std::int64_t input_size, std::int64_t hidden_size, bool bias = true)
        : GRUCell(RNNCellOptions(input_size, hidden_size).bias(bias)) {}

protected:
    GRUCell(RNNCellOptions options, Uninitialized) : RNNCellBase("GRU", options, true, "GRUCell") {}
};

/// The lazy twin of a cell: input_size = input.size(-1).
///
/// Example:
///     nn::LazyLSTMCell cell(8);
///     auto r = cell.step(randn({3, 4}));   // now LSTMCell(4, 8)
template <class Cell>
class LazyCell : public Lazy<Cell> {
    LAZYNN_MODULE(LazyCell)
public:
    explicit LazyCell(std::int64_t hidden_size, bool bias = true)
        : Lazy<Cell>(RNNCellOptions(0, hidden_size).bias(bias)) {}
    /// Every other option (LazyRNNCell's nonlinearity); input_size is inferred, whatever it says.
    explicit LazyCell(RNNCellOptions options) : Lazy<Cell>(options.input_size(0)) {}

protected:
    void infer_options(const std::vector<Tensor>& inputs) override { this->options_.input_size(inputs[0].size(-1)); }
    /// input_size = weight_ih.size(1).
    void lazy_load_finalize() override { this->options_.input_size(this->weight_ih.size(1)); }
};
using LazyRNNCell = LazyCell<RNNCell>;
using LazyLSTMCell = LazyCell<LSTMCell>;
using LazyGRUCell = LazyCell<GRUCell>;

extern template class LazyRecurrent<RNN>;
extern template class LazyRecurrent<LSTM>;
extern template class LazyRecurrent<GRU>;

}  // namespace lazynn::nn
