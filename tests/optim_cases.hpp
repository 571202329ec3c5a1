#pragma once
// The optimizers and option sets of tools/fixtures/gen_optim.py's FLOAT32_OPTIMIZERS, by the same
// names: the float32 trajectories (test_optim_float32.cpp) and the 16-bit ones
// (test_optim_16bit.cpp, gen_optim_16bit.py) replay them.
#include <lazynn/optim/optimizers.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lazynn::testing {

using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Parameter>)>;
constexpr double kHigh = 0.99999;

inline const std::map<std::string, Factory>& float32_optimizers() {
    using namespace optim;
    static const std::map<std::string, Factory> table = {
        {"sgd_momentum_high",
         [](auto p) { return std::make_unique<SGD>(p, SGDOptions(0.05).momentum(kHigh).dampening(kHigh)); }},
        {"sgd_nesterov_high",
         [](auto p) {
             return std::make_unique<SGD>(p, SGDOptions(0.05).momentum(kHigh).nesterov(true).weight_decay(0.01));
         }},
        {"adam_default", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1)); }},
        {"adam_beta2_9999", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1).betas(0.9, 0.9999)); }},
        {"adam_betas_high", [](auto p) { return std::make_unique<Adam>(p, AdamOptions(0.1).betas(kHigh, kHigh)); }},
        {"adam_amsgrad_high",
         [](auto p) {
             return std::make_unique<Adam>(p, AdamOptions(0.1).betas(0.9, kHigh).amsgrad(true).weight_decay(0.1));
         }},
        {"adamw_high",
         [](auto p) { return std::make_unique<AdamW>(p, AdamWOptions(0.1).betas(kHigh, kHigh).weight_decay(0.5)); }},
        {"adamax_high",
         [](auto p) { return std::make_unique<Adamax>(p, AdamaxOptions(0.1).betas(kHigh, kHigh).weight_decay(0.05)); }},
        {"nadam_high", [](auto p) { return std::make_unique<NAdam>(p, NAdamOptions(0.1).betas(kHigh, kHigh)); }},
        {"nadam_beta2_high",
         [](auto p) { return std::make_unique<NAdam>(p, NAdamOptions(0.1).betas(0.9, kHigh).weight_decay(0.05)); }},
        {"radam_high", [](auto p) { return std::make_unique<RAdam>(p, RAdamOptions(0.1).betas(kHigh, kHigh)); }},
        {"radam_beta2_high",
         [](auto p) { return std::make_unique<RAdam>(p, RAdamOptions(0.1).betas(0.9, kHigh).weight_decay(0.05)); }},
        {"radam_rectified", [](auto p) { return std::make_unique<RAdam>(p, RAdamOptions(0.1).betas(0.9, 0.9)); }},
        {"rmsprop_alpha_high", [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions(0.01).alpha(kHigh)); }},
        {"rmsprop_centered_momentum_high",
         [](auto p) {
             return std::make_unique<RMSprop>(
                 p, RMSpropOptions(0.001).alpha(kHigh).momentum(kHigh).centered(true).weight_decay(0.1));
         }},
        {"adagrad",
         [](auto p) {
             return std::make_unique<Adagrad>(
                 p, AdagradOptions(0.1).lr_decay(0.01).initial_accumulator_value(0.1).weight_decay(0.05));
         }},
        {"adadelta_rho_high",
         [](auto p) { return std::make_unique<Adadelta>(p, AdadeltaOptions(1.0).rho(kHigh).weight_decay(0.05)); }},
        {"rprop", [](auto p) { return std::make_unique<Rprop>(p, RpropOptions(0.05)); }},
        {"asgd_averaging",
         [](auto p) { return std::make_unique<ASGD>(p, ASGDOptions(0.05).lambd(0.01).t0(2).weight_decay(0.05)); }},
    };
    return table;
}

}  // namespace lazynn::testing
