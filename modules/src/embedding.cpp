#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/embedding.hpp>

#include <cmath>
#include <cstdio>

namespace lazynn::nn {

const char* embedding_bag_mode_name(EmbeddingBagMode mode) {
    switch (mode) {
        case EmbeddingBagMode::Sum:
            return "sum";
        case EmbeddingBagMode::Mean:
            return "mean";
        case EmbeddingBagMode::Max:
            return "max";
    }
    throw ValueError("mode has to be one of sum, mean or max");
}
namespace {

// PyTorch 1.13's wording (lazynn has no int32, so int64 is the one index dtype).
constexpr const char* kIndicesTorchSays =
    " (PyTorch: Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int)";

/// Indices must lie in [0, rows): negative ones do not wrap (PyTorch's "index out of range in
/// self"), and max_norm renormalises rows before the lookup would catch them.
void check_indices(const Tensor& flat, std::int64_t rows, const char* module) {
    for (const std::int64_t i : flat.to_vector<std::int64_t>()) {
        if (i < 0 || i >= rows) {
            throw IndexError(std::string(module) + ": index out of range in self (index " + std::to_string(i) +
                             ", num_embeddings " + std::to_string(rows) + ")");
        }
    }
}

}  // namespace

Embedding::Embedding(EmbeddingOptions options) : options_(options) {
    set_name("Embedding");
    auto& p = options_.padding_idx();
    if (p) {
        if (*p >= options_.num_embeddings() || *p < -options_.num_embeddings())
            throw ValueError("Padding_idx must be within num_embeddings");
        if (*p < 0) *p += options_.num_embeddings();
    }
    weight = Parameter(empty({options_.num_embeddings(), options_.embedding_dim()}));
    reset_parameters();
}

void Embedding::reset_parameters() {
    Generator gen = init_generator();
    init::normal_(weight, 0.0, 1.0, gen);
    if (options_.padding_idx()) {
        NoGradGuard no_grad;
        weight.select(0, *options_.padding_idx()).zero_();
    }
}

Tensor Embedding::forward(const Tensor& indices) {
    if (indices.dtype() != kInt64)
        throw DtypeError("Embedding: expected int64 indices, got " + dtype_name(indices.dtype()) + kIndicesTorchSays);
    const Tensor flat = indices.reshape({-1});
    check_indices(flat, weight.size(0), "Embedding");
    if (options_.max_norm()) {
        // Renormalise the rows about to be used, in place and without recording (PyTorch's embedding_renorm_).
        NoGradGuard no_grad;
        for (auto i : flat.to_vector<std::int64_t>()) {
            Tensor row = weight.select(0, i);
            const double norm =
                std::pow(row.abs().pow(options_.norm_type()).sum().item<double>(), 1.0 / options_.norm_type());
            if (norm > *options_.max_norm()) row.mul_(*options_.max_norm() / (norm + 1e-7));
        }
    }
    Tensor out = weight.index_select(0, flat);
    if (options_.padding_idx()) {
        // Same values, but no gradient flows to the padding row.
        const Tensor keep = (flat != static_cast<double>(*options_.padding_idx())).unsqueeze(1);
        out = where(keep, out, out.detach());
    }
    Shape shape = indices.shape();
    shape.push_back(options_.embedding_dim());
    return out.reshape(shape);
}

std::string Embedding::extra_repr() const {
    std::string s = std::to_string(options_.num_embeddings()) + ", " + std::to_string(options_.embedding_dim());
    if (options_.padding_idx()) s += ", padding_idx=" + std::to_string(*options_.padding_idx());
    if (options_.max_norm()) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, ", max_norm=%g", *options_.max_norm());
        s += buffer;
    }
    return s;
}

EmbeddingBag::EmbeddingBag(EmbeddingBagOptions options) : options_(std::move(options)) {
    set_name("EmbeddingBag");
    if (auto& pad = options_.padding_idx()) {
        if (*pad >= options_.num_embeddings() || *pad < -options_.num_embeddings())
            throw ValueError("padding_idx must be within num_embeddings");
        if (*pad < 0) *pad += options_.num_embeddings();
    }
    weight = Parameter(empty({options_.num_embeddings(), options_.embedding_dim()}));
    Generator gen = init_generator();
    init::normal_(weight, 0.0, 1.0, gen);
    if (options_.padding_idx()) {
        NoGradGuard no_grad;
        weight.select(0, *options_.padding_idx()).zero_();
    }
}

Tensor EmbeddingBag::bags(const Tensor& indices, const Tensor& offsets, const Tensor& per_sample_weights) {
    if (indices.dtype() != kInt64)
        throw DtypeError("EmbeddingBag: expected int64 indices, got " + dtype_name(indices.dtype()) +
                         kIndicesTorchSays);
    check_indices(indices.reshape({-1}), weight.size(0), "EmbeddingBag");
    const std::string mode = embedding_bag_mode_name(options_.mode());
    if (per_sample_weights.defined()) {
        if (mode != "sum") {
            throw NotImplementedError(
                "embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for mode='sum' "
                "(got mode='" +
                mode + "'). Please open a feature request on GitHub.");
        }
        if (per_sample_weights.shape() != indices.shape()) {
            throw ValueError("embedding_bag: If per_sample_weights (" + shape_to_list(per_sample_weights.shape()) +
                             ") is not None, then it must have the same shape as the input (" +
                             shape_to_list(indices.shape()) + ")");
        }
    }
    std::vector<std::int64_t> starts;
    Tensor flat;
    if (indices.dim() == 2) {
        if (offsets.defined()) throw ValueError("if input is 2D, then offsets has to be None");
        flat = indices.reshape({-1});
        for (std::int64_t b = 0; b < indices.size(0); ++b) starts.push_back(b * indices.size(1));
    } else if (indices.dim() == 1) {
        if (!offsets.defined()) throw ValueError("offsets has to be a 1D Tensor but got None");
        flat = indices;
        starts = offsets.to_vector<std::int64_t>();
    } else {
        throw ShapeError("input has to be 1D or 2D Tensor, but got Tensor of dimension " +
                         std::to_string(indices.dim()));
    }
    Tensor rows = weight.index_select(0, flat);
    if (per_sample_weights.defined()) rows = rows * per_sample_weights.reshape({-1, 1}).to(rows.dtype());
    const std::vector<std::int64_t> ids = flat.to_vector<std::int64_t>();
    const auto total = static_cast<std::int64_t>(ids.size());
    std::vector<Tensor> out;
    for (std::size_t b = 0; b < starts.size(); ++b) {
        const std::int64_t begin = starts[b], end = b + 1 < starts.size() ? starts[b + 1] : total;
        if (begin < 0 || end > total || begin > end)
            throw ValueError("EmbeddingBag: offsets must be non-decreasing and within the input");
        // Entries equal to padding_idx do not count, not even towards a mean's divisor.
        std::vector<std::int64_t> members;
        for (std::int64_t i = begin; i < end; ++i) {
            if (!options_.padding_idx() || ids[static_cast<std::size_t>(i)] != *options_.padding_idx())
                members.push_back(i);
        }
        if (members.empty()) {
            out.push_back(zeros({options_.embedding_dim()}, weight.dtype()));
            continue;
        }
        const bool contiguous = members.size() == static_cast<std::size_t>(end - begin);
        const Tensor bag = contiguous
                               ? rows.narrow(0, begin, end - begin)
                               : rows.index_select(0, tensor(members, {static_cast<std::int64_t>(members.size())}));
        out.push_back(mode == "sum" ? bag.sum({0}) : mode == "mean" ? bag.mean({0}) : bag.max(0).values);
    }
    return stack(out, 0);
}

std::string EmbeddingBag::extra_repr() const {
    std::string s = std::to_string(options_.num_embeddings()) + ", " + std::to_string(options_.embedding_dim()) +
                    ", mode=" + embedding_bag_mode_name(options_.mode());
    if (options_.padding_idx()) s += ", padding_idx=" + std::to_string(*options_.padding_idx());
    return s;
}

}  // namespace lazynn::nn
