// The example from docs/lazy-modules.md; CI compiles and runs it.
#include <lazynn/lazynn.hpp>

#include <iostream>

using namespace lazynn;

int main() {
    manual_seed(42);
    nn::Sequential model{nn::LazyLinear(64), nn::ReLU(), nn::LazyLinear(10)};
    std::cout << model << "\n";  // LazyLinear(in_features=0, ...)

    // Anything may hold the parameters before they exist; they are materialised in place.
    std::vector<Parameter> held = model.parameters();
    std::cout << "before: " << model.num_parameters().uninitialized << " uninitialised tensors\n";

    model.initialize(zeros({1, 784}));  // one no-grad dry run
    std::cout << model << "\n";         // Linear(in_features=784, ...)
    std::cout << "held[0] is now " << shape_to_list(held[0].shape()) << "\n";

    // Same seed, same weights: the lazy model starts exactly where its eager twin does.
    manual_seed(42);
    nn::Sequential eager{nn::Linear(784, 64), nn::ReLU(), nn::Linear(64, 10)};
    const bool same = equal(eager.parameters()[0], model.parameters()[0]);
    std::cout << "lazy == eager initial weights: " << (same ? "yes" : "no") << "\n";

    // A checkpoint loads into a fresh lazy model without any forward call.
    nn::Sequential restored{nn::LazyLinear(64), nn::ReLU(), nn::LazyLinear(10)};
    restored.load_state_dict(model.state_dict());
    std::cout << restored << "\n";
    return same && !restored[0].is_lazy() ? 0 : 1;
}
