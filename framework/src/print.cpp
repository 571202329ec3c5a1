// Tensor printing in PyTorch's layout: shared element width, int/fixed/scientific modes,
// 80-column wrapping, summarisation with "..." above 1000 elements.
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

namespace lazynn {
namespace {

constexpr int kPrecision = 4;
constexpr std::int64_t kThreshold = 1000;
constexpr std::int64_t kEdgeItems = 3;
constexpr int kLineWidth = 80;

std::string printf_string(const char* format, double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, kPrecision, v);
    return buffer;
}

/// PyTorch's _Formatter: one mode and width shared by every element.
class Formatter {
public:
    Formatter(const std::vector<double>& values, bool integral, bool boolean = false)
        : integral_(integral || boolean), boolean_(boolean) {
        if (integral_) {
            for (double v : values) width_ = std::max(width_, format(v).size());
            return;
        }
        bool all_int = true, any_finite = false;
        double max_abs = 0, min_abs = std::numeric_limits<double>::infinity();
        for (double v : values) {
            if (!std::isfinite(v)) continue;
            any_finite = true;
            if (std::ceil(v) != v) all_int = false;
            if (v != 0) {
                max_abs = std::max(max_abs, std::abs(v));
                min_abs = std::min(min_abs, std::abs(v));
            }
        }
        if (any_finite && all_int) {
            int_mode_ = true;
            sci_mode_ = max_abs > 0 && (max_abs / min_abs > 1000.0 || max_abs > 1e8);
        } else if (any_finite && max_abs > 0) {
            sci_mode_ = max_abs / min_abs > 1000.0 || max_abs > 1e8 || min_abs < 1e-4;
        }
        for (double v : values) width_ = std::max(width_, format(v).size());
    }

    std::size_t width() const { return width_; }

    std::string format(double v) const {
        if (boolean_) return v != 0 ? "True" : "False";
        if (integral_) return std::to_string(static_cast<std::int64_t>(v));
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
        if (sci_mode_) return printf_string("%.*e", v);
        if (int_mode_) {
            char buffer[64];
            std::snprintf(buffer, sizeof buffer, "%.0f.", v);
            return buffer;
        }
        return printf_string("%.*f", v);
    }

    std::string padded(double v) const {
        const std::string s = format(v);
        std::string out;
        out.append(width_ > s.size() ? width_ - s.size() : 0, ' ').append(s);
        return out;
    }

private:
    bool integral_;
    bool boolean_;
    bool int_mode_ = false;
    bool sci_mode_ = false;
    std::size_t width_ = 1;
};

struct Printer {
    const std::vector<double>& data;
    const Shape& shape;
    Shape strides;
    bool summarize;

    /// Indices shown along a dim of `size` (-1 marks the "..." gap).
    std::vector<std::int64_t> shown(std::int64_t size) const {
        std::vector<std::int64_t> idx;
        if (summarize && size > 2 * kEdgeItems) {
            for (std::int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
            idx.push_back(-1);
            for (std::int64_t i = size - kEdgeItems; i < size; ++i) idx.push_back(i);
        } else {
            for (std::int64_t i = 0; i < size; ++i) idx.push_back(i);
        }
        return idx;
    }

    void collect(std::size_t d, std::int64_t offset, std::vector<double>& out) const {
        if (d == shape.size()) {
            out.push_back(data[static_cast<std::size_t>(offset)]);
            return;
        }
        for (auto i : shown(shape[d])) {
            if (i >= 0) collect(d + 1, offset + i * strides[d], out);
        }
    }

    std::string render(std::size_t d, std::int64_t offset, std::size_t indent, const Formatter& f) const {
        if (d + 1 == shape.size()) {
            const std::size_t per_line = std::max<std::size_t>(
                1,
                (static_cast<std::size_t>(kLineWidth) - std::min<std::size_t>(indent, kLineWidth)) / (f.width() + 2));
            std::vector<std::string> items;
            for (auto i : shown(shape[d]))
                items.push_back(i < 0 ? std::string(" ...") : f.padded(data[static_cast<std::size_t>(offset + i)]));
            std::string s = "[";
            for (std::size_t k = 0; k < items.size(); ++k) {
                if (k && k % per_line == 0) {
                    s.append(",\n").append(indent + 1, ' ');
                } else if (k) {
                    s.append(", ");
                }
                s.append(items[k]);
            }
            return s + "]";
        }
        std::string separator(",");
        separator.append(shape.size() - d - 1, '\n').append(indent + 1, ' ');
        std::string s = "[";
        bool first = true;
        for (auto i : shown(shape[d])) {
            if (!first) s += separator;
            first = false;
            s.append(i < 0 ? std::string("...") : render(d + 1, offset + i * strides[d], indent + 1, f));
        }
        return s + "]";
    }
};

}  // namespace

std::string Tensor::str() const {
    if (!defined()) return "tensor(undefined)";
    const TensorImpl& i = impl();
    if (i.uninitialized()) {
        return i.state == TensorState::UninitializedBuffer ? "<UninitializedBuffer>" : "<UninitializedParameter>";
    }
    const std::vector<double> values = to_vector<double>();
    const bool integral = i.dtype == kInt64;
    const bool boolean = i.dtype == kBool;
    std::string body;
    const std::size_t indent = 7;  // len("tensor(")
    if (i.numel() == 0) {
        body = "[]";
    } else if (i.shape.empty()) {
        body = Formatter(values, integral, boolean).format(values[0]);
    } else {
        Printer printer{values, i.shape, contiguous_strides(i.shape), i.numel() > kThreshold};
        std::vector<double> visible;
        printer.collect(0, 0, visible);
        body = printer.render(0, 0, indent, Formatter(visible, integral, boolean));
    }
    std::string suffix;
    if (i.numel() == 0 && i.shape != Shape{0}) {
        std::string size = "(";
        for (std::size_t k = 0; k < i.shape.size(); ++k) size.append(k ? ", " : "").append(std::to_string(i.shape[k]));
        suffix.append(", size=").append(size).append(i.shape.size() == 1 ? ",)" : ")");
    }
    // PyTorch names the dtype when it is not float32, int64 or bool, and for every empty non-float32 tensor.
    if (i.dtype == kFloat64 || is_float16(i.dtype) || (i.numel() == 0 && i.dtype != kFloat32))
        suffix += ", dtype=torch." + dtype_name(i.dtype);
    if (i.grad_fn)
        suffix.append(", grad_fn=<").append(i.grad_fn->name()).append(">");
    else if (i.requires_grad)
        suffix += ", requires_grad=True";
    std::string result("tensor(");
    result.append(body).append(suffix).append(")");
    return result;
}

std::ostream& operator<<(std::ostream& os, const Tensor& tensor) { return os << tensor.str(); }

}  // namespace lazynn
