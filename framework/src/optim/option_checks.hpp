#pragma once
// Argument checks shared by the optimizers' validate(), as PyTorch 1.13's constructors make them:
// the same conditions and the same message text, followed by the optimizer and the accepted
// range. Written as `!(lo <= v)` so that NaN fails too (PyTorch's `not 0.0 <= v` does the same).
#include <lazynn/error.hpp>

#include <string>

namespace lazynn::optim::detail {

/// The shortest text that reads back as `v`, written as Python's repr of a float ("-1.0", "0.5",
/// "1e-08"), so the messages read exactly as PyTorch's.
std::string number(double v);
void check(bool ok, const std::string& what, double value, const char* optimizer, const char* expected);
void check_lr(double lr, const char* optimizer);
void check_eps(double eps, const char* optimizer);
void check_weight_decay(double wd, const char* optimizer);
void check_betas(double beta1, double beta2, const char* optimizer);

}  // namespace lazynn::optim::detail
