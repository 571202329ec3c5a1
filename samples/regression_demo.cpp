// Fits y = 3x₀ - 2x₁ + 0.5 to noisy generated data with plain tensors and autograd, printing
// the loss as it falls and the recovered coefficients.
#include <lazynn/lazynn.hpp>

#include <iomanip>
#include <iostream>

int main() {
    using namespace lazynn;
    manual_seed(0);
    const Tensor x = randn({256, 2});
    const Tensor true_w = tensor({{3.0}, {-2.0}});
    const Tensor y = x.matmul(true_w) + 0.5 + randn({256, 1}) * 0.1;

    Tensor w = zeros({2, 1}).requires_grad_();
    Tensor b = zeros({1}).requires_grad_();
    const double lr = 0.1;
    for (int step = 0; step <= 100; ++step) {
        const Tensor loss = (x.matmul(w) + b - y).pow(2).mean();
        loss.backward();
        {
            NoGradGuard no_grad;
            w.sub_(w.grad() * lr);
            b.sub_(b.grad() * lr);
        }
        w.set_grad(Tensor());
        b.set_grad(Tensor());
        if (step % 20 == 0) std::cout << "step " << std::setw(3) << step << "  loss " << loss.item<float>() << "\n";
    }
    std::cout << "recovered w = " << w.detach().reshape({-1}) << ", b = " << b.detach() << "\n";
}
