// The example from docs/writing-a-module.md; CI compiles and runs it.
#include <lazynn/lazynn.hpp>

#include <iostream>

using namespace lazynn;

// A residual block: members register themselves by being declared.
struct Residual : Cloneable<Residual> {
    nn::Linear inner{this, "inner", 16, 16};
    nn::GELU act{this, "act"};
    Parameter gate{this, "gate", zeros({1})};         // a learnable scalar
    Buffer calls{this, "calls", zeros({1}, kInt64)};  // saved in state_dict, not trained

    Tensor forward(const Tensor& x) override {
        {
            NoGradGuard no_grad;
            calls.add_(1.0);
        }
        return x + act(inner(x)) * gate.sigmoid();
    }
    std::string extra_repr() const override { return "width=16"; }
};

struct Model : Cloneable<Model> {
    nn::LazyLinear stem{this, "stem", 16};  // in_features comes from the first batch
    nn::ModuleList blocks{this, "blocks"};
    nn::Linear head{this, "head", 16, 3};

    Model() {
        for (int i = 0; i < 2; ++i) blocks.push_back(Residual());  // children made in a loop
    }
    Tensor forward(const Tensor& x) override {
        Tensor h = stem(x);
        for (std::size_t i = 0; i < blocks.size(); ++i) h = blocks[static_cast<std::int64_t>(i)](h);
        return head(h);
    }
};

int main() {
    manual_seed(0);
    Model model;
    const Tensor y = model(randn({8, 20}));
    std::cout << model << "\n";
    for (const auto& [name, p] : model.named_parameters()) std::cout << name << " " << shape_to_list(p.shape()) << "\n";

    Model copy = model;  // a deep copy
    const bool same = allclose(copy(ones({1, 20})), model(ones({1, 20})));
    std::cout << "copy computes the same: " << (same ? "yes" : "no") << "\n";
    std::cout << model.state_dict().size() << " state_dict entries\n";
    return same && y.shape() == Shape{8, 3} ? 0 : 1;
}
