#include "dispatch.hpp"

#include <atomic>

namespace gaussmix {

namespace {

std::vector<const Kernels*> supported() {
    std::vector<const Kernels*> tables;
#if defined(GAUSSMIX_X86_TARGETS)
    __builtin_cpu_init();
    // Each target is compiled with exactly these instruction sets (CMakeLists.txt);
    // libgcc's checks include the operating system's support for the wider
    // registers.
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                        __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl");
    if (avx512) tables.push_back(&avx512::kernels);
    if (avx2) tables.push_back(&avx2::kernels);
#endif
    tables.push_back(&generic::kernels);
    return tables;
}

std::atomic<const Kernels*>& active() {
    static std::atomic<const Kernels*> table{supported().front()};
    return table;
}

}  // namespace

const Kernels& active_kernels() { return *active().load(std::memory_order_acquire); }

std::vector<std::string> supported_targets() {
    std::vector<std::string> names;
    for (const Kernels* table : supported()) names.emplace_back(table->name);
    return names;
}

bool select_target(const std::string& name) {
    for (const Kernels* table : supported()) {
        if (name == table->name) {
            active().store(table, std::memory_order_release);
            return true;
        }
    }
    return false;
}

}  // namespace gaussmix
