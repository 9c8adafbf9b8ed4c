#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace lookbook {

// Large buffers handed back by one column and lent again to the next: ingest's sort moves each
// transaction column into a new one, and the buffer a column leaves is written again by the
// next column. Pages already touched cost nothing more, where new ones cost their first touch
// (about 0.4 ms a megabyte on this project's virtual machines, where the sort fills 85 MB).
// Buffers under 1 MiB are plain new/delete. One thread; not shared between ingests.
class ColumnPool {
  public:
    ColumnPool() = default;
    ColumnPool(const ColumnPool&) = delete;
    ColumnPool& operator=(const ColumnPool&) = delete;
    ~ColumnPool() { release(); }

    // A buffer of at least `bytes`: the most recently returned spare one that is large enough
    // (its front pages were written last), else a new one. A spare buffer's pages past `bytes`
    // are given back to the system, so that lending a large buffer for a small column does not
    // keep memory the column never uses.
    void* take(size_t bytes);
    // Returns a buffer from take(`bytes`) to the spares.
    void give(void* data, size_t bytes);
    // Frees the spare buffers.
    void release();

    size_t spare_count() const { return spare_.size(); }
    static constexpr size_t kPooledBytes = size_t{1} << 20;

  private:
    struct Buffer {
        void* data;
        size_t bytes;
    };
    std::vector<Buffer> lent_;
    std::vector<Buffer> spare_;
};

// Allocates a vector's storage from a ColumnPool. Elements a vector adds without a value
// (vector(n, alloc), resize(n)) are default-initialised, not zeroed: for numbers their values
// are unspecified until written, so such a vector must be written in full before it is read
// (the sort's scatter writes every row).
template <typename T>
struct PooledAllocator {
    using value_type = T;
    using propagate_on_container_copy_assignment = std::true_type;
    using propagate_on_container_move_assignment = std::true_type;
    using propagate_on_container_swap = std::true_type;

    explicit PooledAllocator(ColumnPool* owner) : pool(owner) {}
    template <typename U>
    PooledAllocator(const PooledAllocator<U>& other) : pool(other.pool) {}

    T* allocate(size_t n) { return static_cast<T*>(pool->take(n * sizeof(T))); }
    void deallocate(T* p, size_t n) { pool->give(p, n * sizeof(T)); }
    template <typename U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
    template <typename U>
    bool operator==(const PooledAllocator<U>& other) const {
        return pool == other.pool;
    }

    ColumnPool* pool;
};

template <typename T>
using PooledColumn = std::vector<T, PooledAllocator<T>>;

}  // namespace lookbook
