#pragma once
// The whole public API in one include: the core (lazynn/core.hpp) and the layers (lazynn/nn.hpp).
// It belongs to the umbrella target lazynn::lazynn, which links lazynn::core and lazynn::nn.

#include <lazynn/core.hpp>
#include <lazynn/nn.hpp>
