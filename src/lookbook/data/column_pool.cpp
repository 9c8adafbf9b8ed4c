#include "lookbook/data/column_pool.hpp"

#include <algorithm>
#include <cstdint>

#include <sys/mman.h>
#include <unistd.h>

namespace lookbook {

void* ColumnPool::take(size_t bytes) {
    if (bytes < kPooledBytes) {
        return ::operator new(bytes);
    }
    for (size_t i = spare_.size(); i-- > 0;) {
        Buffer buffer = spare_[i];
        if (buffer.bytes < bytes) {
            continue;
        }
        spare_.erase(spare_.begin() + static_cast<ptrdiff_t>(i));
        lent_.push_back(buffer);
        // Whole pages past the request go back to the system (they read as zeros if touched
        // again); advice only, so a failure changes nothing but the memory held.
        auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
        auto start = reinterpret_cast<uintptr_t>(buffer.data);
        uintptr_t unused = (start + bytes + page - 1) / page * page;
        uintptr_t end = (start + buffer.bytes) / page * page;
        if (end > unused) {
            ::madvise(reinterpret_cast<void*>(unused), end - unused, MADV_DONTNEED);
        }
        return buffer.data;
    }
    void* data = ::operator new(bytes);
    lent_.push_back({data, bytes});
    return data;
}

void ColumnPool::give(void* data, size_t bytes) {
    if (bytes < kPooledBytes) {
        ::operator delete(data);
        return;
    }
    auto it = std::find_if(
        lent_.begin(), lent_.end(), [data](const Buffer& b) { return b.data == data; });
    if (it == lent_.end()) {
        // Not lent by this pool: cannot happen with PooledAllocator; freeing it is the safe
        // answer.
        ::operator delete(data);
        return;
    }
    spare_.push_back(*it);
    lent_.erase(it);
}

void ColumnPool::release() {
    for (const Buffer& buffer : spare_) {
        ::operator delete(buffer.data);
    }
    spare_.clear();
}

}  // namespace lookbook
