// Module printing (PyTorch's repr), parameter counts and the summary table.
#include "module_registry.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

#include <iomanip>
#include <ostream>
#include <sstream>

namespace lazynn {
namespace {

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> lines;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
}

/// PyTorch's _addindent: indents every line but the first.
std::string add_indent(const std::string& s, std::size_t spaces) {
    const auto lines = split_lines(s);
    if (lines.size() <= 1) return s;
    std::string out = lines[0];
    for (std::size_t i = 1; i < lines.size(); ++i) out += "\n" + std::string(spaces, ' ') + lines[i];
    return out;
}

}  // namespace

std::string Module::str() const {
    const std::string extra = extra_repr();
    std::vector<std::string> lines = extra.empty() ? std::vector<std::string>{} : split_lines(extra);
    const std::size_t extra_count = lines.size();
    for (const auto& slot : registry_->children) {
        const Module* child = slot.get();
        lines.push_back("(" + slot.name + "): " + (child ? add_indent(child->str(), 2) : std::string("None")));
    }
    std::string out = name() + "(";
    if (!lines.empty()) {
        if (extra_count == 1 && lines.size() == 1) {
            out += lines[0];
        } else {
            out += "\n  ";
            for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? "\n  " : "") + lines[i];
            out += "\n";
        }
    }
    return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.str(); }

ParameterCount Module::num_parameters() const {
    ParameterCount count;
    for (const auto& p : parameters()) {
        if (lazynn::is_lazy(p)) {
            ++count.uninitialized;
            continue;
        }
        count.total += p.numel();
        if (p.requires_grad()) count.trainable += p.numel();
    }
    return count;
}

std::string Module::summary(const Shape& input_shape) {
    return summary_of(shape_to_list(input_shape), [&] { initialize(zeros(input_shape)); });
}

std::string Module::describe_inputs(const std::vector<Tensor>& inputs) {
    std::string out;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        out += (i ? ", " : "") + (inputs[i].defined() ? shape_to_list(inputs[i].shape()) : std::string("None"));
    }
    return out;
}

std::string Module::summary_of(const std::string& inputs_description, const std::function<void()>& pass) {
    struct Row {
        std::string path, type;
        std::string outputs;
        std::int64_t params = 0;
        bool ran = false;
    };
    std::vector<Row> rows;
    std::vector<HookHandle> handles;
    auto mods = named_modules();
    rows.resize(mods.size());
    for (std::size_t i = 0; i < mods.size(); ++i) {
        rows[i].path = mods[i].first.empty() ? "(root)" : mods[i].first;
        handles.push_back(mods[i].second->register_forward_hook(
            [&rows, i](Module&, const std::vector<Tensor>&, const std::vector<Tensor>& outputs) {
                rows[i].outputs = describe_inputs(outputs);
                rows[i].ran = true;
            }));
    }
    try {
        pass();
    } catch (...) {
        for (auto& h : handles) h.remove();
        throw;
    }
    for (auto& h : handles) h.remove();

    std::int64_t total = 0, trainable = 0;
    for (std::size_t i = 0; i < mods.size(); ++i) {
        rows[i].type = mods[i].second->name();
        for (const auto& [n, p] : mods[i].second->named_parameters("", false)) {
            if (lazynn::is_lazy(p)) continue;
            rows[i].params += p.numel();
            total += p.numel();
            if (p.requires_grad()) trainable += p.numel();
        }
    }
    std::ostringstream out;
    out << std::left << std::setw(32) << "Layer (type)" << std::setw(24) << "Output Shape" << std::right
        << std::setw(12) << "Param #"
        << "\n";
    out << std::string(68, '=') << "\n";
    for (const auto& r : rows) {
        out << std::left << std::setw(32) << (r.path + " (" + r.type + ")") << std::setw(24)
            << (r.ran ? r.outputs : std::string("--")) << std::right << std::setw(12) << r.params << "\n";
    }
    out << std::string(68, '=') << "\n";
    out << "Input shape: " << inputs_description << "\n";
    out << "Total params: " << total << "\nTrainable params: " << trainable
        << "\nNon-trainable params: " << (total - trainable) << "\n";
    return out.str();
}

}  // namespace lazynn
