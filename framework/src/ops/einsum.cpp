// einsum: Einstein summation over any number of operands in PyTorch's equation syntax (letters,
// one "..." per term, an optional "->" output, spaces ignored). It is composed from recording ops
// (sum, mul, expand, permute, reshape, matmul), so its gradient and its second derivative are
// theirs. Operands are contracted left to right, as PyTorch 1.13 does without opt_einsum: each
// pair becomes one batched matmul over [shared kept labels] x [own labels] x [summed labels].
#include "tensor_impl.hpp"

#include <array>
#include <cstddef>

namespace lazynn {

namespace {

// A-Z then a-z (PyTorch's order for an implicit output); "..." dims are kLetters, kLetters + 1, ...
constexpr int kLetters = 52;

int letter_label(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
    return -1;
}

std::string label_name(int label) {
    if (label < 26) return std::string(1, static_cast<char>('A' + label));
    if (label < kLetters) return std::string(1, static_cast<char>('a' + label - 26));
    return "... (dim " + std::to_string(label - kLetters) + ")";
}

/// One term of the equation: its letters in order, and where its "..." stands among them (if any).
struct Term {
    std::vector<int> letters;
    std::optional<std::size_t> ellipsis_at;
};

struct Equation {
    std::vector<Term> inputs;
    std::optional<Term> output;  // none: implicit output
};

Equation parse(std::string_view equation, std::size_t operands) {
    Equation eq;
    Term current;
    bool in_output = false;
    auto finish_term = [&] {
        if (in_output) {
            eq.output = current;
        } else {
            eq.inputs.push_back(current);
        }
        current = Term{};
    };
    for (std::size_t i = 0; i < equation.size(); ++i) {
        const char c = equation[i];
        if (c == ' ') continue;
        if (c == '.') {
            if (current.ellipsis_at || equation.substr(i, 3) != "...") {
                throw RuntimeError("einsum(): found '.' for " +
                                   (in_output ? std::string("output") : "operand " + std::to_string(eq.inputs.size())) +
                                   " that is not part of any ellipsis");
            }
            current.ellipsis_at = current.letters.size();
            i += 2;
        } else if (c == ',' && !in_output) {
            finish_term();
        } else if (c == '-' && !in_output && i + 1 < equation.size() && equation[i + 1] == '>') {
            finish_term();
            in_output = true;
            ++i;
        } else if (const int label = letter_label(c); label >= 0) {
            current.letters.push_back(label);
        } else {
            throw RuntimeError("einsum(): invalid subscript given at index " + std::to_string(i) +
                               " in the equation string, subscripts must be in [a-zA-Z]");
        }
    }
    finish_term();
    if (eq.inputs.size() > operands) {
        throw RuntimeError("einsum(): fewer operands were provided than specified in the equation (" +
                           std::to_string(eq.inputs.size()) + " terms, " + std::to_string(operands) + " operands)");
    }
    if (eq.inputs.size() < operands) {
        throw RuntimeError("einsum(): more operands were provided than specified in the equation (" +
                           std::to_string(eq.inputs.size()) + " terms, " + std::to_string(operands) + " operands)");
    }
    return eq;
}

/// An operand during the contraction: a tensor and one label per dim, no label twice.
struct Operand {
    Tensor t;
    std::vector<int> labels;
};

/// The labels of `term` for a tensor of `rank` dims, "..." expanded right-aligned into the
/// `ellipsis_dims` labels shared by every operand.
std::vector<int> expand_term(const Term& term, std::int64_t rank, std::int64_t ellipsis_dims) {
    std::vector<int> labels;
    const auto explicit_count = static_cast<std::int64_t>(term.letters.size());
    for (std::size_t i = 0; i <= term.letters.size(); ++i) {
        if (term.ellipsis_at == i) {
            const std::int64_t own = rank - explicit_count;
            for (std::int64_t k = ellipsis_dims - own; k < ellipsis_dims; ++k)
                labels.push_back(kLetters + static_cast<int>(k));
        }
        if (i < term.letters.size()) labels.push_back(term.letters[i]);
    }
    return labels;
}

/// Takes the diagonal over every label repeated within one operand ("ii->i"): multiplies by an
/// identity mask and sums the repeat away. O(n^2) in that label's size, which only a repeated label
/// costs; a strided diagonal view would be O(n).
Operand take_diagonals(Tensor t, std::vector<int> labels, std::size_t operand) {
    for (std::size_t p = 0; p < labels.size(); ++p) {
        for (std::size_t q = p + 1; q < labels.size();) {
            if (labels[q] != labels[p]) {
                ++q;
                continue;
            }
            const auto pd = static_cast<std::int64_t>(p), qd = static_cast<std::int64_t>(q);
            const std::int64_t n = t.size(pd);
            if (t.size(qd) != n) {
                throw ShapeError("einsum(): subscript " + label_name(labels[p]) + " is repeated for operand " +
                                 std::to_string(operand) + " but the sizes don't match, " + std::to_string(t.size(qd)) +
                                 " != " + std::to_string(n));
            }
            const Tensor index = arange(static_cast<double>(n), kInt64);
            Shape mask_shape(labels.size(), 1);
            mask_shape[p] = n;
            mask_shape[q] = n;
            const Tensor identity = (index.unsqueeze(1) == index.unsqueeze(0)).to(t.dtype()).reshape(mask_shape);
            t = (t * identity).sum({qd});
            labels.erase(labels.begin() + static_cast<std::ptrdiff_t>(q));
        }
    }
    return {std::move(t), std::move(labels)};
}

/// Sums the dims whose label `keep` does not hold.
void sum_unkept(Operand& op, const std::array<bool, 256>& keep) {
    Shape dims;
    std::vector<int> rest;
    for (std::size_t i = 0; i < op.labels.size(); ++i) {
        if (keep[static_cast<std::size_t>(op.labels[i])]) {
            rest.push_back(op.labels[i]);
        } else {
            dims.push_back(static_cast<std::int64_t>(i));
        }
    }
    if (dims.empty()) return;
    op.t = op.t.sum(dims);
    op.labels = std::move(rest);
}

std::int64_t position(const std::vector<int>& labels, int label) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] == label) return static_cast<std::int64_t>(i);
    }
    return -1;
}

/// a x b over their shared labels: the shared labels `later` still needs stay (a batch), the other
/// shared ones are summed by the matmul, and each side's own labels become rows and columns.
/// Shapes: a [labels of a], b [labels of b] -> [batch..., a's own..., b's own...].
Operand contract(Operand a, Operand b, const std::array<bool, 256>& later) {
    std::array<bool, 256> in_a{}, in_b{};
    for (int l : a.labels) in_a[static_cast<std::size_t>(l)] = true;
    for (int l : b.labels) in_b[static_cast<std::size_t>(l)] = true;
    std::array<bool, 256> keep_a = later, keep_b = later;
    for (std::size_t l = 0; l < 256; ++l) {
        keep_a[l] = keep_a[l] || in_b[l];
        keep_b[l] = keep_b[l] || in_a[l];
    }
    sum_unkept(a, keep_a);  // a label of a alone that nothing later needs is summed right away
    sum_unkept(b, keep_b);
    std::vector<int> batch, own_a, own_b, summed;
    for (int l : a.labels) {
        if (position(b.labels, l) < 0) {
            own_a.push_back(l);
        } else if (later[static_cast<std::size_t>(l)]) {
            batch.push_back(l);
        } else {
            summed.push_back(l);
        }
    }
    for (int l : b.labels) {
        if (position(a.labels, l) < 0) own_b.push_back(l);
    }
    // A shared label may have size 1 on one side (broadcasting): expand it to the other's size.
    auto size_of = [&](int l) {
        const std::int64_t pa = position(a.labels, l), pb = position(b.labels, l);
        const std::int64_t sa = pa < 0 ? 1 : a.t.size(pa), sb = pb < 0 ? 1 : b.t.size(pb);
        return sa == 1 ? sb : sa;
    };
    auto arrange = [&](const Operand& op, const std::vector<std::vector<int>>& groups) {
        Shape order, expanded;
        Shape flat;
        for (const auto& group : groups) {
            std::int64_t product = 1;
            for (int l : group) {
                order.push_back(position(op.labels, l));
                expanded.push_back(size_of(l));
                product *= size_of(l);
            }
            flat.push_back(product);
        }
        // order lists every label of op (each is in exactly one group), so permute then expand.
        return op.t.permute(order).expand(expanded).reshape(flat);
    };
    const Tensor left = arrange(a, {batch, own_a, summed});   // [B, M, K]
    const Tensor right = arrange(b, {batch, summed, own_b});  // [B, K, N]
    Shape out_shape;
    std::vector<int> out_labels;
    for (const auto* group : {&batch, &own_a, &own_b}) {
        for (int l : *group) {
            out_shape.push_back(size_of(l));
            out_labels.push_back(l);
        }
    }
    Tensor product = left.size(0) == 1 ? matmul(left.squeeze(0), right.squeeze(0)) : matmul(left, right);
    return {product.reshape(out_shape), std::move(out_labels)};
}

}  // namespace

Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands) {
    if (operands.empty()) throw RuntimeError("einsum(): must provide at least one operand");
    const Equation eq = parse(equation, operands.size());
    for (std::size_t k = 0; k < operands.size(); ++k) {
        detail::checked(operands[k], "einsum");
        if (operands[k].dtype() != operands[0].dtype()) {
            throw DtypeError("einsum(): expected every operand to have the same dtype, but operand 0 is " +
                             dtype_name(operands[0].dtype()) + " and operand " + std::to_string(k) + " is " +
                             dtype_name(operands[k].dtype()));
        }
    }
    // How many dims "..." stands for: the most any operand gives it (the others broadcast).
    std::int64_t ellipsis_dims = 0;
    for (std::size_t k = 0; k < operands.size(); ++k) {
        const Term& term = eq.inputs[k];
        const auto letters = static_cast<std::int64_t>(term.letters.size());
        const std::int64_t rank = operands[k].dim();
        if (!term.ellipsis_at && letters != rank) {
            throw ShapeError("einsum(): the number of subscripts in the equation (" + std::to_string(letters) +
                             ") does not match the number of dimensions (" + std::to_string(rank) + ") for operand " +
                             std::to_string(k) + " and no ellipsis was given");
        }
        if (term.ellipsis_at && letters > rank) {
            throw ShapeError("einsum(): the number of subscripts in the equation (" + std::to_string(letters) +
                             ") is more than the number of dimensions (" + std::to_string(rank) + ") for operand " +
                             std::to_string(k));
        }
        ellipsis_dims = std::max(ellipsis_dims, rank - letters);
    }
    if (kLetters + ellipsis_dims > 256) throw ShapeError("einsum(): \"...\" stands for more than 204 dims");

    // Every label's size, checking that the operands agree (or broadcast from 1).
    std::vector<Operand> ops;
    std::array<std::int64_t, 256> sizes{};
    std::array<int, 256> count{};
    sizes.fill(-1);
    for (std::size_t k = 0; k < operands.size(); ++k) {
        Operand op = take_diagonals(operands[k], expand_term(eq.inputs[k], operands[k].dim(), ellipsis_dims), k);
        for (std::size_t i = 0; i < op.labels.size(); ++i) {
            const auto l = static_cast<std::size_t>(op.labels[i]);
            const std::int64_t n = op.t.size(static_cast<std::int64_t>(i));
            if (sizes[l] >= 0 && n != sizes[l] && n != 1 && sizes[l] != 1) {
                throw ShapeError("einsum(): subscript " + label_name(op.labels[i]) + " has size " + std::to_string(n) +
                                 " for operand " + std::to_string(k) +
                                 " which does not broadcast with previously seen size " + std::to_string(sizes[l]));
            }
            if (sizes[l] < 0 || sizes[l] == 1) sizes[l] = n;
            ++count[l];
        }
        ops.push_back(std::move(op));
    }

    // The output's labels: as written, or (implicit) "..." then the letters seen once, in order.
    std::vector<int> output;
    if (eq.output) {
        std::array<bool, 256> seen{};
        for (int l : expand_term(
                 *eq.output,
                 static_cast<std::int64_t>(eq.output->letters.size()) + (eq.output->ellipsis_at ? ellipsis_dims : 0),
                 ellipsis_dims)) {
            if (seen[static_cast<std::size_t>(l)]) {
                throw RuntimeError("einsum(): output subscript " + label_name(l) +
                                   " appears more than once in the output");
            }
            if (count[static_cast<std::size_t>(l)] == 0) {
                throw RuntimeError("einsum(): output subscript " + label_name(l) +
                                   " does not appear in the equation for any input operand");
            }
            seen[static_cast<std::size_t>(l)] = true;
            output.push_back(l);
        }
    } else {
        for (std::int64_t k = 0; k < ellipsis_dims; ++k) output.push_back(kLetters + static_cast<int>(k));
        std::array<int, kLetters> letter_uses{};
        for (const Term& term : eq.inputs) {
            for (int l : term.letters) ++letter_uses[static_cast<std::size_t>(l)];
        }
        for (int l = 0; l < kLetters; ++l) {
            if (letter_uses[static_cast<std::size_t>(l)] == 1) output.push_back(l);
        }
    }
    std::array<bool, 256> in_output{};
    for (int l : output) in_output[static_cast<std::size_t>(l)] = true;

    // Contract left to right; a label stays while the output or a later operand needs it.
    Operand result = std::move(ops[0]);
    for (std::size_t k = 1; k < ops.size(); ++k) {
        std::array<bool, 256> later = in_output;
        for (std::size_t j = k + 1; j < ops.size(); ++j) {
            for (int l : ops[j].labels) later[static_cast<std::size_t>(l)] = true;
        }
        result = contract(std::move(result), std::move(ops[k]), later);
    }
    sum_unkept(result, in_output);
    Shape order;
    for (int l : output) order.push_back(position(result.labels, l));
    return result.t.permute(order);
}

}  // namespace lazynn
