#include "lookbook/util/checksum.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace lookbook {
namespace {

TEST(Crc32c, MatchesPublishedCheckValue) {
    // The standard check value of CRC-32C over the ASCII digits 1..9.
    EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
}

TEST(Crc32c, EmptyInputIsZero) { EXPECT_EQ(crc32c("", 0), 0u); }

TEST(Crc32c, ContinuesAcrossChunks) {
    std::string text = "The quick brown fox jumps over the lazy dog, twice over.";
    uint32_t whole = crc32c(text.data(), text.size());
    for (size_t split = 0; split <= text.size(); ++split) {
        uint32_t part = crc32c(text.data(), split);
        EXPECT_EQ(crc32c(text.data() + split, text.size() - split, part), whole) << split;
    }
}

TEST(Crc32c, KnownValueForThirtyTwoZeroBytes) {
    // From RFC 3720 (iSCSI), appendix B.4.
    std::string zeros(32, '\0');
    EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
}

// CRC-32C one bit at a time, straight from the definition (reflected polynomial 0x82F63B78).
uint32_t crc32c_bitwise(const std::vector<uint8_t>& data, size_t begin, size_t end, uint32_t crc) {
    crc = ~crc;
    for (size_t i = begin; i < end; ++i) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
    }
    return ~crc;
}

// Long inputs run as three interleaved streams of 4 KiB joined by table lookups: every length
// around the 12 KiB the joined streams take (and several of them), at odd offsets, from a
// non-zero starting CRC, must give what the bitwise definition gives.
TEST(Crc32c, LongInputsMatchTheBitwiseDefinition) {
    std::mt19937 rng(5);
    std::vector<uint8_t> data(5 * 12288 + 100);
    for (auto& byte : data) {
        byte = static_cast<uint8_t>(rng());
    }
    for (size_t length : {size_t{12287},
                          size_t{12288},
                          size_t{12289},
                          size_t{12295},
                          size_t{24576},
                          size_t{24583},
                          size_t{36863},
                          size_t{5 * 12288 + 99}}) {
        for (size_t offset : {size_t{0}, size_t{1}}) {
            for (uint32_t start : {0u, 0xDEADBEEFu}) {
                EXPECT_EQ(crc32c(data.data() + offset, length, start),
                          crc32c_bitwise(data, offset, offset + length, start))
                    << length << " bytes at offset " << offset << " from " << start;
            }
        }
    }
    std::vector<uint8_t> zeros(3 * 12288, 0);
    EXPECT_EQ(crc32c(zeros.data(), zeros.size()), crc32c_bitwise(zeros, 0, zeros.size(), 0));
}

}  // namespace
}  // namespace lookbook
