#pragma once
// Every layer and the functional forms.

#include <lazynn/nn/activation.hpp>
#include <lazynn/nn/attention.hpp>
#include <lazynn/nn/container.hpp>
#include <lazynn/nn/conv.hpp>
#include <lazynn/nn/distance.hpp>
#include <lazynn/nn/dropout.hpp>
#include <lazynn/nn/embedding.hpp>
#include <lazynn/nn/flatten.hpp>
#include <lazynn/nn/fold.hpp>
#include <lazynn/nn/functional.hpp>
#include <lazynn/nn/fusion.hpp>
#include <lazynn/nn/linear.hpp>
#include <lazynn/nn/loss.hpp>
#include <lazynn/nn/normalization.hpp>
#include <lazynn/nn/parametrizations.hpp>
#include <lazynn/nn/pooling.hpp>
#include <lazynn/nn/rnn.hpp>
#include <lazynn/nn/shape_layers.hpp>
#include <lazynn/nn/unpool.hpp>
