// Work arrays carved out of one allocation, each 64-byte aligned.
#pragma once

#include <cstddef>
#include <stdint.h>

#include "memory.hpp"

namespace gaussmix {

class Workspace {
  public:
    // Reserve ``count`` values of type T; the pointers come from ``carve`` once every
    // array is reserved, in the same order.
    template <class T>
    void reserve(int64_t count) {
        bytes_ += round_up(static_cast<size_t>(count > 0 ? count : 0) * sizeof(T));
    }

    void allocate() {
        buffer_.reset(bytes_ / sizeof(double) + 8);
        uintptr_t base = reinterpret_cast<uintptr_t>(buffer_.data());
        next_ = reinterpret_cast<char*>((base + 63) & ~uintptr_t(63));
    }

    template <class T>
    T* carve(int64_t count) {
        T* at = reinterpret_cast<T*>(next_);
        next_ += round_up(static_cast<size_t>(count > 0 ? count : 0) * sizeof(T));
        return at;
    }

  private:
    static size_t round_up(size_t bytes) { return (bytes + 63) & ~size_t(63); }

    size_t bytes_ = 0;
    Buffer<double> buffer_;
    char* next_ = nullptr;
};

}  // namespace gaussmix
