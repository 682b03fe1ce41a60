// The precompiled header for plugins built in this tree (see CMakeLists.txt).
#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/serialize.h>

#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
