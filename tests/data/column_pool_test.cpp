#include "lookbook/data/column_pool.hpp"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

namespace lookbook {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Pages of [data, data + bytes) that are resident, by mincore over the whole pages inside.
size_t resident_pages(const void* data, size_t bytes) {
    auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    uintptr_t start = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
    uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
    std::vector<unsigned char> in_core((end - start) / page);
    EXPECT_EQ(::mincore(reinterpret_cast<void*>(start), end - start, in_core.data()), 0);
    size_t n = 0;
    for (unsigned char c : in_core) {
        n += c & 1;
    }
    return n;
}

TEST(ColumnPool, LendsTheLastReturnedBufferThatIsLargeEnough) {
    ColumnPool pool;
    void* a = pool.take(4 * kMiB);
    void* b = pool.take(2 * kMiB);
    pool.give(a, 4 * kMiB);
    pool.give(b, 2 * kMiB);
    EXPECT_EQ(pool.spare_count(), 2u);
    // b came back last but is too small for 3 MiB: a is lent.
    EXPECT_EQ(pool.take(3 * kMiB), a);
    // Then b, the last returned, for a request it can hold.
    EXPECT_EQ(pool.take(kMiB), b);
    EXPECT_EQ(pool.spare_count(), 0u);
    // Nothing spare: a new buffer.
    void* c = pool.take(kMiB);
    EXPECT_NE(c, a);
    EXPECT_NE(c, b);
    pool.give(a, 3 * kMiB);
    pool.give(b, kMiB);
    pool.give(c, kMiB);
    EXPECT_EQ(pool.spare_count(), 3u);
    pool.release();
    EXPECT_EQ(pool.spare_count(), 0u);
}

TEST(ColumnPool, SmallBuffersAreNotKept) {
    ColumnPool pool;
    void* p = pool.take(ColumnPool::kPooledBytes - 1);
    pool.give(p, ColumnPool::kPooledBytes - 1);
    EXPECT_EQ(pool.spare_count(), 0u);
}

// A large buffer lent for a small column keeps only the pages the column can use.
TEST(ColumnPool, PagesPastASmallerRequestAreGivenBack) {
    ColumnPool pool;
    auto* big = static_cast<unsigned char*>(pool.take(16 * kMiB));
    std::memset(big, 7, 16 * kMiB);
    ASSERT_GT(resident_pages(big, 16 * kMiB), 3000u);
    pool.give(big, 16 * kMiB);
    auto* small = static_cast<unsigned char*>(pool.take(2 * kMiB));
    ASSERT_EQ(small, big);
    EXPECT_EQ(small[2 * kMiB - 1], 7);  // the front is kept as it was
    EXPECT_LE(resident_pages(small + 2 * kMiB, 14 * kMiB), 1u);
    pool.give(small, 2 * kMiB);
}

// The columns of the sort: one column's buffer, left by a swap, is written by the next column
// of another type, and every value comes out as written.
TEST(ColumnPool, ColumnsOfDifferentTypesShareBuffersInTurn) {
    ColumnPool pool;
    const size_t n = 600'000;
    PooledColumn<uint32_t> ids((PooledAllocator<uint32_t>(&pool)));
    ids.resize(n);
    std::iota(ids.begin(), ids.end(), 0u);
    const void* first_buffer = ids.data();
    {
        PooledColumn<uint32_t> reversed(n, ids.get_allocator());
        for (size_t i = 0; i < n; ++i) {
            reversed[n - 1 - i] = ids[i];
        }
        ids.swap(reversed);
    }
    EXPECT_EQ(pool.spare_count(), 1u);
    PooledColumn<int32_t> dates(n, PooledAllocator<int32_t>(&pool));
    EXPECT_EQ(static_cast<const void*>(dates.data()), first_buffer);
    for (size_t i = 0; i < n; ++i) {
        dates[i] = -static_cast<int32_t>(i);
    }
    for (size_t i = 0; i < n; i += 997) {
        ASSERT_EQ(ids[i], n - 1 - i);
        ASSERT_EQ(dates[i], -static_cast<int32_t>(i));
    }
}

}  // namespace
}  // namespace lookbook
