// mm, bmm, outer, dot: matmul with the rank checks of their PyTorch namesakes (autograd is
// matmul's, or mul and sum's).
#include "tensor_impl.hpp"

namespace lazynn {

namespace {

void check_rank(const Tensor& t, std::int64_t rank, const char* op, const char* what) {
    if (detail::checked(t, op).shape.size() != static_cast<std::size_t>(rank)) {
        throw RuntimeError(std::string(op) + ": " + what + " must be a " + std::to_string(rank) + "D tensor, got " +
                           std::to_string(t.dim()) + "D " + shape_to_list(t.shape()));
    }
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
    if (a.dtype() != b.dtype()) {
        throw DtypeError(std::string(op) + ": expected both tensors to have the same dtype, but got " +
                         dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
    }
}

}  // namespace

Tensor Tensor::mm(const Tensor& other) const {
    // Shapes: [n, m] x [m, p] -> [n, p].
    check_rank(*this, 2, "mm", "self");
    check_rank(other, 2, "mm", "mat2");
    check_same_dtype(*this, other, "mm");
    if (size(1) != other.size(0)) {
        throw ShapeError("mm: mat1 and mat2 shapes cannot be multiplied (" + shape_to_string(shape()) + " and " +
                         shape_to_string(other.shape()) + ")");
    }
    return matmul(other);
}

Tensor Tensor::bmm(const Tensor& other) const {
    // Shapes: [b, n, m] x [b, m, p] -> [b, n, p].
    check_rank(*this, 3, "bmm", "batch1");
    check_rank(other, 3, "bmm", "batch2");
    check_same_dtype(*this, other, "bmm");
    if (size(0) != other.size(0) || size(2) != other.size(1)) {
        throw ShapeError("bmm: Expected size for first two dimensions of batch2 tensor to be: [" +
                         std::to_string(size(0)) + ", " + std::to_string(size(2)) + "] but got: [" +
                         std::to_string(other.size(0)) + ", " + std::to_string(other.size(1)) + "].");
    }
    return matmul(other);
}

Tensor Tensor::outer(const Tensor& other) const {
    // Shapes: [n] x [m] -> [n, m].
    check_rank(*this, 1, "outer", "self");
    check_rank(other, 1, "outer", "vec2");
    return unsqueeze(1) * other.unsqueeze(0);
}

Tensor Tensor::dot(const Tensor& other) const {
    // Shapes: [n] . [n] -> [].
    check_rank(*this, 1, "dot", "1st argument");
    check_rank(other, 1, "dot", "2nd argument");
    check_same_dtype(*this, other, "dot");
    if (size(0) != other.size(0)) {
        throw ShapeError("dot: inconsistent tensor size, expected tensor [" + std::to_string(size(0)) + "] and src [" +
                         std::to_string(other.size(0)) + "] to have the same number of elements, but got " +
                         std::to_string(size(0)) + " and " + std::to_string(other.size(0)) + " elements respectively");
    }
    return (*this * other).sum();
}

Tensor mm(const Tensor& a, const Tensor& b) { return a.mm(b); }
Tensor bmm(const Tensor& a, const Tensor& b) { return a.bmm(b); }
Tensor outer(const Tensor& a, const Tensor& b) { return a.outer(b); }
Tensor dot(const Tensor& a, const Tensor& b) { return a.dot(b); }

}  // namespace lazynn
