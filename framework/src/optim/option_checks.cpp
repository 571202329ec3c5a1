// Argument checks for every optimizer, as PyTorch 1.13's constructors make them: the same
// conditions and the same message text, followed by the optimizer and the accepted range.
// Written as `!(lo <= v)` so that NaN fails too (PyTorch's `not 0.0 <= v` does the same).
#include <lazynn/optim/optimizers.hpp>

#include <charconv>

namespace lazynn::optim {
namespace {

/// The shortest text that reads back as `v`, written as Python's repr of a float ("-1.0", "0.5",
/// "1e-08"), so the messages read exactly as PyTorch's.
std::string number(double v) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
    std::string text(buffer, result.ptr);
    if (text.find_first_of(".ein") == std::string::npos) text += ".0";
    return text;
}

void check(bool ok, const std::string& what, double value, const char* optimizer, const char* expected) {
    if (!ok) throw ValueError(what + ": " + number(value) + " (" + optimizer + " expects " + expected + ")");
}

void check_lr(double lr, const char* optimizer) { check(0 <= lr, "Invalid learning rate", lr, optimizer, "lr >= 0"); }
void check_eps(double eps, const char* optimizer) { check(0 <= eps, "Invalid epsilon value", eps, optimizer, "eps >= 0"); }
void check_weight_decay(double wd, const char* optimizer) {
    check(0 <= wd, "Invalid weight_decay value", wd, optimizer, "weight_decay >= 0");
}
void check_betas(double beta1, double beta2, const char* optimizer) {
    check(0 <= beta1 && beta1 < 1, "Invalid beta parameter at index 0", beta1, optimizer, "0 <= beta < 1");
    check(0 <= beta2 && beta2 < 1, "Invalid beta parameter at index 1", beta2, optimizer, "0 <= beta < 1");
}

}  // namespace

std::string empty_list_message(const char* optimizer) {
    return std::string("optimizer got an empty parameter list (") + optimizer +
           "; a layer declared without (this, \"name\") is not registered with its module)";
}

void SGDOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check(0 <= momentum_, "Invalid momentum value", momentum_, optimizer, "momentum >= 0");
    check_weight_decay(weight_decay_, optimizer);
    if (nesterov_ && (momentum_ <= 0 || dampening_ != 0)) {
        throw ValueError("Nesterov momentum requires a momentum and zero dampening (" + std::string(optimizer) + " got momentum " +
                         number(momentum_) + ", dampening " + number(dampening_) + ")");
    }
}

void AdamOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check_betas(beta1_, beta2_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

void AdamaxOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check_betas(beta1_, beta2_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

void NAdamOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check_betas(beta1_, beta2_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
    check(0 <= momentum_decay_, "Invalid momentum_decay value", momentum_decay_, optimizer, "momentum_decay >= 0");
}

void RAdamOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check_betas(beta1_, beta2_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

void RMSpropOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check(0 <= momentum_, "Invalid momentum value", momentum_, optimizer, "momentum >= 0");
    check_weight_decay(weight_decay_, optimizer);
    check(0 <= alpha_, "Invalid alpha value", alpha_, optimizer, "alpha >= 0");
}

void AdagradOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check(0 <= lr_decay_, "Invalid lr_decay value", lr_decay_, optimizer, "lr_decay >= 0");
    check_weight_decay(weight_decay_, optimizer);
    check(0 <= initial_accumulator_value_, "Invalid initial_accumulator_value value", initial_accumulator_value_, optimizer,
          "initial_accumulator_value >= 0");
    check_eps(eps_, optimizer);
}

void AdadeltaOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check(0 <= rho_ && rho_ <= 1, "Invalid rho value", rho_, optimizer, "0 <= rho <= 1");
    check_eps(eps_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

}  // namespace lazynn::optim
