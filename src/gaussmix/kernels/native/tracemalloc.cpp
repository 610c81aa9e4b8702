// The kernels' allocations reported to Python's tracemalloc (memory.hpp).
#include <cstddef>
#include <stdint.h>

#include "memory.hpp"

// Python's C API, declared here rather than through Python.h: Python 3.11's
// tracemalloc.h declares these without C linkage for C++.
extern "C" {
int PyTraceMalloc_Track(unsigned int domain, uintptr_t ptr, size_t size);
int PyTraceMalloc_Untrack(unsigned int domain, uintptr_t ptr);
}

namespace gaussmix {

AllocationHooks allocation_hooks;

void use_tracemalloc() {
    allocation_hooks.track = PyTraceMalloc_Track;
    allocation_hooks.untrack = PyTraceMalloc_Untrack;
}

}  // namespace gaussmix
