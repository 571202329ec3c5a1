#pragma once
// MultiheadAttention, the Transformer's encoder and decoder layers and stacks, and Transformer, with PyTorch's parameter
// names (in_proj_weight, out_proj.weight, self_attn..., linear1, norm1, ...).
//
// Masks: attn_mask and key_padding_mask are bool masks (true = not allowed to attend) or additive
// float masks (0 to keep, -inf to mask), as in PyTorch. `additive_mask(m)` turns a bool or 0/1
// "masked" tensor into the float form and `causal_mask(L)` is PyTorch's generate_square_subsequent_mask.

#include <lazynn/arg.hpp>
#include <lazynn/lazy.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/dropout.hpp>
#include <lazynn/nn/linear.hpp>
#include <lazynn/nn/normalization.hpp>

#include <memory>
#include <optional>

namespace lazynn::nn {

/// [L, L] with -inf above the diagonal and 0 elsewhere.
Tensor causal_mask(std::int64_t size, Dtype dtype = kFloat32);
/// true or 1 (masked) -> -inf, false or 0 (kept) -> 0.
Tensor additive_mask(const Tensor& masked);

/// A Linear under PyTorch's name for MultiheadAttention's output projection (so printing matches).
///
/// Example:
///     nn::NonDynamicallyQuantizableLinear proj(nn::LinearOptions(8, 8));
class NonDynamicallyQuantizableLinear : public Linear {
    LAZYNN_MODULE(NonDynamicallyQuantizableLinear)
public:
    explicit NonDynamicallyQuantizableLinear(LinearOptions options) : Linear(options) {
        set_name("NonDynamicallyQuantizableLinear");
    }

    /// For LazyMultiheadAttention: weight and bias uninitialised until materialize().
    NonDynamicallyQuantizableLinear(bool bias, Uninitialized);
    /// Allocates [features, features] (+ bias) and initialises like Linear.
    void materialize(std::int64_t features);
    /// After a checkpoint load materialised the weight: take the sizes from it.
    void adopt_loaded_shape();
};

/// MultiheadAttention's options (PyTorch's MultiheadAttention(embed_dim, num_heads, dropout=0.0,
/// bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False)).
struct MultiheadAttentionOptions {
    MultiheadAttentionOptions(std::int64_t embed_dim, std::int64_t num_heads)
        : embed_dim_(embed_dim), num_heads_(num_heads) {}
    LAZYNN_ARG(std::int64_t, embed_dim);
    LAZYNN_ARG(std::int64_t, num_heads);
    LAZYNN_ARG(double, dropout) = 0.0;
    LAZYNN_ARG(bool, bias) = true;
    /// Learned bias_k / bias_v [1, 1, E] appended to the projected keys and values: one more
    /// position every query may attend to.
    LAZYNN_ARG(bool, add_bias_kv) = false;
    /// A zero key and value appended after the heads are split: one more position, of score 0.
    LAZYNN_ARG(bool, add_zero_attn) = false;
    /// 0: embed_dim (PyTorch's None).
    LAZYNN_ARG(std::int64_t, kdim) = 0;
    LAZYNN_ARG(std::int64_t, vdim) = 0;
    LAZYNN_ARG(bool, batch_first) = false;
    /// lazynn's own: q/k/v_proj_weight even when kdim == vdim == embed_dim (PyTorch then packs them
    /// into in_proj_weight). LazyMultiheadAttention's parameter list is fixed at construction, so it
    /// needs this to take keys and values of their own widths.
    LAZYNN_ARG(bool, separate_projections) = false;
};

/// What MultiheadAttention's call returns: the attended output and the attention weights.
///
/// Example:
///     nn::AttentionResult r = attn(query, key, value);   // r.output [L, N, E], r.weights [N, L, S]
struct AttentionResult {
    Tensor output;   // [L, N, E] ([N, L, E] with batch_first; [L, E] unbatched)
    Tensor weights;  // [N, L, S] averaged over heads ([N, H, L, S] if not averaged); undefined without need_weights
};

/// MultiheadAttention's optional call arguments (PyTorch's keyword arguments).
///
/// Example:
///     nn::AttentionCall call;
///     call.key_padding_mask = padding;   // [N, S] bool, true = ignore that key
///     call.need_weights = false;
///     nn::AttentionResult r = attn(x, x, x, call);
struct AttentionCall {
    Tensor key_padding_mask;  // [N, S] bool (true = masked) or additive
    Tensor attn_mask;         // [L, S] or [N*H, L, S] bool (true = masked) or additive
    bool need_weights = true;
    bool average_attn_weights = true;
    bool is_causal = false;  // adds causal_mask(L) to attn_mask
};

/// Attention over num_heads heads of embed_dim / num_heads each, with PyTorch's parameters.
///
/// Example:
///     nn::MultiheadAttention attn(nn::MultiheadAttentionOptions(8, 2).batch_first(true));
///     AttentionResult r = attn(q, k, v);   // r.output like q, r.weights [N, L, S]
class MultiheadAttention : public Module {
    LAZYNN_MODULE(MultiheadAttention)
public:
    explicit MultiheadAttention(MultiheadAttentionOptions options);
    MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads)
        : MultiheadAttention(MultiheadAttentionOptions(embed_dim, num_heads)) {}

    /// Shapes: query [L, N, E], key [S, N, kdim], value [S, N, vdim] (batch dims first with
    /// batch_first, or no batch dim) -> output like query, weights [N, L, S'], where S' is S plus
    /// one for add_bias_kv and one for add_zero_attn (masks are given for the S keys; the added
    /// positions are never masked, as in PyTorch).
    AttentionResult operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                               const AttentionCall& call = {});
    using Module::operator();
    /// Self-attention with default options (what a container calls).
    Tensor forward(const Tensor& x) override;
    /// requires: the projections materialised. ensures: xavier_uniform input projections and zero
    /// biases from the module's seed (out_proj keeps Linear's initialisation).
    virtual void reset_parameters();
    const MultiheadAttentionOptions& options() const { return options_; }

    Parameter in_proj_weight{this, "in_proj_weight"};  // [3E, E] when packed_projections()
    Parameter q_proj_weight{this, "q_proj_weight"};    // otherwise [E, E], [E, kdim], [E, vdim]
    Parameter k_proj_weight{this, "k_proj_weight"};
    Parameter v_proj_weight{this, "v_proj_weight"};
    Parameter in_proj_bias{this, "in_proj_bias"};
    Parameter bias_k{this, "bias_k"};  // [1, 1, E] with add_bias_kv
    Parameter bias_v{this, "bias_v"};
    NonDynamicallyQuantizableLinear out_proj;

protected:
    /// For LazyMultiheadAttention: every projection uninitialised, sizes unknown.
    MultiheadAttention(MultiheadAttentionOptions options, Uninitialized);
    /// Materialises the projections the options imply (in_proj_weight when packed_projections(),
    /// q/k/v_proj_weight otherwise) and out_proj (the lazy protocol).
    void materialize_from_options();
    AttentionResult attend(const Tensor& query, const Tensor& key, const Tensor& value, const AttentionCall& call);
    /// One [3E, E] in_proj_weight (PyTorch's _qkv_same_embed_dim) rather than three projections.
    bool packed_projections() const {
        return !options_.separate_projections() && options_.kdim() == options_.embed_dim() &&
               options_.vdim() == options_.embed_dim();
    }
    MultiheadAttentionOptions options_;
};

/// A MultiheadAttention that infers embed_dim from the query's last dimension and kdim/vdim from
/// the key's and value's (PyTorch ships no lazy twin). Its parameters are listed from
/// construction, the same before and after the first forward (an optimizer built before it keeps
/// working): in_proj_weight by default, which needs keys and values as wide as the query (self-
/// attention, the usual cross-attention); q/k/v_proj_weight with
/// `separate_projections(true)`, for keys and values of their own widths. Afterwards it is a
/// MultiheadAttention with the eager layer's initialisation from the same seed.
///
/// Example:
///     nn::LazyMultiheadAttention attn(2);
///     auto r = attn(q, k, v);   // embed_dim = q.size(-1) = k.size(-1) = v.size(-1)
///     nn::LazyMultiheadAttention cross(nn::MultiheadAttentionOptions(0, 2).separate_projections(true));
///     auto c = cross(q, k, v);  // kdim = k.size(-1), vdim = v.size(-1)
class LazyMultiheadAttention : public Lazy<MultiheadAttention> {
    LAZYNN_MODULE(LazyMultiheadAttention)
public:
    /// `options` carries num_heads, dropout, bias, batch_first and separate_projections; its
    /// embed_dim/kdim/vdim must be 0.
    explicit LazyMultiheadAttention(MultiheadAttentionOptions options);
    explicit LazyMultiheadAttention(std::int64_t num_heads)
        : LazyMultiheadAttention(MultiheadAttentionOptions(0, num_heads)) {}

protected:
    /// inputs: {query} (self-attention) or {query, key, value}: embed_dim, kdim and vdim from their
    /// last dims; a packed module throws ValueError when kdim or vdim differs from embed_dim.
    void infer_options(const std::vector<Tensor>& inputs) override;
    /// Checks the checkpoint holds this module's layout (packed or separate) and materialises out_proj from it.
    void lazy_load_prepare(const StateDict& state, const std::string& prefix) override;
    /// embed_dim, kdim and vdim from the loaded projections.
    void lazy_load_finalize() override;
};

/// The feed-forward activation of a transformer layer: PyTorch's activation="relu" or "gelu".
enum class TransformerActivation { ReLU, GELU };

/// TransformerEncoderLayer's options (PyTorch's TransformerEncoderLayer(d_model, nhead,
/// dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5, batch_first=False,
/// norm_first=False)).
struct TransformerEncoderLayerOptions {
    TransformerEncoderLayerOptions(std::int64_t d_model, std::int64_t nhead) : d_model_(d_model), nhead_(nhead) {}
    LAZYNN_ARG(std::int64_t, d_model);
    LAZYNN_ARG(std::int64_t, nhead);
    LAZYNN_ARG(std::int64_t, dim_feedforward) = 2048;
    LAZYNN_ARG(double, dropout) = 0.1;
    LAZYNN_ARG(TransformerActivation, activation) = TransformerActivation::ReLU;
    LAZYNN_ARG(double, layer_norm_eps) = 1e-5;
    LAZYNN_ARG(bool, batch_first) = false;
    LAZYNN_ARG(bool, norm_first) = false;
};

/// Self-attention then a feed-forward block, each with a residual and a LayerNorm (after, or
/// before with norm_first).
///
/// Example:
///     nn::TransformerEncoderLayer layer(nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).activation(nn::TransformerActivation::GELU));
///     Tensor y = layer(randn({5, 3, 8}));   // [S, N, E] -> same
class TransformerEncoderLayer : public Module {
    LAZYNN_MODULE(TransformerEncoderLayer)
public:
    explicit TransformerEncoderLayer(TransformerEncoderLayerOptions options);
    /// Shapes: src [S, N, E] ([N, S, E] with batch_first) -> same
    Tensor operator()(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = Tensor());
    using Module::operator();
    Tensor forward(const Tensor& src) override { return encode(src, Tensor(), Tensor()); }

    MultiheadAttention self_attn;
    Linear linear1;
    Dropout dropout;
    Linear linear2;
    LayerNorm norm1;
    LayerNorm norm2;
    Dropout dropout1;
    Dropout dropout2;

private:
    Tensor encode(const Tensor& src, const Tensor& mask, const Tensor& padding_mask);
    TransformerEncoderLayerOptions options_;
};

/// num_layers copies of an encoder layer.
///
/// Example:
///     nn::TransformerEncoder encoder(nn::TransformerEncoderLayer(nn::TransformerEncoderLayerOptions(8, 2)), 3);
///     Tensor y = encoder(randn({5, 3, 8}));
class TransformerEncoder : public Module {
    LAZYNN_MODULE(TransformerEncoder)
public:
    /// num_layers deep copies of `layer` (named layers.0, layers.1, ...), then an optional norm.
    TransformerEncoder(const TransformerEncoderLayer& layer, std::int64_t num_layers,
                       std::optional<LayerNorm> norm = std::nullopt);
    Tensor operator()(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = Tensor());
    using Module::operator();
    /// Shapes: src [S, N, E] -> same
    Tensor forward(const Tensor& src) override { return (*this)(src, Tensor(), Tensor()); }
    std::size_t num_layers() const;
};

/// TransformerDecoderLayer's options: the encoder layer's (PyTorch's TransformerDecoderLayer takes
/// the same arguments with the same defaults).
using TransformerDecoderLayerOptions = TransformerEncoderLayerOptions;

/// The masks of a decoder call, each optional (bool, true = masked, or additive; AttentionCall's
/// forms): PyTorch's tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask.
struct DecoderMasks {
    Tensor tgt_mask;                 // [T, T] (causal_mask(T) for autoregressive decoding)
    Tensor memory_mask;              // [T, S]
    Tensor tgt_key_padding_mask;     // [N, T]
    Tensor memory_key_padding_mask;  // [N, S]
};

/// Self-attention over the target, attention to the encoder's output (memory), then a feed-forward
/// block, each with a residual and a LayerNorm (after, or before with norm_first). PyTorch's
/// parameter names: self_attn, multihead_attn, linear1, linear2, norm1..3.
///
/// Example:
///     nn::TransformerDecoderLayer layer(nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(16));
///     nn::DecoderMasks masks;
///     masks.tgt_mask = nn::causal_mask(5);
///     Tensor y = layer(tgt, memory, masks);   // tgt [T, N, E], memory [S, N, E] -> [T, N, E]
class TransformerDecoderLayer : public Module {
    LAZYNN_MODULE(TransformerDecoderLayer)
public:
    explicit TransformerDecoderLayer(TransformerDecoderLayerOptions options);
    /// Shapes: tgt [T, N, E], memory [S, N, E] ([N, T, E], [N, S, E] with batch_first) -> [T, N, E]
    Tensor operator()(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks = {});
    const TransformerDecoderLayerOptions& options() const { return options_; }

    MultiheadAttention self_attn;
    MultiheadAttention multihead_attn;
    Linear linear1;
    Dropout dropout;
    Linear linear2;
    LayerNorm norm1;
    LayerNorm norm2;
    LayerNorm norm3;
    Dropout dropout1;
    Dropout dropout2;
    Dropout dropout3;

private:
    Tensor decode(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks);
    TransformerDecoderLayerOptions options_;
};

/// num_layers copies of a decoder layer, each attending to the same memory, then an optional norm.
///
/// Example:
///     nn::TransformerDecoder decoder(nn::TransformerDecoderLayer(nn::TransformerDecoderLayerOptions(8, 2)), 3);
///     Tensor y = decoder(tgt, memory);
class TransformerDecoder : public Module {
    LAZYNN_MODULE(TransformerDecoder)
public:
    /// num_layers deep copies of `layer` (named layers.0, layers.1, ...), then an optional norm.
    TransformerDecoder(const TransformerDecoderLayer& layer, std::int64_t num_layers,
                       std::optional<LayerNorm> norm = std::nullopt);
    /// Shapes: tgt [T, N, E], memory [S, N, E] -> [T, N, E]
    Tensor operator()(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks = {});
    std::size_t num_layers() const;
};

/// Transformer's options (PyTorch's Transformer(d_model=512, nhead=8, num_encoder_layers=6,
/// num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
/// batch_first=False, norm_first=False)).
struct TransformerOptions {
    LAZYNN_ARG(std::int64_t, d_model) = 512;
    LAZYNN_ARG(std::int64_t, nhead) = 8;
    LAZYNN_ARG(std::int64_t, num_encoder_layers) = 6;
    LAZYNN_ARG(std::int64_t, num_decoder_layers) = 6;
    LAZYNN_ARG(std::int64_t, dim_feedforward) = 2048;
    LAZYNN_ARG(double, dropout) = 0.1;
    LAZYNN_ARG(TransformerActivation, activation) = TransformerActivation::ReLU;
    LAZYNN_ARG(double, layer_norm_eps) = 1e-5;
    LAZYNN_ARG(bool, batch_first) = false;
    LAZYNN_ARG(bool, norm_first) = false;
};

/// The masks of a Transformer call: the encoder's (src_mask, src_key_padding_mask) and the
/// decoder's (DecoderMasks).
struct TransformerMasks {
    Tensor src_mask;              // [S, S]
    Tensor src_key_padding_mask;  // [N, S]
    DecoderMasks decoder;
};

/// The encoder-decoder of "Attention Is All You Need": a TransformerEncoder and a
/// TransformerDecoder, each ending in a LayerNorm; every parameter with more than one dimension is
/// drawn with xavier_uniform_ from the module's seed, as PyTorch does.
///
/// Example:
///     nn::Transformer model(nn::TransformerOptions().d_model(64).nhead(4).num_encoder_layers(2).num_decoder_layers(2));
///     nn::TransformerMasks masks;
///     masks.decoder.tgt_mask = nn::causal_mask(tgt.size(0));
///     Tensor y = model(src, tgt, masks);   // src [S, N, E], tgt [T, N, E] -> [T, N, E]
class Transformer : public Module {
    LAZYNN_MODULE(Transformer)
public:
    explicit Transformer(TransformerOptions options = {});
    /// Shapes: src [S, N, E], tgt [T, N, E] ([N, S, E], [N, T, E] with batch_first; unbatched
    /// [S, E], [T, E]) -> [T, N, E]. ShapeError (PyTorch's words) when the batch sizes differ or a
    /// feature size is not d_model.
    Tensor operator()(const Tensor& src, const Tensor& tgt, const TransformerMasks& masks = {});
    /// requires: every parameter materialised. ensures: each parameter of rank > 1 redrawn with
    /// xavier_uniform_ from the module's seed (the same values every call).
    void reset_parameters();
    const TransformerOptions& options() const { return options_; }

    TransformerEncoder encoder;
    TransformerDecoder decoder;

private:
    TransformerOptions options_;
};

}  // namespace lazynn::nn
