#pragma once
// The whole public API in one include.

#include <lazynn/autograd.hpp>
#include <lazynn/dtype.hpp>
#include <lazynn/error.hpp>
#include <lazynn/log.hpp>
#include <lazynn/random.hpp>
#include <lazynn/shape.hpp>
#include <lazynn/tensor.hpp>
