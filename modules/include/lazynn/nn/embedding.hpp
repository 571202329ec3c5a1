#pragma once
// Embedding: a lookup table of learnable vectors.

#include <lazynn/arg.hpp>
#include <lazynn/module.hpp>

#include <optional>
#include <string>

namespace lazynn::nn {

/// Embedding's options (PyTorch's Embedding(num_embeddings, embedding_dim, padding_idx=None,
/// max_norm=None, norm_type=2.0, scale_grad_by_freq=False)).
struct EmbeddingOptions {
    EmbeddingOptions(std::int64_t num_embeddings, std::int64_t embedding_dim)
        : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
    LAZYNN_ARG(std::int64_t, num_embeddings);
    LAZYNN_ARG(std::int64_t, embedding_dim);
    /// The row at this index is initialised to zeros and receives no gradient.
    LAZYNN_ARG(std::optional<std::int64_t>, padding_idx);
    /// Rows looked up with a larger (p-)norm are rescaled to this norm in place first.
    LAZYNN_ARG(std::optional<double>, max_norm);
    LAZYNN_ARG(double, norm_type) = 2.0;
    /// Each row's gradient is divided by how often its index occurs in the call's indices.
    LAZYNN_ARG(bool, scale_grad_by_freq) = false;
};

/// A lookup table: row i of weight [num_embeddings, embedding_dim] for index i, N(0, 1) initialised.
///
/// Example:
///     nn::Embedding emb(nn::EmbeddingOptions(10, 3).padding_idx(0));
///     Tensor y = emb(tensor({{1, 2}, {0, 9}}));   // [2, 2, 3]
class Embedding : public Module {
    LAZYNN_MODULE(Embedding)
public:
    explicit Embedding(EmbeddingOptions options);
    Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim)
        : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}
    /// Shapes: int64 indices [*] -> [*, embedding_dim]
    Tensor forward(const Tensor& indices) override;
    /// requires: nothing. ensures: weight ~ N(0, 1) from the module's seed, the padding row zero.
    void reset_parameters();
    std::string extra_repr() const override;
    const EmbeddingOptions& options() const { return options_; }

    Parameter weight{this, "weight"};

private:
    EmbeddingOptions options_;
};

/// How EmbeddingBag reduces a bag: PyTorch's mode='sum', 'mean' or 'max'.
enum class EmbeddingBagMode { Sum, Mean, Max };
/// PyTorch's string for the mode ("sum", "mean", "max").
const char* embedding_bag_mode_name(EmbeddingBagMode mode);

/// EmbeddingBag's options (PyTorch's EmbeddingBag(num_embeddings, embedding_dim, max_norm=None,
/// norm_type=2.0, scale_grad_by_freq=False, mode='mean', include_last_offset=False, padding_idx=None)).
struct EmbeddingBagOptions {
    EmbeddingBagOptions(std::int64_t num_embeddings, std::int64_t embedding_dim)
        : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
    LAZYNN_ARG(std::int64_t, num_embeddings);
    LAZYNN_ARG(std::int64_t, embedding_dim);
    LAZYNN_ARG(EmbeddingBagMode, mode) = EmbeddingBagMode::Mean;
    /// Entries equal to this index are left out of their bag (and the row is zero, with no gradient).
    LAZYNN_ARG(std::optional<std::int64_t>, padding_idx);
    /// Rows looked up with a larger (p-)norm are rescaled to this norm in place first.
    LAZYNN_ARG(std::optional<double>, max_norm);
    LAZYNN_ARG(double, norm_type) = 2.0;
    /// Each row's gradient is divided by how often its index occurs in the call's indices (modes
    /// sum and mean; PyTorch ignores it for max, lazynn refuses that combination).
    LAZYNN_ARG(bool, scale_grad_by_freq) = false;
    /// offsets holds B + 1 entries, the last equal to the number of indices (PyTorch's CSR form).
    LAZYNN_ARG(bool, include_last_offset) = false;
};

/// Sums, averages or takes the maximum of each bag of embeddings without materialising the
/// per-index rows for the caller.
///
/// Example:
///     nn::EmbeddingBag bag(10, 3, nn::EmbeddingBagMode::Sum);
///     Tensor y = bag.bags(tensor({1, 2, 4, 5}), tensor({0, 2}));   // two bags -> [2, 3]
class EmbeddingBag : public Module {
    LAZYNN_MODULE(EmbeddingBag)
public:
    explicit EmbeddingBag(EmbeddingBagOptions options);
    EmbeddingBag(std::int64_t num_embeddings, std::int64_t embedding_dim,
                 EmbeddingBagMode mode = EmbeddingBagMode::Mean)
        : EmbeddingBag(EmbeddingBagOptions(num_embeddings, embedding_dim).mode(mode)) {}
    /// Shapes: indices [B, L] (bags of equal length) -> [B, dim]
    Tensor forward(const Tensor& indices) override { return bags(indices, Tensor()); }
    /// Shapes: flat indices [n] with offsets [B] (each bag starts at its offset; [B + 1] with
    /// include_last_offset), or [B, L] with no offsets -> [B, dim]. An empty bag (or one holding only padding_idx) gives zeros.
    /// per_sample_weights (mode "sum" only) has the indices' shape and scales each looked-up row.
    Tensor bags(const Tensor& indices, const Tensor& offsets, const Tensor& per_sample_weights = Tensor());
    std::string extra_repr() const override;
    const EmbeddingBagOptions& options() const { return options_; }

    Parameter weight{this, "weight"};

private:
    EmbeddingBagOptions options_;
};

}  // namespace lazynn::nn
