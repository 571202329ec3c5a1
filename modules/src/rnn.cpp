// Recurrent layers built from differentiable tensor ops: the input projection of every time step
// is one GEMM per layer and direction; each step adds the recurrent projection and applies the gates.
#include <lazynn/autocast.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/functional.hpp>
#include <lazynn/nn/rnn.hpp>

#include <cmath>
#include <cstdio>
#include <optional>

namespace lazynn::nn {
namespace {

struct StepResult {
    Tensor h, c;
};

std::int64_t gate_count(const std::string& mode) { return mode == "LSTM" ? 4 : mode == "GRU" ? 3 : 1; }

/// One recurrence step from the precomputed input projection `xp` ([N, G*H], bias included).
StepResult cell(const std::string& mode, const Tensor& xp, const Tensor& h, const Tensor& c, const Tensor& w_hh,
                const Tensor& b_hh, const Tensor& w_hr) {
    const Tensor hp = functional::linear(h, w_hh, b_hh);
    if (mode == "LSTM") {
        const Tensor g = xp + hp;
        const auto parts = g.chunk(4, 1);
        const Tensor i = parts[0].sigmoid(), f = parts[1].sigmoid(), cand = parts[2].tanh(), o = parts[3].sigmoid();
        const Tensor c_next = f * c + i * cand;
        Tensor h_next = o * c_next.tanh();
        if (w_hr.defined()) h_next = functional::linear(h_next, w_hr);
        return {h_next, c_next};
    }
    if (mode == "GRU") {
        const auto xs = xp.chunk(3, 1);
        const auto hs = hp.chunk(3, 1);
        const Tensor r = (xs[0] + hs[0]).sigmoid(), z = (xs[1] + hs[1]).sigmoid();
        const Tensor n = (xs[2] + r * hs[2]).tanh();
        return {(1.0 - z) * n + z * h, Tensor()};
    }
    const Tensor pre = xp + hp;
    return {mode == "RNN_RELU" ? pre.relu() : pre.tanh(), Tensor()};
}

std::string suffix(std::int64_t layer, std::int64_t direction) {
    return "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
}

}  // namespace

RNNBase::RNNBase(std::string mode, RNNOptions options, bool lazy)
    : mode_(std::move(mode)), options_(std::move(options)) {
    const auto& o = options_;
    set_name(mode_ == "LSTM" ? "LSTM" : mode_ == "GRU" ? "GRU" : "RNN");
    if (o.dropout() < 0 || o.dropout() > 1)
        throw ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an element being zeroed");
    if (o.hidden_size() <= 0) throw ValueError("hidden_size must be greater than zero");
    if (o.num_layers() <= 0) throw ValueError("num_layers must be greater than zero");
    if (o.proj_size() < 0) throw ValueError("proj_size should be a positive integer or zero to disable projections");
    if (o.proj_size() > 0 && mode_ != "LSTM")
        throw ValueError("proj_size argument is only supported for LSTM, not RNN or GRU");
    if (o.proj_size() >= o.hidden_size() && o.proj_size() > 0)
        throw ValueError("proj_size has to be smaller than hidden_size");
    const std::int64_t dirs = o.bidirectional() ? 2 : 1, g = gates(), h_out = output_hidden();
    for (std::int64_t l = 0; l < o.num_layers(); ++l) {
        for (std::int64_t d = 0; d < dirs; ++d) {
            const std::string s = suffix(l, d);
            const std::int64_t in = l == 0 ? o.input_size() : h_out * dirs;
            register_parameter("weight_ih" + s,
                               lazy && l == 0 ? Tensor(UninitializedParameter()) : empty({g * o.hidden_size(), in}));
            register_parameter("weight_hh" + s, empty({g * o.hidden_size(), h_out}));
            if (o.bias()) {
                register_parameter("bias_ih" + s, empty({g * o.hidden_size()}));
                register_parameter("bias_hh" + s, empty({g * o.hidden_size()}));
            }
            if (o.proj_size() > 0) register_parameter("weight_hr" + s, empty({o.proj_size(), o.hidden_size()}));
        }
    }
    if (!lazy) reset_parameters();
}

std::int64_t RNNBase::gates() const { return gate_count(mode_); }

void RNNBase::reset_parameters() {
    // PyTorch: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
    Generator gen = init_generator();
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.hidden_size()));
    for (auto& [name, p] : named_parameters("", false)) {
        if (!is_lazy(p)) init::uniform_(p, -bound, bound, gen);
    }
}

void RNNBase::materialize_from_options() {
    const std::int64_t dirs = options_.bidirectional() ? 2 : 1;
    for (std::int64_t d = 0; d < dirs; ++d) {
        Parameter& w = get_parameter("weight_ih" + suffix(0, d));
        if (is_lazy(w)) w.materialize({gates() * options_.hidden_size(), options_.input_size()});
    }
}

RNNResult RNNBase::forward_with_state(const Tensor& input, const Tensor& h0_given, const Tensor& c0_given) {
    // PyTorch 1.13's CPU autocast lowers the plain RNN (its input and weights run in bfloat16, here
    // through the linear steps it is made of) and leaves LSTM and GRU in their input's dtype: a
    // float32 input runs in float32, a bfloat16 one runs its cells' linear steps in bfloat16 (as
    // PyTorch's cells, made of autocast's linear, do) and the rest follows them.
    const bool lowered = is_autocast_enabled() && (mode_ == "RNN" || input.dtype() == kBFloat16);
    std::optional<AutocastGuard> autocast_off;
    if (!lowered) {
        autocast_off.emplace(false);
        check_input_dtype(input, get_parameter("weight_hh_l0"), "mat1 and mat2 must have the same dtype");
    }
    const auto& o = options_;
    if (input.dim() != 2 && input.dim() != 3) {
        throw ShapeError(name() + ": Expected input to be 2D (unbatched) or 3D (batched), got " +
                         std::to_string(input.dim()) + "D input of shape " + shape_to_list(input.shape()));
    }
    const bool unbatched = input.dim() == 2;
    Tensor x = unbatched ? input.unsqueeze(1) : (o.batch_first() ? input.transpose(0, 1) : input);
    if (x.size(2) != o.input_size()) {
        throw ShapeError(name() + "(" + extra_repr() + "): input.size(-1) must be equal to input_size. Expected " +
                         std::to_string(o.input_size()) + ", got " + std::to_string(x.size(2)));
    }
    const std::int64_t steps = x.size(0), batch = x.size(1), dirs = o.bidirectional() ? 2 : 1, h_out = output_hidden();
    auto state = [&](const Tensor& given, std::int64_t width, const char* what) {
        if (!given.defined()) return zeros({o.num_layers() * dirs, batch, width}, x.dtype());
        Tensor s = unbatched ? given.unsqueeze(1) : given;
        const Shape expected{o.num_layers() * dirs, batch, width};
        if (s.shape() != expected) {
            throw ShapeError(name() + ": Expected " + what + " size " + shape_to_list(expected) + ", got " +
                             shape_to_list(s.shape()));
        }
        return s;
    };
    const Tensor h0 = state(h0_given, h_out, "hidden");
    const Tensor c0 = mode_ == "LSTM" ? state(c0_given, o.hidden_size(), "cell") : Tensor();

    Tensor layer_input = x;
    std::vector<Tensor> h_n, c_n;
    for (std::int64_t l = 0; l < o.num_layers(); ++l) {
        std::vector<Tensor> direction_outputs;
        for (std::int64_t d = 0; d < dirs; ++d) {
            const std::string s = suffix(l, d);
            const Tensor w_ih = get_parameter("weight_ih" + s), w_hh = get_parameter("weight_hh" + s);
            const Tensor b_ih = o.bias() ? Tensor(get_parameter("bias_ih" + s)) : Tensor();
            const Tensor b_hh = o.bias() ? Tensor(get_parameter("bias_hh" + s)) : Tensor();
            const Tensor w_hr = o.proj_size() > 0 ? Tensor(get_parameter("weight_hr" + s)) : Tensor();
            const Tensor xp = functional::linear(layer_input.reshape({steps * batch, layer_input.size(2)}), w_ih, b_ih)
                                  .reshape({steps, batch, gates() * o.hidden_size()});
            Tensor h = h0.select(0, l * dirs + d), c = c0.defined() ? c0.select(0, l * dirs + d) : Tensor();
            // unbind, not a select per step: its pieces share one gradient, so the backward stays
            // linear in the number of steps.
            const std::vector<Tensor> xp_steps = xp.unbind(0);
            std::vector<Tensor> outputs(static_cast<std::size_t>(steps));
            for (std::int64_t k = 0; k < steps; ++k) {
                const std::int64_t t = d == 0 ? k : steps - 1 - k;
                const StepResult r = cell(mode_, xp_steps[static_cast<std::size_t>(t)], h, c, w_hh, b_hh, w_hr);
                h = r.h;
                c = r.c;
                outputs[static_cast<std::size_t>(t)] = h;
            }
            direction_outputs.push_back(stack(outputs, 0));
            h_n.push_back(h);
            if (c.defined()) c_n.push_back(c);
        }
        layer_input = dirs == 2 ? cat(direction_outputs, 2) : direction_outputs[0];
        if (o.dropout() > 0 && is_training() && l + 1 < o.num_layers())
            layer_input = functional::dropout(layer_input, o.dropout(), true);
    }
    Tensor output = layer_input;
    if (unbatched)
        output = output.squeeze(1);
    else if (o.batch_first())
        output = output.transpose(0, 1);
    RNNResult result{output, stack(h_n, 0), c_n.empty() ? Tensor() : stack(c_n, 0)};
    if (unbatched) {
        result.h_n = result.h_n.squeeze(1);
        if (result.c_n.defined()) result.c_n = result.c_n.squeeze(1);
    }
    return result;
}

RNNResult RNNBase::operator()(const Tensor& input, const Tensor& h0, const Tensor& c0) {
    RNNResult result;
    // A forward hook's replacement output replaces result.output.
    result.output = call_with_hooks({input, h0, c0}, [&](const std::vector<Tensor>& in) {
        result = forward_with_state(in[0], in[1], in[2]);
        return result.output;
    });
    return result;
}

std::string RNNBase::extra_repr() const {
    const auto& o = options_;
    std::string s = std::to_string(o.input_size()) + ", " + std::to_string(o.hidden_size());
    if (o.proj_size() != 0) s += ", proj_size=" + std::to_string(o.proj_size());
    if (o.num_layers() != 1) s += ", num_layers=" + std::to_string(o.num_layers());
    if (!o.bias()) s += ", bias=False";
    if (o.batch_first()) s += ", batch_first=True";
    if (o.dropout() != 0) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, ", dropout=%g", o.dropout());
        s += buffer;
    }
    if (o.bidirectional()) s += ", bidirectional=True";
    return s;
}

namespace {
std::string rnn_mode(const RNNOptions& o) {
    return o.nonlinearity() == RNNNonlinearity::ReLU ? "RNN_RELU" : "RNN_TANH";
}
}  // namespace

RNN::RNN(RNNOptions options) : RNNBase(rnn_mode(options), options, false) {}
RNN::RNN(RNNOptions options, Uninitialized) : RNNBase(rnn_mode(options), options, true) {}
LSTM::LSTM(RNNOptions options) : RNNBase("LSTM", std::move(options), false) {}
LSTM::LSTM(RNNOptions options, Uninitialized) : RNNBase("LSTM", std::move(options), true) {}
GRU::GRU(RNNOptions options) : RNNBase("GRU", std::move(options), false) {}
GRU::GRU(RNNOptions options, Uninitialized) : RNNBase("GRU", std::move(options), true) {}

template <class Recurrent>
void LazyRecurrent<Recurrent>::infer_options(const std::vector<Tensor>& inputs) {
    if (inputs[0].dim() != 2 && inputs[0].dim() != 3) {
        throw ShapeError(this->name() + ": Expected input to be 2D (unbatched) or 3D (batched), got " +
                         shape_to_list(inputs[0].shape()));
    }
    this->options_.input_size(inputs[0].size(-1));
}

template <class Recurrent>
void LazyRecurrent<Recurrent>::lazy_load_finalize() {
    this->options_.input_size(this->get_parameter("weight_ih_l0").size(1));
}

template class LazyRecurrent<RNN>;
template class LazyRecurrent<LSTM>;
template class LazyRecurrent<GRU>;

// ---- cells ----

RNNCellBase::RNNCellBase(std::string mode, RNNCellOptions options, bool lazy, const char* name)
    : mode_(std::move(mode)), options_(options) {
    set_name(name);
    if ((mode_ == "LSTM" || mode_ == "GRU") && options_.nonlinearity() != RNNNonlinearity::Tanh)
        throw ValueError(std::string(name) + ": the nonlinearity option is RNNCell's; " + name + " has fixed gates");
    const std::int64_t g = gates(), hidden = options_.hidden_size();
    weight_ih = lazy ? Parameter(UninitializedParameter()) : Parameter(empty({g * hidden, options_.input_size()}));
    weight_hh = Parameter(empty({g * hidden, hidden}));
    if (options_.bias()) {
        bias_ih = Parameter(empty({g * hidden}));
        bias_hh = Parameter(empty({g * hidden}));
    }
    if (!lazy) reset_parameters();
}

void RNNCellBase::materialize_from_options() {
    if (is_lazy(weight_ih)) weight_ih.materialize({gates() * options_.hidden_size(), options_.input_size()});
}

std::int64_t RNNCellBase::gates() const { return gate_count(mode_); }

void RNNCellBase::reset_parameters() {
    Generator gen = init_generator();
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.hidden_size()));
    for (auto& [name, p] : named_parameters("", false)) {
        if (!is_lazy(p)) init::uniform_(p, -bound, bound, gen);
    }
}

RNNResult RNNCellBase::step(const Tensor& input, const Tensor& h, const Tensor& c) {
    RNNResult result;
    result.h_n = call_with_hooks({input, h, c}, [&](const std::vector<Tensor>& in) {
        result = step_impl(in[0], in[1], in[2]);
        return result.h_n;
    });
    return result;
}

RNNResult RNNCellBase::step_impl(const Tensor& input, const Tensor& h_given, const Tensor& c_given) {
    check_input_dtype(input, weight_ih, "mat1 and mat2 must have the same dtype");
    if (input.dim() != 1 && input.dim() != 2) {
        throw ShapeError(name() + ": Expected input to be 1D or 2D, got " + std::to_string(input.dim()) + "D instead");
    }
    const bool unbatched = input.dim() == 1;
    const Tensor x = unbatched ? input.unsqueeze(0) : input;
    if (x.size(1) != options_.input_size()) {
        throw ShapeError(name() + "(" + extra_repr() + "): input has inconsistent input_size: got " +
                         std::to_string(x.size(1)) + " expected " + std::to_string(options_.input_size()));
    }
    auto state = [&](const Tensor& s) {
        if (!s.defined()) return zeros({x.size(0), options_.hidden_size()}, x.dtype());
        return unbatched ? s.unsqueeze(0) : s;
    };
    const Tensor xp = functional::linear(x, weight_ih, bias_ih);
    const StepResult r =
        cell(mode_, xp, state(h_given), mode_ == "LSTM" ? state(c_given) : Tensor(), weight_hh, bias_hh, Tensor());
    RNNResult result{r.h, r.h, r.c};
    if (unbatched) {
        result.output = result.h_n = r.h.squeeze(0);
        if (r.c.defined()) result.c_n = r.c.squeeze(0);
    }
    return result;
}

std::string RNNCellBase::extra_repr() const {
    std::string s = std::to_string(options_.input_size()) + ", " + std::to_string(options_.hidden_size());
    if (!options_.bias()) s += ", bias=False";
    if (mode_ == "RNN_RELU") s += ", nonlinearity=relu";  // PyTorch's repr (no quotes)
    return s;
}

}  // namespace lazynn::nn
