// The example from docs/tensors-and-autograd.md; CI compiles and runs it.
#include <lazynn/lazynn.hpp>

#include <cassert>
#include <iostream>

int main() {
    using namespace lazynn;
    manual_seed(0);

    // Tensors are handles: copies share data, clone() copies it.
    Tensor a = tensor({{1., 2.}, {3., 4.}});
    Tensor view = a.t();  // a view: same storage, transposed strides
    std::cout << view << "\n";

    // Broadcasting and reductions follow NumPy/PyTorch rules.
    Tensor b = a + tensor({10., 20.});  // [2, 2] + [2]
    std::cout << b.sum({0}) << "\n";    // tensor([24., 46.])

    // Autograd: mark leaves, compute, call backward().
    Tensor w = randn({2, 3}).requires_grad_();
    Tensor loss = a.matmul(w).relu().pow(2).mean();
    loss.backward();
    std::cout << "dloss/dw has shape " << shape_to_list(w.grad().shape()) << "\n";

    // Updates happen without recording: NoGradGuard.
    {
        NoGradGuard no_grad;
        w.sub_(w.grad() * 0.1);
    }
    w.set_grad(Tensor());

    // Gradient checking in float64.
    Tensor x = randn({3}, kFloat64).requires_grad_();
    auto result = autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0].tanh().sum(); }, {x});
    assert(result.ok);
    std::cout << "gradcheck: " << (result.ok ? "ok" : result.message) << "\n";
    return result.ok ? 0 : 1;
}
