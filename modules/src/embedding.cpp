#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/embedding.hpp>

#include "python_repr.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <vector>

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

/// PyTorch's embedding_renorm_: each looked-up row whose p-norm exceeds max_norm is scaled down
/// to it, in place and unrecorded.
void renormalize_rows(Parameter& weight, const Tensor& flat, double max_norm, double norm_type) {
    NoGradGuard no_grad;
    for (auto i : flat.to_vector<std::int64_t>()) {
        Tensor row = weight.select(0, i);
        const double norm = std::pow(row.abs().pow(norm_type).sum().item<double>(), 1.0 / norm_type);
        if (norm > max_norm) row.mul_(max_norm / (norm + 1e-7));
    }
}

/// The looked-up rows with the same values, whose gradient is divided by each index's count in
/// `flat` (scale_grad_by_freq): rows.detach() + (rows - rows.detach()) * scale is exactly rows.
Tensor scaled_by_frequency(const Tensor& rows, const Tensor& flat, std::int64_t num_rows) {
    const std::vector<std::int64_t> ids = flat.to_vector<std::int64_t>();
    std::vector<double> counts(static_cast<std::size_t>(num_rows), 0.0), scale;
    for (const auto i : ids) counts[static_cast<std::size_t>(i)] += 1.0;
    scale.reserve(ids.size());
    for (const auto i : ids) scale.push_back(1.0 / counts[static_cast<std::size_t>(i)]);
    const Tensor per_row = tensor(scale, {static_cast<std::int64_t>(scale.size()), 1}, kFloat64).to(rows.dtype());
    const Tensor fixed = rows.detach();
    return fixed + (rows - fixed) * per_row;
}

std::string norm_repr(const std::optional<double>& max_norm, double norm_type, bool scale_grad_by_freq) {
    std::string s;
    if (max_norm) s += ", max_norm=" + detail::python_float(*max_norm);
    if (norm_type != 2.0) s += ", norm_type=" + detail::python_float(norm_type);
    if (scale_grad_by_freq) s += ", scale_grad_by_freq=True";
    return s;
}

/// PyTorch's padding_idx rule for both classes: within [-num_embeddings, num_embeddings), a negative
/// one counted from the end. `message` is each class's own wording of the error.
void wrap_padding_idx(std::optional<std::int64_t>& padding_idx, std::int64_t num_embeddings, const char* message) {
    if (!padding_idx) return;
    if (*padding_idx >= num_embeddings || *padding_idx < -num_embeddings) throw ValueError(message);
    if (*padding_idx < 0) *padding_idx += num_embeddings;
}

/// N(0, 1) rows from `generator`, the padding row zeroed (PyTorch's reset_parameters).
void fill_table(Parameter& weight, Generator& generator, const std::optional<std::int64_t>& padding_idx) {
    init::normal_(weight, 0.0, 1.0, generator);
    if (padding_idx) {
        NoGradGuard no_grad;
        weight.select(0, *padding_idx).zero_();
    }
}

}  // namespace

Embedding::Embedding(EmbeddingOptions options) : options_(options) {
    set_name("Embedding");
    wrap_padding_idx(options_.padding_idx(), options_.num_embeddings(), "Padding_idx must be within num_embeddings");
    weight = Parameter(empty({options_.num_embeddings(), options_.embedding_dim()}));
    reset_parameters();
}

void Embedding::reset_parameters() {
    Generator gen = init_generator();
    fill_table(weight, gen, options_.padding_idx());
}

Tensor Embedding::forward(const Tensor& indices) {
    if (indices.dtype() != kInt64)
        throw DtypeError("Embedding: expected int64 indices, got " + dtype_name(indices.dtype()) + kIndicesTorchSays);
    const Tensor flat = indices.reshape({-1});
    check_indices(flat, weight.size(0), "Embedding");
    if (options_.max_norm()) renormalize_rows(weight, flat, *options_.max_norm(), options_.norm_type());
    Tensor out = weight.index_select(0, flat);
    if (options_.scale_grad_by_freq()) out = scaled_by_frequency(out, flat, weight.size(0));
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
    return s + norm_repr(options_.max_norm(), options_.norm_type(), options_.scale_grad_by_freq());
}

EmbeddingBag::EmbeddingBag(EmbeddingBagOptions options) : options_(std::move(options)) {
    set_name("EmbeddingBag");
    wrap_padding_idx(options_.padding_idx(), options_.num_embeddings(), "padding_idx must be within num_embeddings");
    if (options_.scale_grad_by_freq() && options_.mode() == EmbeddingBagMode::Max) {
        throw ValueError(
            "EmbeddingBag: scale_grad_by_freq is not supported with mode='max' (PyTorch documents it as "
            "unsupported and ignores it); use mode sum or mean, or leave scale_grad_by_freq off");
    }
    weight = Parameter(empty({options_.num_embeddings(), options_.embedding_dim()}));
    Generator gen = init_generator();
    fill_table(weight, gen, options_.padding_idx());
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
        if (options_.include_last_offset()) {
            // The last offset closes the last bag; PyTorch requires it to be the number of indices.
            if (starts.empty() || starts.back() != flat.numel()) {
                throw ValueError(
                    "EmbeddingBag: with include_last_offset the last offset must equal the number of "
                    "indices (" +
                    std::to_string(flat.numel()) + "), got offsets " + shape_to_list(Shape(starts)));
            }
            starts.pop_back();
        }
    } else {
        throw ShapeError("input has to be 1D or 2D Tensor, but got Tensor of dimension " +
                         std::to_string(indices.dim()));
    }
    if (options_.max_norm()) renormalize_rows(weight, flat, *options_.max_norm(), options_.norm_type());
    Tensor rows = weight.index_select(0, flat);
    if (options_.scale_grad_by_freq()) rows = scaled_by_frequency(rows, flat, weight.size(0));
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
    return std::to_string(options_.num_embeddings()) + ", " + std::to_string(options_.embedding_dim()) +
           norm_repr(options_.max_norm(), options_.norm_type(), options_.scale_grad_by_freq()) +
           ", mode=" + embedding_bag_mode_name(options_.mode()) +
           (options_.padding_idx() ? ", padding_idx=" + std::to_string(*options_.padding_idx()) : "");
}

}  // namespace lazynn::nn
