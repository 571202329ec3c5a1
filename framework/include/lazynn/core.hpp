#pragma once
// The whole core API (lazynn_core: tensor, autograd, ops, Module base, optim, data, serialize) in one
// include. <lazynn/lazynn.hpp> adds the layers (lazynn/nn.hpp) on top.

#include <lazynn/autocast.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/backend.hpp>
#include <lazynn/checkpoint.hpp>
#include <lazynn/dtype.hpp>
#include <lazynn/error.hpp>
#include <lazynn/init.hpp>
#include <lazynn/lazy.hpp>
#include <lazynn/log.hpp>
#include <lazynn/member.hpp>
#include <lazynn/module.hpp>
#include <lazynn/ops/convolution.hpp>
#include <lazynn/ops/linear.hpp>
#include <lazynn/ops/loss.hpp>
#include <lazynn/ops/normalization.hpp>
#include <lazynn/ops/pooling.hpp>
#include <lazynn/ordered_dict.hpp>
#include <lazynn/parametrize.hpp>
#include <lazynn/parameter.hpp>
#include <lazynn/random.hpp>
#include <lazynn/shape.hpp>
#include <lazynn/shape_io.hpp>
#include <lazynn/state_dict_keys.hpp>
#include <lazynn/tensor.hpp>
#include <lazynn/tensor_structure.hpp>
#include <lazynn/threads.hpp>
#include <lazynn/typed_module.hpp>
#include <lazynn/data/dataloader.hpp>
#include <lazynn/data/readers.hpp>
#include <lazynn/data/transforms.hpp>
#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizers.hpp>
#include <lazynn/serialize.hpp>
