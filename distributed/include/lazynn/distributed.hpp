#pragma once
// Data-parallel training on MPI (the lazynn::distributed component; CMake target
// lazynn::distributed, built when MPI is found). See docs/distributed.md.
#include <lazynn/distributed/collectives.hpp>
#include <lazynn/distributed/data_parallel.hpp>
#include <lazynn/distributed/join.hpp>
#include <lazynn/distributed/process_group.hpp>
#include <lazynn/data/sampler.hpp>
