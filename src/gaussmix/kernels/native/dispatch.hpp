// Which compiled SIMD target the kernels run on: the best one the CPU supports,
// chosen once when the module loads.
#pragma once

#include <string>
#include <vector>

#include "common.hpp"

namespace gaussmix {

// The kernels in use.
const Kernels& active_kernels();

// Names of the targets compiled into this module that this CPU can run, best first.
std::vector<std::string> supported_targets();

// Use the target ``name`` from now on (one of supported_targets()); false if it is
// not one of them. Passes already set up keep the target they started with.
bool select_target(const std::string& name);

}  // namespace gaussmix
