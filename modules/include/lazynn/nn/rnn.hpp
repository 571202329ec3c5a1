#pragma once
// Recurrent layers: RNN (tanh/relu), LSTM (with proj_size), GRU, multi-layer, bidirectional,
// batch_first, dropout between layers; the cells RNNCell, LSTMCell, GRUCell; and lazy twins that
// infer input_size from the last dimension of the first input (pytorch#69756). Parameter names
// are PyTorch's (weight_ih_l0, weight_hh_l1_reverse, weight_hr_l0, ...) so checkpoints map one to one.

#include <lazynn/module.hpp>

#include <optional>
#include <string>
#include <utility>

namespace lazynn::nn {

struct RNNOptions {
    RNNOptions(std::int64_t input_size, std::int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
    RNNOptions& num_layers(std::int64_t v) { num_layers_ = v; return *this; }
    /// "tanh" or "relu" (RNN only).
    RNNOptions& nonlinearity(std::string v) { nonlinearity_ = std::move(v); return *this; }
    RNNOptions& bias(bool v) { bias_ = v; return *this; }
    RNNOptions& batch_first(bool v) { batch_first_ = v; return *this; }
    RNNOptions& dropout(double v) { dropout_ = v; return *this; }
    RNNOptions& bidirectional(bool v) { bidirectional_ = v; return *this; }
    /// LSTM only: project the hidden state to this size (0 = off).
    RNNOptions& proj_size(std::int64_t v) { proj_size_ = v; return *this; }
    std::int64_t input_size_, hidden_size_;
    std::int64_t num_layers_ = 1;
    std::string nonlinearity_ = "tanh";
    bool bias_ = true, batch_first_ = false;
    double dropout_ = 0.0;
    bool bidirectional_ = false;
    std::int64_t proj_size_ = 0;
};

/// A lazy recurrent layer's options: RNNOptions without input_size (inferred from input.size(-1)).
struct LazyRNNOptions {
    explicit LazyRNNOptions(std::int64_t hidden_size) : rnn_(0, hidden_size) {}
    LazyRNNOptions& num_layers(std::int64_t v) { rnn_.num_layers(v); return *this; }
    LazyRNNOptions& nonlinearity(std::string v) { rnn_.nonlinearity(std::move(v)); return *this; }
    LazyRNNOptions& bias(bool v) { rnn_.bias(v); return *this; }
    LazyRNNOptions& batch_first(bool v) { rnn_.batch_first(v); return *this; }
    LazyRNNOptions& dropout(double v) { rnn_.dropout(v); return *this; }
    LazyRNNOptions& bidirectional(bool v) { rnn_.bidirectional(v); return *this; }
    LazyRNNOptions& proj_size(std::int64_t v) { rnn_.proj_size(v); return *this; }
    /// The concrete layer's options, input_size 0 until the first forward.
    const RNNOptions& rnn_options() const { return rnn_; }

private:
    RNNOptions rnn_;
};

struct RNNResult {
    Tensor output;   // [T, N, D*H_out] ([N, T, D*H_out] with batch_first; [T, D*H_out] unbatched)
    Tensor h_n;      // [D*num_layers, N, H_out]
    Tensor c_n;      // LSTM only: [D*num_layers, N, hidden_size]
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
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const RNNOptions& options() const { return options_; }

protected:
    struct Uninitialized {};
    RNNBase(std::string mode, RNNOptions options, bool lazy);
    std::int64_t gates() const;
    std::int64_t output_hidden() const { return options_.proj_size_ > 0 ? options_.proj_size_ : options_.hidden_size_; }
    void materialize_first_layer(std::int64_t input_size);
    std::string mode_;
    RNNOptions options_;
};

class RNN : public RNNBase {
    LAZYNN_MODULE(RNN)
public:
    explicit RNN(RNNOptions options);
    RNN(std::int64_t input_size, std::int64_t hidden_size) : RNN(RNNOptions(input_size, hidden_size)) {}

protected:
    RNN(RNNOptions options, Uninitialized);
};

class LSTM : public RNNBase {
    LAZYNN_MODULE(LSTM)
public:
    explicit LSTM(RNNOptions options);
    LSTM(std::int64_t input_size, std::int64_t hidden_size) : LSTM(RNNOptions(input_size, hidden_size)) {}

protected:
    LSTM(RNNOptions options, Uninitialized);
};

class GRU : public RNNBase {
    LAZYNN_MODULE(GRU)
public:
    explicit GRU(RNNOptions options);
    GRU(std::int64_t input_size, std::int64_t hidden_size) : GRU(RNNOptions(input_size, hidden_size)) {}

protected:
    GRU(RNNOptions options, Uninitialized);
};

#define LAZYNN_LAZY_RNN(Class, Concrete)                                                                    \
    class Class : public Concrete {                                                                         \
        LAZYNN_MODULE(Class)                                                                                \
    public:                                                                                                 \
        explicit Class(const LazyRNNOptions& options) : Class(options.rnn_options()) {}                     \
        /** The older form: input_size in the options is ignored (pass 0); prefer LazyRNNOptions. */        \
        explicit Class(RNNOptions options);                                                                 \
        explicit Class(std::int64_t hidden_size) : Class(RNNOptions(0, hidden_size)) {}                     \
        void initialize_parameters(const std::vector<Tensor>& inputs) override;                             \
        void reset_parameters() override;                                                                   \
                                                                                                            \
    protected:                                                                                              \
        void lazy_load_finalize() override;                                                                 \
    }

LAZYNN_LAZY_RNN(LazyRNN, RNN);
LAZYNN_LAZY_RNN(LazyLSTM, LSTM);
LAZYNN_LAZY_RNN(LazyGRU, GRU);
#undef LAZYNN_LAZY_RNN

/// One step of a recurrence: RNNCell, LSTMCell, GRUCell (weights weight_ih, weight_hh, bias_ih, bias_hh).
class RNNCellBase : public Module {
public:
    /// Shapes: input [N, input_size] or [input_size]; h [N, hidden] -> h' (and c' for LSTMCell).
    /// Runs the hooks (so a lazy cell initialises here too).
    RNNResult step(const Tensor& input, const Tensor& h = Tensor(), const Tensor& c = Tensor());
    Tensor forward(const Tensor& input) override { return step_impl(input, Tensor(), Tensor()).h_n; }
    virtual void reset_parameters();
    std::string extra_repr() const override;
    std::int64_t input_size() const { return input_size_; }

    Parameter weight_ih{this, "weight_ih"};
    Parameter weight_hh{this, "weight_hh"};
    Parameter bias_ih{this, "bias_ih"};
    Parameter bias_hh{this, "bias_hh"};

protected:
    RNNResult step_impl(const Tensor& input, const Tensor& h, const Tensor& c);
    RNNCellBase(std::string mode, std::int64_t input_size, std::int64_t hidden_size, bool bias, bool lazy);
    std::int64_t gates() const;
    std::string mode_;
    std::int64_t input_size_, hidden_size_;
    bool bias_;
};

#define LAZYNN_RNN_CELL(Class, Mode)                                                                          \
    class Class : public RNNCellBase {                                                                        \
        LAZYNN_MODULE(Class)                                                                                  \
    public:                                                                                                   \
        Class(std::int64_t input_size, std::int64_t hidden_size, bool bias = true)                            \
            : RNNCellBase(Mode, input_size, hidden_size, bias, false) { set_name(#Class); }                   \
                                                                                                              \
    protected:                                                                                                \
        struct Uninitialized {};                                                                              \
        Class(std::int64_t hidden_size, bool bias, Uninitialized) : RNNCellBase(Mode, 0, hidden_size, bias, true) {} \
    }

LAZYNN_RNN_CELL(RNNCell, "RNN_TANH");
LAZYNN_RNN_CELL(LSTMCell, "LSTM");
LAZYNN_RNN_CELL(GRUCell, "GRU");
#undef LAZYNN_RNN_CELL

#define LAZYNN_LAZY_CELL(Class, Concrete)                                                                     \
    class Class : public Concrete {                                                                           \
        LAZYNN_MODULE(Class)                                                                                  \
    public:                                                                                                   \
        explicit Class(std::int64_t hidden_size, bool bias = true);                                           \
        void initialize_parameters(const std::vector<Tensor>& inputs) override;                               \
        void reset_parameters() override;                                                                     \
                                                                                                              \
    protected:                                                                                                \
        void lazy_load_finalize() override { input_size_ = weight_ih.size(1); }                               \
    }

LAZYNN_LAZY_CELL(LazyRNNCell, RNNCell);
LAZYNN_LAZY_CELL(LazyLSTMCell, LSTMCell);
LAZYNN_LAZY_CELL(LazyGRUCell, GRUCell);
#undef LAZYNN_LAZY_CELL

}  // namespace lazynn::nn
