#include "lookbook/util/checksum.hpp"

#include <array>
#include <cstring>

namespace lookbook {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // CRC-32C, reflected

constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t byte = 0; byte < 256; ++byte) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 1) ? (crc >> 1) ^ kPolynomial : crc >> 1;
        }
        table[byte] = crc;
    }
    return table;
}

constexpr auto kTable = make_table();

uint32_t crc32c_portable(const uint8_t* p, size_t size, uint32_t crc) {
    crc = ~crc;
    for (size_t i = 0; i < size; ++i) {
        crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    }
    return ~crc;
}

#if defined(__x86_64__)
// The CRC instruction takes 3 cycles and can start one a cycle, so one chain of it runs at a
// third of its speed. Long inputs are cut into three interleaved streams of kStream bytes whose
// CRCs are joined: the CRC register is linear, so the state after stream a then stream b is
// the state after a advanced over kStream zero bytes, xor b's CRC from zero. Advancing over
// those zeros is a 32x32 bit matrix, applied with four 256-entry tables.
constexpr size_t kStream = 4096;

__attribute__((target("sse4.2"))) uint64_t crc32c_zeros(uint64_t c, size_t bytes) {
    for (size_t i = 0; i < bytes; i += 8) {
        c = __builtin_ia32_crc32di(c, 0);
    }
    return c;
}

struct ZeroShift {
    std::array<std::array<uint32_t, 256>, 4> table{};

    ZeroShift() {
        std::array<uint32_t, 32> bit{};
        for (int b = 0; b < 32; ++b) {
            bit[b] = static_cast<uint32_t>(crc32c_zeros(uint64_t{1} << b, kStream));
        }
        for (int k = 0; k < 4; ++k) {
            for (uint32_t v = 0; v < 256; ++v) {
                uint32_t out = 0;
                for (int b = 0; b < 8; ++b) {
                    if (v >> b & 1) {
                        out ^= bit[8 * k + b];
                    }
                }
                table[k][v] = out;
            }
        }
    }
    // The CRC state `c` advanced over kStream zero bytes.
    uint32_t operator()(uint32_t c) const {
        return table[0][c & 0xFF] ^ table[1][c >> 8 & 0xFF] ^ table[2][c >> 16 & 0xFF] ^
               table[3][c >> 24];
    }
};

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const uint8_t* p,
                                                        size_t size,
                                                        uint32_t crc) {
    uint64_t c = ~crc;
    if (size >= 3 * kStream) {
        static const ZeroShift shift;
        do {
            uint64_t a = c;
            uint64_t b = 0;
            uint64_t d = 0;
            for (size_t i = 0; i < kStream; i += 8) {
                uint64_t wa, wb, wd;
                std::memcpy(&wa, p + i, 8);
                std::memcpy(&wb, p + kStream + i, 8);
                std::memcpy(&wd, p + 2 * kStream + i, 8);
                a = __builtin_ia32_crc32di(a, wa);
                b = __builtin_ia32_crc32di(b, wb);
                d = __builtin_ia32_crc32di(d, wd);
            }
            uint32_t ab = shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b);
            c = shift(ab) ^ static_cast<uint32_t>(d);
            p += 3 * kStream;
            size -= 3 * kStream;
        } while (size >= 3 * kStream);
    }
    while (size >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        size -= 8;
    }
    uint32_t c32 = static_cast<uint32_t>(c);
    while (size > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        ++p;
        --size;
    }
    return ~c32;
}
#endif

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
    const auto* p = static_cast<const uint8_t*>(data);
#if defined(__x86_64__)
    static const bool has_sse42 = __builtin_cpu_supports("sse4.2");
    if (has_sse42) {
        return crc32c_sse42(p, size, crc);
    }
#endif
    return crc32c_portable(p, size, crc);
}

}  // namespace lookbook
