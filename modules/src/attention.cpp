// Multi-head attention and the Transformer encoder, composed of differentiable tensor ops.
#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/attention.hpp>
#include <lazynn/nn/container.hpp>
#include <lazynn/nn/functional.hpp>

#include <cmath>
#include <limits>
#include <utility>

namespace lazynn::nn {

Tensor causal_mask(std::int64_t size, Dtype dtype) {
    std::vector<double> values(static_cast<std::size_t>(size * size), 0.0);
    for (std::int64_t i = 0; i < size; ++i) {
        for (std::int64_t j = i + 1; j < size; ++j)
            values[static_cast<std::size_t>(i * size + j)] = -std::numeric_limits<double>::infinity();
    }
    return tensor(values, {size, size}, kFloat64).to(dtype);
}

Tensor additive_mask(const Tensor& masked) {
    const Dtype dtype = masked.is_floating_point() ? masked.dtype() : kFloat32;
    return where(masked != 0.0, full_like(masked.to(dtype), -std::numeric_limits<double>::infinity()),
                 zeros_like(masked.to(dtype)));
}

namespace {
MultiheadAttentionOptions resolved(MultiheadAttentionOptions o) {
    if (o.kdim() == 0) o.kdim(o.embed_dim());
    if (o.vdim() == 0) o.vdim(o.embed_dim());
    if (o.num_heads() <= 0 || o.embed_dim() % o.num_heads() != 0)
        throw ValueError("embed_dim must be divisible by num_heads");
    return o;
}
}  // namespace

MultiheadAttention::MultiheadAttention(MultiheadAttentionOptions options)
    : out_proj(this, "out_proj", LinearOptions(options.embed_dim(), options.embed_dim()).bias(options.bias())),
      options_(resolved(options)) {
    set_name("MultiheadAttention");
    const std::int64_t e = options_.embed_dim();
    if (packed_projections()) {
        in_proj_weight = Parameter(empty({3 * e, e}));
    } else {
        q_proj_weight = Parameter(empty({e, e}));
        k_proj_weight = Parameter(empty({e, options_.kdim()}));
        v_proj_weight = Parameter(empty({e, options_.vdim()}));
    }
    if (options_.bias()) in_proj_bias = Parameter(empty({3 * e}));
    if (options_.add_bias_kv()) {
        bias_k = Parameter(empty({1, 1, e}));
        bias_v = Parameter(empty({1, 1, e}));
    }
    reset_parameters();
}

MultiheadAttention::MultiheadAttention(MultiheadAttentionOptions options, Uninitialized)
    : out_proj(this, "out_proj", options.bias(), Uninitialized{}), options_(options) {
    set_name("MultiheadAttention");
    if (options_.separate_projections()) {
        q_proj_weight = UninitializedParameter();
        k_proj_weight = UninitializedParameter();
        v_proj_weight = UninitializedParameter();
    } else {
        in_proj_weight = UninitializedParameter();
    }
    if (options_.bias()) in_proj_bias = UninitializedParameter();
    if (options_.add_bias_kv()) {
        bias_k = UninitializedParameter();
        bias_v = UninitializedParameter();
    }
}

void MultiheadAttention::reset_parameters() {
    // PyTorch: xavier_uniform on the input projections, zero biases; out_proj keeps Linear's weight init.
    Generator gen = init_generator();
    if (packed_projections()) {
        init::xavier_uniform_(in_proj_weight, 1.0, gen);
    } else {
        init::xavier_uniform_(q_proj_weight, 1.0, gen);
        init::xavier_uniform_(k_proj_weight, 1.0, gen);
        init::xavier_uniform_(v_proj_weight, 1.0, gen);
    }
    if (options_.bias()) {
        init::zeros_(in_proj_bias);
        init::zeros_(out_proj.bias);
    }
    if (options_.add_bias_kv()) {
        init::xavier_normal_(bias_k, 1.0, gen);
        init::xavier_normal_(bias_v, 1.0, gen);
    }
}

AttentionResult MultiheadAttention::operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                               const AttentionCall& call) {
    AttentionResult result;
    result.output = call_with_hooks({query, key, value}, [&](const std::vector<Tensor>& in) {
        result = attend(in[0], in[1], in[2], call);
        return result.output;
    });
    return result;
}

Tensor MultiheadAttention::forward(const Tensor& x) {
    AttentionCall call;
    call.need_weights = false;
    return attend(x, x, x, call).output;
}

AttentionResult MultiheadAttention::attend(const Tensor& query_in, const Tensor& key_in, const Tensor& value_in,
                                           const AttentionCall& call) {
    // Every projection has the dtype of out_proj's weight (in_proj_weight is None with separate kdim/vdim).
    for (const Tensor* t : {&query_in, &key_in, &value_in})
        check_input_dtype(*t, out_proj.weight, "mat1 and mat2 must have the same dtype");
    const auto& o = options_;
    const bool unbatched = query_in.dim() == 2;
    if (query_in.dim() != 2 && query_in.dim() != 3) {
        throw ShapeError("MultiheadAttention: query should be unbatched 2D or batched 3D tensor but received " +
                         std::to_string(query_in.dim()) + "-D query tensor");
    }
    auto seq_first = [&](const Tensor& t) {
        return unbatched ? t.unsqueeze(1) : (o.batch_first() ? t.transpose(0, 1) : t);
    };
    const Tensor query = seq_first(query_in), key = seq_first(key_in), value = seq_first(value_in);
    const std::int64_t l = query.size(0), n = query.size(1), e = o.embed_dim(), h = o.num_heads(), d = e / h,
                       s = key.size(0);
    if (query.size(2) != e) {
        throw ShapeError("MultiheadAttention: was expecting embedding dimension of " + std::to_string(e) +
                         ", but got " + std::to_string(query.size(2)));
    }
    if (key.size(0) != value.size(0) || key.size(1) != n || value.size(1) != n) {
        throw ShapeError("MultiheadAttention: key shape " + shape_to_list(key_in.shape()) +
                         " does not match value shape " + shape_to_list(value_in.shape()) + " / query batch");
    }
    Tensor wq, wk, wv;
    if (packed_projections()) {
        const auto parts = in_proj_weight.chunk(3, 0);
        wq = parts[0], wk = parts[1], wv = parts[2];
    } else {
        wq = q_proj_weight, wk = k_proj_weight, wv = v_proj_weight;
    }
    Tensor bq, bk, bv;
    if (o.bias()) {
        const auto parts = in_proj_bias.chunk(3, 0);
        bq = parts[0], bk = parts[1], bv = parts[2];
    }
    // [L, N, E] -> [N*H, L, d]
    auto heads = [&](const Tensor& t, std::int64_t len) { return t.reshape({len, n * h, d}).transpose(0, 1); };
    const Tensor q = heads(functional::linear(query, wq, bq), l) * (1.0 / std::sqrt(static_cast<double>(d)));
    Tensor k_projected = functional::linear(key, wk, bk), v_projected = functional::linear(value, wv, bv);
    // add_bias_kv: one learned key/value position per batch entry, [S, N, E] -> [S + 1, N, E].
    if (o.add_bias_kv()) {
        k_projected = cat({k_projected, bias_k.expand({1, n, e})}, 0);
        v_projected = cat({v_projected, bias_v.expand({1, n, e})}, 0);
    }
    const std::int64_t s_total = s + (o.add_bias_kv() ? 1 : 0) + (o.add_zero_attn() ? 1 : 0);
    Tensor k = heads(k_projected, k_projected.size(0));
    Tensor v = heads(v_projected, v_projected.size(0));
    // add_zero_attn: one zero key/value per head, [N*H, S, d] -> [N*H, S + 1, d].
    if (o.add_zero_attn()) {
        k = cat({k, zeros({n * h, 1, d}, k.dtype())}, 1);
        v = cat({v, zeros({n * h, 1, d}, v.dtype())}, 1);
    }
    // The masks cover the S given keys; the added positions get a zero (allowed) column.
    auto widen = [&](const Tensor& mask) { return s_total == s ? mask : functional::pad(mask, {0, s_total - s}); };
    Tensor scores = q.matmul(k.transpose(1, 2));  // [N*H, L, S']
    // A bool mask marks the positions not allowed to attend (PyTorch's rule); a float mask is added.
    Tensor mask =
        call.attn_mask.defined() && call.attn_mask.dtype() == kBool ? additive_mask(call.attn_mask) : call.attn_mask;
    if (call.is_causal) {
        const Tensor causal = causal_mask(l, scores.dtype());
        mask = mask.defined() ? mask + causal : causal;
    }
    if (mask.defined()) {
        if (mask.dim() == 2 && mask.shape() != Shape{l, s}) {
            throw ShapeError("MultiheadAttention: The shape of the 2D attn_mask is " + shape_to_list(mask.shape()) +
                             ", but should be " + shape_to_list({l, s}) + ".");
        }
        if (mask.dim() == 3 && mask.shape() != Shape{n * h, l, s}) {
            throw ShapeError("MultiheadAttention: The shape of the 3D attn_mask is " + shape_to_list(mask.shape()) +
                             ", but should be " + shape_to_list({n * h, l, s}) + ".");
        }
        scores = scores + widen(mask.to(scores.dtype()));
    }
    if (call.key_padding_mask.defined()) {
        const Tensor given =
            call.key_padding_mask.dtype() == kBool ? additive_mask(call.key_padding_mask) : call.key_padding_mask;
        const Tensor kpm = unbatched ? given.reshape({1, s}) : given;
        if (kpm.shape() != Shape{n, s}) {
            throw ShapeError("MultiheadAttention: expecting key_padding_mask shape of " + shape_to_list({n, s}) +
                             ", but got " + shape_to_list(call.key_padding_mask.shape()));
        }
        scores = (scores.reshape({n, h, l, s_total}) + widen(kpm.to(scores.dtype())).reshape({n, 1, 1, s_total}))
                     .reshape({n * h, l, s_total});
    }
    Tensor weights = scores.softmax(-1);
    const Tensor attended_weights = functional::dropout(weights, o.dropout(), is_training());
    Tensor out = attended_weights.matmul(v).transpose(0, 1).reshape({l * n, e});  // [L, N*H, d] -> [L*N, E]
    out = functional::linear(out, out_proj.weight, out_proj.bias).reshape({l, n, e});
    AttentionResult result;
    result.output = unbatched ? out.squeeze(1) : (o.batch_first() ? out.transpose(0, 1) : out);
    if (call.need_weights) {
        Tensor w = weights.reshape({n, h, l, s_total});
        if (call.average_attn_weights) w = w.mean({1});
        result.weights = unbatched ? w.squeeze(0) : w;
    }
    return result;
}

// ---- lazy twin ----

NonDynamicallyQuantizableLinear::NonDynamicallyQuantizableLinear(bool bias, Uninitialized)
    : Linear(LinearOptions(0, 0).bias(bias), Uninitialized{}) {
    set_name("NonDynamicallyQuantizableLinear");
}

void NonDynamicallyQuantizableLinear::materialize(std::int64_t features) {
    NoGradGuard no_grad;
    options_.in_features(features).out_features(features);
    if (is_lazy(weight)) weight.materialize({features, features});
    if (is_lazy(bias)) bias.materialize({features});
    Linear::reset_parameters();
}

void NonDynamicallyQuantizableLinear::adopt_loaded_shape() {
    options_.out_features(weight.size(0)).in_features(weight.size(1));
}

void MultiheadAttention::materialize_from_options() {
    const std::int64_t e = options_.embed_dim();
    if (packed_projections()) {
        if (is_lazy(in_proj_weight)) in_proj_weight.materialize({3 * e, e});
        q_proj_weight = k_proj_weight = v_proj_weight = Parameter();
    } else {
        in_proj_weight = Parameter();
        if (is_lazy(q_proj_weight)) q_proj_weight.materialize({e, e});
        if (is_lazy(k_proj_weight)) k_proj_weight.materialize({e, options_.kdim()});
        if (is_lazy(v_proj_weight)) v_proj_weight.materialize({e, options_.vdim()});
    }
    if (is_lazy(in_proj_bias)) in_proj_bias.materialize({3 * e});
    if (is_lazy(bias_k)) bias_k.materialize({1, 1, e});
    if (is_lazy(bias_v)) bias_v.materialize({1, 1, e});
    out_proj.materialize(e);
}

LazyMultiheadAttention::LazyMultiheadAttention(MultiheadAttentionOptions options) : Lazy<MultiheadAttention>(options) {
    if (options.embed_dim() != 0 || options.kdim() != 0 || options.vdim() != 0) {
        throw ValueError(
            "LazyMultiheadAttention infers embed_dim, kdim and vdim from its inputs; leave them 0 "
            "(or use MultiheadAttention to give them)");
    }
    if (options.num_heads() <= 0)
        throw ValueError("LazyMultiheadAttention: num_heads must be positive, got " +
                         std::to_string(options.num_heads()));
}

void LazyMultiheadAttention::lazy_load_prepare(const StateDict& state, const std::string& prefix) {
    auto stored = [&](const std::string& key) {
        return state.contains(prefix + key) && state.at(prefix + key).defined();
    };
    // The layout is fixed at construction (the parameter list must not change under an optimizer).
    const bool separate = options_.separate_projections();
    if (separate ? stored("in_proj_weight") : stored("q_proj_weight")) {
        throw ValueError(
            "LazyMultiheadAttention: the checkpoint holds " +
            std::string(separate ? "a packed " + prefix + "in_proj_weight"
                                 : "separate " + prefix + "q/k/v_proj_weight") +
            " but this module was built for " + (separate ? "separate" : "packed") +
            " projections; construct it with MultiheadAttentionOptions(0, num_heads).separate_projections(" +
            (separate ? "false" : "true") + ")");
    }
    NoGradGuard no_grad;
    if (is_lazy(out_proj.weight) && stored("out_proj.weight"))
        out_proj.weight.materialize(state.at(prefix + "out_proj.weight").shape());
    if (is_lazy(out_proj.bias) && stored("out_proj.bias"))
        out_proj.bias.materialize(state.at(prefix + "out_proj.bias").shape());
}

void LazyMultiheadAttention::infer_options(const std::vector<Tensor>& inputs) {
    const Tensor& query = inputs[0];
    const Tensor& key = inputs.size() >= 3 ? inputs[1] : query;
    const Tensor& value = inputs.size() >= 3 ? inputs[2] : query;
    if (query.dim() != 2 && query.dim() != 3) {
        throw ShapeError("LazyMultiheadAttention: query should be unbatched 2D or batched 3D tensor but received " +
                         std::to_string(query.dim()) + "-D query tensor");
    }
    if (key.dim() != query.dim() || value.dim() != query.dim()) {
        throw ShapeError("LazyMultiheadAttention: query, key and value must have the same number of dims, got " +
                         shape_to_list(query.shape()) + ", " + shape_to_list(key.shape()) + " and " +
                         shape_to_list(value.shape()));
    }
    const std::int64_t e = query.size(-1), h = options_.num_heads();
    if (e % h != 0) {
        throw ValueError("LazyMultiheadAttention: embed_dim inferred from the query (" + std::to_string(e) +
                         ") must be divisible by num_heads (" + std::to_string(h) + ")");
    }
    if (!options_.separate_projections() && (key.size(-1) != e || value.size(-1) != e)) {
        throw ValueError("LazyMultiheadAttention: kdim (" + std::to_string(key.size(-1)) + ") and vdim (" +
                         std::to_string(value.size(-1)) + ") must equal embed_dim (" + std::to_string(e) +
                         ") for its packed in_proj_weight; construct it with "
                         "MultiheadAttentionOptions(0, num_heads).separate_projections(true) for keys and values "
                         "of their own widths");
    }
    options_.embed_dim(e);
    options_.kdim(key.size(-1));
    options_.vdim(value.size(-1));
}

void LazyMultiheadAttention::lazy_load_finalize() {
    if (in_proj_weight.defined()) {
        options_.embed_dim(in_proj_weight.size(1)).kdim(in_proj_weight.size(1)).vdim(in_proj_weight.size(1));
    } else {
        options_.embed_dim(q_proj_weight.size(0));
        options_.kdim(k_proj_weight.size(1));
        options_.vdim(v_proj_weight.size(1));
    }
    for (const auto& [name, p] : {std::pair<const char*, const Parameter*>{"bias_k", &bias_k},
                                  std::pair<const char*, const Parameter*>{"bias_v", &bias_v}}) {
        const Shape expected{1, 1, options_.embed_dim()};
        if (p->defined() && p->shape() != expected) {
            throw RuntimeError("LazyMultiheadAttention: the checkpoint's " + std::string(name) + " has shape " +
                               shape_to_list(p->shape()) + ", expected " + shape_to_list(expected) + " for embed_dim " +
                               std::to_string(options_.embed_dim()));
        }
    }
    out_proj.adopt_loaded_shape();
}

// ---- Transformer encoder ----

namespace {

/// The number of layers in a stack's "layers" list, read through const traversal.
std::size_t layer_count(const Module& stack) {
    for (const auto& [name, child] : stack.named_children())
        if (name == "layers") return child->children().size();
    return 0;
}

Tensor feed_forward_activation(const Tensor& x, TransformerActivation activation) {
    return activation == TransformerActivation::GELU ? x.gelu() : x.relu();
}

/// An encoder's or decoder's stack: num_layers deep copies of `layer` under "layers", then the
/// optional final norm under "norm" (PyTorch's names).
template <class Layer>
void add_layer_stack(Module& stack, const Layer& layer, std::int64_t num_layers, std::optional<LayerNorm> norm) {
    auto& layers = stack.register_module("layers", ModuleList());
    for (std::int64_t i = 0; i < num_layers; ++i) layers.push_back(Layer(layer));
    if (norm) stack.register_module("norm", std::move(*norm));
}

}  // namespace

TransformerEncoderLayer::TransformerEncoderLayer(TransformerEncoderLayerOptions o)
    : self_attn(this, "self_attn",
                MultiheadAttentionOptions(o.d_model(), o.nhead()).dropout(o.dropout()).batch_first(o.batch_first())),
      linear1(this, "linear1", o.d_model(), o.dim_feedforward()),
      dropout(this, "dropout", o.dropout()),
      linear2(this, "linear2", o.dim_feedforward(), o.d_model()),
      norm1(this, "norm1", Shape{o.d_model()}, o.layer_norm_eps()),
      norm2(this, "norm2", Shape{o.d_model()}, o.layer_norm_eps()),
      dropout1(this, "dropout1", o.dropout()),
      dropout2(this, "dropout2", o.dropout()),
      options_(std::move(o)) {
    set_name("TransformerEncoderLayer");
}

Tensor TransformerEncoderLayer::operator()(const Tensor& src, const Tensor& src_mask,
                                           const Tensor& src_key_padding_mask) {
    return call_with_hooks({src, src_mask, src_key_padding_mask},
                           [&](const std::vector<Tensor>& in) { return encode(in[0], in[1], in[2]); });
}

Tensor TransformerEncoderLayer::encode(const Tensor& src, const Tensor& mask, const Tensor& padding_mask) {
    auto self_attention = [&](const Tensor& x) {
        AttentionCall call;
        call.attn_mask = mask;
        call.key_padding_mask = padding_mask;
        call.need_weights = false;
        return dropout1(self_attn(x, x, x, call).output);
    };
    auto feed_forward = [&](const Tensor& x) {
        return dropout2(linear2(dropout(feed_forward_activation(linear1(x), options_.activation()))));
    };
    Tensor x = src;
    if (options_.norm_first()) {
        x = x + self_attention(norm1(x));
        x = x + feed_forward(norm2(x));
    } else {
        x = norm1(x + self_attention(x));
        x = norm2(x + feed_forward(x));
    }
    return x;
}

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayer& layer, std::int64_t num_layers,
                                       std::optional<LayerNorm> norm) {
    set_name("TransformerEncoder");
    add_layer_stack(*this, layer, num_layers, std::move(norm));
}

std::size_t TransformerEncoder::num_layers() const { return layer_count(*this); }

Tensor TransformerEncoder::operator()(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask) {
    return call_with_hooks({src, mask, src_key_padding_mask}, [&](const std::vector<Tensor>& in) {
        Tensor x = in[0];
        for (Module* layer : get_submodule("layers").children()) {
            x = (*static_cast<TransformerEncoderLayer*>(layer))(x, in[1], in[2]);
        }
        for (auto& [name, child] : named_children()) {
            if (name == "norm") x = (*child)(x);
        }
        return x;
    });
}

// ---- Transformer decoder ----

TransformerDecoderLayer::TransformerDecoderLayer(TransformerDecoderLayerOptions o)
    : self_attn(this, "self_attn",
                MultiheadAttentionOptions(o.d_model(), o.nhead()).dropout(o.dropout()).batch_first(o.batch_first())),
      multihead_attn(
          this, "multihead_attn",
          MultiheadAttentionOptions(o.d_model(), o.nhead()).dropout(o.dropout()).batch_first(o.batch_first())),
      linear1(this, "linear1", o.d_model(), o.dim_feedforward()),
      dropout(this, "dropout", o.dropout()),
      linear2(this, "linear2", o.dim_feedforward(), o.d_model()),
      norm1(this, "norm1", Shape{o.d_model()}, o.layer_norm_eps()),
      norm2(this, "norm2", Shape{o.d_model()}, o.layer_norm_eps()),
      norm3(this, "norm3", Shape{o.d_model()}, o.layer_norm_eps()),
      dropout1(this, "dropout1", o.dropout()),
      dropout2(this, "dropout2", o.dropout()),
      dropout3(this, "dropout3", o.dropout()),
      options_(std::move(o)) {
    set_name("TransformerDecoderLayer");
}

Tensor TransformerDecoderLayer::operator()(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks) {
    return call_with_hooks(
        {tgt, memory, masks.tgt_mask, masks.memory_mask, masks.tgt_key_padding_mask, masks.memory_key_padding_mask},
        [&](const std::vector<Tensor>& in) {
            return decode(in[0], in[1], DecoderMasks{in[2], in[3], in[4], in[5]});
        });
}

Tensor TransformerDecoderLayer::decode(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks) {
    auto self_attention = [&](const Tensor& x) {
        AttentionCall call;
        call.attn_mask = masks.tgt_mask;
        call.key_padding_mask = masks.tgt_key_padding_mask;
        call.need_weights = false;
        return dropout1(self_attn(x, x, x, call).output);
    };
    auto cross_attention = [&](const Tensor& x) {
        AttentionCall call;
        call.attn_mask = masks.memory_mask;
        call.key_padding_mask = masks.memory_key_padding_mask;
        call.need_weights = false;
        return dropout2(multihead_attn(x, memory, memory, call).output);
    };
    auto feed_forward = [&](const Tensor& x) {
        return dropout3(linear2(dropout(feed_forward_activation(linear1(x), options_.activation()))));
    };
    Tensor x = tgt;
    if (options_.norm_first()) {
        x = x + self_attention(norm1(x));
        x = x + cross_attention(norm2(x));
        x = x + feed_forward(norm3(x));
    } else {
        x = norm1(x + self_attention(x));
        x = norm2(x + cross_attention(x));
        x = norm3(x + feed_forward(x));
    }
    return x;
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayer& layer, std::int64_t num_layers,
                                       std::optional<LayerNorm> norm) {
    set_name("TransformerDecoder");
    add_layer_stack(*this, layer, num_layers, std::move(norm));
}

std::size_t TransformerDecoder::num_layers() const { return layer_count(*this); }

Tensor TransformerDecoder::operator()(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks) {
    return call_with_hooks(
        {tgt, memory, masks.tgt_mask, masks.memory_mask, masks.tgt_key_padding_mask, masks.memory_key_padding_mask},
        [&](const std::vector<Tensor>& in) {
            const DecoderMasks m{in[2], in[3], in[4], in[5]};
            Tensor x = in[0];
            for (Module* layer : get_submodule("layers").children())
                x = (*static_cast<TransformerDecoderLayer*>(layer))(x, in[1], m);
            for (auto& [name, child] : named_children()) {
                if (name == "norm") x = (*child)(x);
            }
            return x;
        });
}

namespace {

TransformerEncoderLayerOptions layer_options(const TransformerOptions& o) {
    return TransformerEncoderLayerOptions(o.d_model(), o.nhead())
        .dim_feedforward(o.dim_feedforward())
        .dropout(o.dropout())
        .activation(o.activation())
        .layer_norm_eps(o.layer_norm_eps())
        .batch_first(o.batch_first())
        .norm_first(o.norm_first());
}

}  // namespace

Transformer::Transformer(TransformerOptions o)
    : encoder(this, "encoder", TransformerEncoderLayer(layer_options(o)), o.num_encoder_layers(),
              LayerNorm(Shape{o.d_model()}, o.layer_norm_eps())),
      decoder(this, "decoder", TransformerDecoderLayer(layer_options(o)), o.num_decoder_layers(),
              LayerNorm(Shape{o.d_model()}, o.layer_norm_eps())),
      options_(std::move(o)) {
    set_name("Transformer");
    reset_parameters();
}

void Transformer::reset_parameters() {
    Generator gen = init_generator();
    for (Tensor p : parameters()) {
        if (p.dim() > 1) init::xavier_uniform_(p, 1.0, gen);
    }
}

Tensor Transformer::operator()(const Tensor& src, const Tensor& tgt, const TransformerMasks& masks) {
    const bool batched = src.dim() == 3;
    const std::int64_t batch_dim = options_.batch_first() ? 0 : 1;
    if (batched && tgt.dim() == 3 && src.size(batch_dim) != tgt.size(batch_dim)) {
        throw ShapeError("Transformer: the batch number of src and tgt must be equal, got src " +
                         shape_to_list(src.shape()) + " and tgt " + shape_to_list(tgt.shape()));
    }
    if (src.dim() == 0 || tgt.dim() == 0 || src.size(-1) != options_.d_model() || tgt.size(-1) != options_.d_model()) {
        throw ShapeError("Transformer: the feature number of src and tgt must be equal to d_model (" +
                         std::to_string(options_.d_model()) + "), got src " + shape_to_list(src.shape()) + " and tgt " +
                         shape_to_list(tgt.shape()));
    }
    return call_with_hooks(
        {src, tgt, masks.src_mask, masks.src_key_padding_mask, masks.decoder.tgt_mask, masks.decoder.memory_mask,
         masks.decoder.tgt_key_padding_mask, masks.decoder.memory_key_padding_mask},
        [&](const std::vector<Tensor>& in) {
            const Tensor memory = encoder(in[0], in[2], in[3]);
            return decoder(in[1], memory, DecoderMasks{in[4], in[5], in[6], in[7]});
        });
}

}  // namespace lazynn::nn
