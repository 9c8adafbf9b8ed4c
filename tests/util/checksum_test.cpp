#include "lookbook/util/checksum.hpp"

#include <string>

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

}  // namespace
}  // namespace lookbook
