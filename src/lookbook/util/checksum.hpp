#pragma once

#include <cstddef>
#include <cstdint>

namespace lookbook {

// CRC-32C (Castagnoli) of `size` bytes, continuing from `crc` (0 to start). Uses the SSE4.2
// instruction when the processor has it, on three streams at once from 12 KiB on (170 MB in
// 15.5 ms here against 27 ms on one stream, ad-hoc), and a table otherwise.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace lookbook
