#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/data/transforms.hpp>

namespace lazynn::data::transforms {
namespace {

void check_images(const Tensor& t, const char* name) {
    if (t.dim() != 4)
        throw ShapeError(std::string(name) + ": expected images [N, C, H, W], got " + shape_to_list(t.shape()));
}

}  // namespace

BatchTransform normalize(std::vector<double> mean, std::vector<double> std) {
    if (mean.size() != std.size()) throw ValueError("normalize: mean and std need the same number of channels");
    return [mean = std::move(mean), std = std::move(std)](Example e, Generator&) {
        check_images(e.data, "normalize");
        const auto c = static_cast<std::int64_t>(mean.size());
        if (e.data.size(1) != c) {
            throw ShapeError("normalize: " + std::to_string(c) + " channel statistics for images with " +
                             std::to_string(e.data.size(1)) + " channels");
        }
        NoGradGuard no_grad;
        const Tensor m = tensor(mean, {1, c, 1, 1}, kFloat64).to(e.data.dtype());
        const Tensor s = tensor(std, {1, c, 1, 1}, kFloat64).to(e.data.dtype());
        e.data = (e.data - m) / s;
        return e;
    };
}

BatchTransform random_crop(std::int64_t size, std::int64_t padding) {
    return [size, padding](Example e, Generator& gen) {
        check_images(e.data, "random_crop");
        NoGradGuard no_grad;
        const std::int64_t n = e.data.size(0), c = e.data.size(1), h = e.data.size(2), w = e.data.size(3);
        const std::int64_t ph = h + 2 * padding, pw = w + 2 * padding;
        if (size > ph || size > pw)
            throw ValueError("random_crop: crop size " + std::to_string(size) + " exceeds the padded image");
        Tensor padded = zeros({n, c, ph, pw}, e.data.dtype());
        padded.narrow(2, padding, h).narrow(3, padding, w).copy_(e.data);
        Tensor out = empty({n, c, size, size}, e.data.dtype());
        for (std::int64_t i = 0; i < n; ++i) {
            const auto top = static_cast<std::int64_t>(gen.next_u64() % static_cast<std::uint64_t>(ph - size + 1));
            const auto left = static_cast<std::int64_t>(gen.next_u64() % static_cast<std::uint64_t>(pw - size + 1));
            out.select(0, i).copy_(padded.select(0, i).narrow(1, top, size).narrow(2, left, size));
        }
        e.data = out;
        return e;
    };
}

BatchTransform random_horizontal_flip(double p) {
    return [p](Example e, Generator& gen) {
        check_images(e.data, "random_horizontal_flip");
        NoGradGuard no_grad;
        Tensor out = e.data.contiguous().clone();
        const std::int64_t n = out.size(0), w = out.size(3);
        const std::int64_t rows = out.size(1) * out.size(2);
        visit_dtype(out.dtype(), [&](auto tag) {
            using T = typename decltype(tag)::type;
            T* data = out.data_ptr<T>();
            for (std::int64_t i = 0; i < n; ++i) {
                if (gen.uniform() >= p) continue;
                for (std::int64_t r = 0; r < rows; ++r) {
                    T* row = data + (i * rows + r) * w;
                    std::reverse(row, row + w);
                }
            }
        });
        e.data = out;
        return e;
    };
}

BatchTransform compose(std::vector<BatchTransform> transforms) {
    return [transforms = std::move(transforms)](Example e, Generator& gen) {
        for (const auto& t : transforms) e = t(std::move(e), gen);
        return e;
    };
}

}  // namespace lazynn::data::transforms
