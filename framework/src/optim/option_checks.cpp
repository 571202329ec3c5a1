#include "option_checks.hpp"

#include <lazynn/optim/optimizer.hpp>

#include <charconv>

namespace lazynn::optim {
namespace detail {

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
void check_eps(double eps, const char* optimizer) {
    check(0 <= eps, "Invalid epsilon value", eps, optimizer, "eps >= 0");
}
void check_weight_decay(double wd, const char* optimizer) {
    check(0 <= wd, "Invalid weight_decay value", wd, optimizer, "weight_decay >= 0");
}
void check_betas(double beta1, double beta2, const char* optimizer) {
    check(0 <= beta1 && beta1 < 1, "Invalid beta parameter at index 0", beta1, optimizer, "0 <= beta < 1");
    check(0 <= beta2 && beta2 < 1, "Invalid beta parameter at index 1", beta2, optimizer, "0 <= beta < 1");
}

}  // namespace detail

std::string empty_list_message(const char* optimizer) {
    return std::string("optimizer got an empty parameter list (") + optimizer +
           "; a layer declared without (this, \"name\") is not registered with its module)";
}

}  // namespace lazynn::optim
