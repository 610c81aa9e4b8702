// The process-wide cap on gaussmix's threads (gaussmix.set_num_threads), kept
// here so that threadpoolctl, which finds libraries by their file among those a
// process loaded, can read and set it through these exported C functions.
#include <atomic>

#include "threads.hpp"

namespace {
std::atomic<int> setting{0};  // 0: no cap set (the default applies)
}  // namespace

extern "C" {

// The cap set, or 0 when none is.
__attribute__((visibility("default"))) int gaussmix_get_num_threads(void) {
    return setting.load();
}

// Set the cap (n <= 0: none); returns the previous one (0: none).
__attribute__((visibility("default"))) int gaussmix_set_num_threads(int n) {
    return setting.exchange(n > 0 ? n : 0);
}
}
