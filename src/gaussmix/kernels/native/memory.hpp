// Buffers whose allocations Python's tracemalloc sees (as NumPy's do), so that
// memory measured with it counts the kernels' work arrays too.
#pragma once

#include <cstddef>
#include <stdint.h>

namespace gaussmix {

// PyTraceMalloc_Track/Untrack once the Python module calls use_tracemalloc(); null
// where there is no Python. Both may be called without the GIL: they return at once
// when tracemalloc is not tracing, and take the GIL when it is.
struct AllocationHooks {
    int (*track)(unsigned int domain, uintptr_t ptr, size_t size) = nullptr;
    int (*untrack)(unsigned int domain, uintptr_t ptr) = nullptr;
};
extern AllocationHooks allocation_hooks;

// Report the kernels' allocations to Python's tracemalloc from now on.
void use_tracemalloc();

// tracemalloc's domain for the kernels' allocations (any but NumPy's).
constexpr unsigned int kTraceDomain = 0x676d;

inline void track_allocation(const void* ptr, size_t bytes) {
    if (allocation_hooks.track)
        allocation_hooks.track(kTraceDomain, reinterpret_cast<uintptr_t>(ptr), bytes);
}

inline void untrack_allocation(const void* ptr) {
    if (allocation_hooks.untrack)
        allocation_hooks.untrack(kTraceDomain, reinterpret_cast<uintptr_t>(ptr));
}

// An owned array of ``size`` values (not initialised unless ``zeroed``).
template <class T>
class Buffer {
  public:
    Buffer() = default;
    explicit Buffer(size_t size, bool zeroed = false) { reset(size, zeroed); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { release(); }

    void reset(size_t size, bool zeroed = false) {
        release();
        data_ = zeroed ? new T[size > 0 ? size : 1]() : new T[size > 0 ? size : 1];
        size_ = size;
        track_allocation(data_, size_ * sizeof(T));
    }

    T* data() { return data_; }
    const T* data() const { return data_; }
    T& operator[](size_t i) { return data_[i]; }
    const T& operator[](size_t i) const { return data_[i]; }
    size_t size() const { return size_; }

  private:
    void release() {
        if (data_) {
            untrack_allocation(data_);
            delete[] data_;
        }
        data_ = nullptr;
        size_ = 0;
    }

    T* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace gaussmix
