#pragma once
// BufferPool: where tensor storage comes from. A training step allocates the same buffer sizes every
// time, so buffers freed by one step are kept (by size) and handed to the next one instead of going
// back to the heap: after the first step, the training loop does no large allocations.

#include <cstddef>
#include <cstdio>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>
#include <string>
#include <vector>

#include "babygpt/error.hpp"
#include "babygpt/memory_budget.hpp"
#include "babygpt/shape.hpp"

namespace babygpt::kernels {

/// 64-byte alignment: a cache line, and enough for every SIMD width Eigen uses.
inline constexpr std::size_t buffer_alignment = 64;

class BufferPool {
public:
    /// The process-wide pool. Deliberately never destroyed, so buffers owned by static tensors can
    /// still be released safely during program exit.
    static BufferPool& instance() {
        static BufferPool* pool = new BufferPool;
        return *pool;
    }

    /// An uninitialised buffer of at least `bytes` bytes.
    void* acquire(std::size_t bytes) {
        bytes = rounded(bytes);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = free_.find(bytes);
            if (it != free_.end() && !it->second.empty()) {
                void* p = it->second.back();
                it->second.pop_back();
                cached_bytes_ -= bytes;
                return p;
            }
        }
        return ::operator new(bytes, std::align_val_t(buffer_alignment));
    }

    void release(void* p, std::size_t bytes) {
        bytes = rounded(bytes);
        std::lock_guard<std::mutex> lock(mutex_);
        free_[bytes].push_back(p);
        cached_bytes_ += bytes;
    }

    /// Returns every cached buffer to the heap (e.g. after training, before generation).
    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& [bytes, list] : free_)
            for (void* p : list) ::operator delete(p, std::align_val_t(buffer_alignment));
        free_.clear();
        cached_bytes_ = 0;
    }

    /// Bytes held in the cache, not in use by any tensor.
    std::size_t cached_bytes() {
        std::lock_guard<std::mutex> lock(mutex_);
        return cached_bytes_;
    }

private:
    static std::size_t rounded(std::size_t bytes) {
        return bytes == 0 ? buffer_alignment : (bytes + buffer_alignment - 1) / buffer_alignment * buffer_alignment;
    }

    std::mutex mutex_;
    std::unordered_map<std::size_t, std::vector<void*>> free_;
    std::size_t cached_bytes_ = 0;
};

/// "3.9 GB", "512 bytes": a byte count for messages.
inline std::string describe_bytes(std::size_t bytes) {
    if (bytes < 1000) return std::to_string(bytes) + " bytes";
    const char* units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    for (value /= 1000; value >= 1000 && unit + 1 < std::size(units); value /= 1000) ++unit;
    char text[32];
    std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    return text;
}

/// A shared, uninitialised array of n elements from the pool; it returns there when the last owner goes.
/// A size whose byte count overflows, or that the heap cannot supply, throws babygpt::Error naming the
/// bytes (and `shape`, when the caller passes the tensor's shape) instead of std::bad_alloc.
template <typename T>
std::shared_ptr<T> allocate_buffer(std::size_t n, const Shape* shape = nullptr) {
    auto what = [&] { return shape ? " for a tensor of shape " + to_string(*shape) : std::string(); };
    BABYGPT_CHECK(n <= (std::numeric_limits<std::size_t>::max() - buffer_alignment) / sizeof(T),
                  "cannot allocate ", n, " elements of ", sizeof(T), " bytes", what(),
                  ": the byte count overflows; use smaller sizes");
    const std::size_t bytes = n * sizeof(T);
    T* p = nullptr;
    try {
        p = static_cast<T*>(BufferPool::instance().acquire(bytes));
    } catch (const std::bad_alloc&) {
        babygpt::detail::throw_error("out of memory allocating ", describe_bytes(bytes), what(),
                                     "; use a smaller model or batch, or free memory");
    }
    const memory_budget::Charge charged = memory_budget::charge(bytes);  // nothing unless a benchmark counts
    return std::shared_ptr<T>(p, [bytes, charged](T* q) {
        memory_budget::refund(charged, bytes);
        BufferPool::instance().release(q, bytes);
    });
}

/// As above, naming the tensor's shape in the error.
template <typename T>
std::shared_ptr<T> allocate_buffer(const Shape& shape) {
    return allocate_buffer<T>(static_cast<std::size_t>(numel(shape)), &shape);
}

}  // namespace babygpt::kernels
