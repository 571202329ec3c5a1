// Uses the installed headers and library: a gradient of a small expression.
#include <lazynn/lazynn.hpp>
#include <lazynn/xtensor.hpp>

#include <cmath>
#include <iostream>

double functional_only();  // functional_only.cpp: the functional header on its own

int main() {
    using namespace lazynn;
    Tensor x = tensor({{1., 2.}, {3., 4.}}).requires_grad_();
    Tensor y = (x * x).sum();
    y.backward();
    const auto grad = to_xarray<float>(x.grad());
    const bool ok = y.item<float>() == 30.0f && grad(1, 1) == 8.0f && std::isfinite(functional_only());
    std::cout << "consumer: y = " << y << ", grad = " << x.grad() << (ok ? " (ok)" : " (WRONG)") << "\n";
    return ok ? 0 : 1;
}
