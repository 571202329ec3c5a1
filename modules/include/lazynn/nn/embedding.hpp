#pragma once
// Embedding: a lookup table of learnable vectors.

#include <lazynn/module.hpp>

#include <optional>
#include <string>

namespace lazynn::nn {

struct EmbeddingOptions {
    EmbeddingOptions(std::int64_t num_embeddings, std::int64_t embedding_dim) : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
    /// The row at this index is initialised to zeros and receives no gradient.
    EmbeddingOptions& padding_idx(std::optional<std::int64_t> v) { padding_idx_ = v; return *this; }
    /// Rows looked up with a larger (p-)norm are rescaled to this norm in place first.
    EmbeddingOptions& max_norm(std::optional<double> v) { max_norm_ = v; return *this; }
    EmbeddingOptions& norm_type(double v) { norm_type_ = v; return *this; }
    std::int64_t num_embeddings_, embedding_dim_;
    std::optional<std::int64_t> padding_idx_;
    std::optional<double> max_norm_;
    double norm_type_ = 2.0;
};

class Embedding : public Module {
    LAZYNN_MODULE(Embedding)
public:
    explicit Embedding(EmbeddingOptions options);
    Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim) : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}
    /// Shapes: int64 indices [*] -> [*, embedding_dim]
    Tensor forward(const Tensor& indices) override;
    void reset_parameters();
    std::string extra_repr() const override;

    Parameter weight{this, "weight"};

private:
    EmbeddingOptions options_;
};

struct EmbeddingBagOptions {
    EmbeddingBagOptions(std::int64_t num_embeddings, std::int64_t embedding_dim) : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
    /// "sum", "mean" (PyTorch's default) or "max".
    EmbeddingBagOptions& mode(std::string v) { mode_ = std::move(v); return *this; }
    /// Entries equal to this index are left out of their bag (and the row is zero, with no gradient).
    EmbeddingBagOptions& padding_idx(std::optional<std::int64_t> v) { padding_idx_ = v; return *this; }
    std::int64_t num_embeddings_, embedding_dim_;
    std::string mode_ = "mean";
    std::optional<std::int64_t> padding_idx_;
};

/// Sums, averages or takes the maximum of each bag of embeddings without materialising the
/// per-index rows for the caller.
class EmbeddingBag : public Module {
    LAZYNN_MODULE(EmbeddingBag)
public:
    explicit EmbeddingBag(EmbeddingBagOptions options);
    EmbeddingBag(std::int64_t num_embeddings, std::int64_t embedding_dim, std::string mode = "mean")
        : EmbeddingBag(EmbeddingBagOptions(num_embeddings, embedding_dim).mode(std::move(mode))) {}
    /// Shapes: indices [B, L] (bags of equal length) -> [B, dim]
    Tensor forward(const Tensor& indices) override { return bags(indices, Tensor()); }
    /// Shapes: flat indices [n] with offsets [B] (each bag starts at its offset), or [B, L] with
    /// no offsets -> [B, dim]. An empty bag (or one holding only padding_idx) gives zeros.
    /// per_sample_weights (mode "sum" only) has the indices' shape and scales each looked-up row.
    Tensor bags(const Tensor& indices, const Tensor& offsets, const Tensor& per_sample_weights = Tensor());
    std::string extra_repr() const override;
    const EmbeddingBagOptions& options() const { return options_; }

    Parameter weight{this, "weight"};

private:
    EmbeddingBagOptions options_;
};

}  // namespace lazynn::nn
