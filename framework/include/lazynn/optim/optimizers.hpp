#pragma once
// All optimizers (one per header: sgd.hpp, adam.hpp, adamax.hpp, nadam.hpp, radam.hpp,
// rmsprop.hpp, adagrad.hpp, adadelta.hpp, rprop.hpp, asgd.hpp, lbfgs.hpp), with PyTorch's defaults and
// update rules.
// Options take the learning rate in the constructor and the rest through fluent setters:
//     optim::SGD sgd(model.parameters(), optim::SGDOptions(0.1).momentum(0.9).nesterov(true));

#include <lazynn/optim/sgd.hpp>
#include <lazynn/optim/adam.hpp>
#include <lazynn/optim/adamax.hpp>
#include <lazynn/optim/nadam.hpp>
#include <lazynn/optim/radam.hpp>
#include <lazynn/optim/rmsprop.hpp>
#include <lazynn/optim/adagrad.hpp>
#include <lazynn/optim/adadelta.hpp>
#include <lazynn/optim/lbfgs.hpp>
#include <lazynn/optim/rprop.hpp>
#include <lazynn/optim/asgd.hpp>
