#include "lookbook/store/column_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

namespace lookbook {
namespace {
namespace fs = std::filesystem;

class ColumnFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        path_ =
            fs::temp_directory_path() /
            ("lookbook_cf_" + std::to_string(::getpid()) + "_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".lbc");
    }
    void TearDown() override { fs::remove(path_); }

    void write_sample() {
        ColumnFileWriter w;
        w.add("u8", std::vector<uint8_t>{1, 2, 255});
        w.add("u32", std::vector<uint32_t>{7, 4000000000u});
        w.add("i32", std::vector<int32_t>{-5, 0, 5});
        w.add("u64", std::vector<uint64_t>{1ull << 40});
        w.add("f32", std::vector<float>{1.5f, std::numeric_limits<float>::quiet_NaN()});
        w.add_owned("f64", std::vector<double>{0.0209152542372881});
        w.add_owned_strings("names", {"0108775015", "", "café, \"quoted\""});
        w.add("empty", std::vector<uint32_t>{});
        w.set_metadata(R"({"kind":"test"})");
        ASSERT_TRUE(w.write(path_).is_ok());
    }

    void flip_byte(uint64_t offset) {
        std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(static_cast<std::streamoff>(offset));
        char c = 0;
        f.get(c);
        f.seekp(static_cast<std::streamoff>(offset));
        f.put(static_cast<char>(c ^ 0x01));
    }

    fs::path path_;
};

TEST_F(ColumnFileTest, RoundTripsEveryType) {
    write_sample();
    auto file = ColumnFile::open(path_);
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    EXPECT_TRUE(file->verify().is_ok());
    EXPECT_EQ(file->metadata(), R"({"kind":"test"})");
    auto u8 = file->column<uint8_t>("u8");
    ASSERT_TRUE(u8.is_ok());
    EXPECT_EQ(std::vector<uint8_t>(u8->begin(), u8->end()), (std::vector<uint8_t>{1, 2, 255}));
    EXPECT_EQ((*file->column<uint32_t>("u32"))[1], 4000000000u);
    EXPECT_EQ((*file->column<int32_t>("i32"))[0], -5);
    EXPECT_EQ((*file->column<uint64_t>("u64"))[0], 1ull << 40);
    EXPECT_TRUE(std::isnan((*file->column<float>("f32"))[1]));
    EXPECT_EQ((*file->column<double>("f64"))[0], 0.0209152542372881);
    EXPECT_TRUE(file->column<uint32_t>("empty")->empty());
    auto names = file->strings("names");
    ASSERT_TRUE(names.is_ok());
    ASSERT_EQ(names->size(), 3u);
    EXPECT_EQ(names->at(0), "0108775015");
    EXPECT_EQ(names->at(1), "");
    EXPECT_EQ(names->at(2), "café, \"quoted\"");
    // Columns start on 64-byte boundaries, so spans are aligned for any type.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(file->column<double>("f64")->data()) % 64, 0u);
}

TEST_F(ColumnFileTest, WrongTypeOrMissingColumnIsCorruption) {
    write_sample();
    auto file = ColumnFile::open(path_);
    ASSERT_TRUE(file.is_ok());
    auto wrong = file->column<float>("u32");
    ASSERT_FALSE(wrong.is_ok());
    EXPECT_EQ(wrong.status().message(),
              path_.string() + ": column \"u32\" has type u32; expected f32");
    auto missing = file->column<float>("nope");
    ASSERT_FALSE(missing.is_ok());
    EXPECT_EQ(missing.status().message(), path_.string() + ": column \"nope\" is missing");
}

TEST_F(ColumnFileTest, DetectsAFlippedDataByte) {
    write_sample();
    flip_byte(64);  // first byte of the first column
    auto file = ColumnFile::open(path_);
    ASSERT_TRUE(file.is_ok());
    Status s = file->verify();
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_EQ(s.message(),
              path_.string() +
                  ": column \"u8\" checksum mismatch. The store is damaged; re-run `lookbook "
                  "ingest` to rebuild it.");
}

TEST_F(ColumnFileTest, DetectsADamagedHeaderOrDirectory) {
    write_sample();
    flip_byte(20);  // directory offset
    auto file = ColumnFile::open(path_);
    ASSERT_FALSE(file.is_ok());
    EXPECT_EQ(file.status().message(),
              path_.string() +
                  ": header checksum mismatch. The store is damaged; re-run `lookbook ingest` to "
                  "rebuild it.");
    write_sample();
    flip_byte(fs::file_size(path_) - 3);  // inside the directory JSON
    file = ColumnFile::open(path_);
    ASSERT_FALSE(file.is_ok());
    EXPECT_NE(file.status().message().find("directory checksum mismatch"), std::string::npos);
}

TEST_F(ColumnFileTest, RejectsTruncatedAndForeignFiles) {
    write_sample();
    fs::resize_file(path_, fs::file_size(path_) / 2);
    auto truncated = ColumnFile::open(path_);
    ASSERT_FALSE(truncated.is_ok());
    EXPECT_EQ(truncated.status().code(), StatusCode::kCorruption);
    std::ofstream(path_, std::ios::trunc) << "article_id,prod_name\n";
    auto foreign = ColumnFile::open(path_);
    ASSERT_FALSE(foreign.is_ok());
    EXPECT_NE(foreign.status().message().find("not a lookbook column file"), std::string::npos);
}

// Opens `path`, checks every checksum and that column `name` holds `values`.
template <typename T>
void expect_reads_back(const fs::path& path,
                       const std::string& name,
                       const std::vector<T>& values) {
    auto file = ColumnFile::open(path);
    ASSERT_TRUE(file.is_ok()) << file.status().message();
    ASSERT_TRUE(file->verify().is_ok());
    auto back = file->column<T>(name);
    ASSERT_TRUE(back.is_ok());
    EXPECT_TRUE(std::equal(back->begin(), back->end(), values.begin(), values.end()));
}

// Every write mode gives the same bytes, whatever the sizes: columns ending on, before and past
// the 4 KiB blocks and the 1 MiB staging buffer of direct writes.
TEST_F(ColumnFileTest, EveryWriteModeWritesTheSameBytes) {
    std::mt19937 rng(7);
    const std::vector<size_t> sizes = {0,
                                       1,
                                       63,
                                       64,
                                       4031,
                                       4032,
                                       4096,
                                       4097,
                                       1 << 20,
                                       (1 << 20) - 64,
                                       1 << 20,
                                       (1 << 20) + 1,
                                       3 * (1 << 20) + 17};
    auto read_all = [](const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    };
    for (size_t bytes : sizes) {
        SCOPED_TRACE("byte column of " + std::to_string(bytes));
        std::vector<uint8_t> raw(bytes);
        for (auto& b : raw) {
            b = static_cast<uint8_t>(rng());
        }
        std::vector<uint32_t> words(bytes / 7 + 3);
        for (auto& w : words) {
            w = static_cast<uint32_t>(rng());
        }
        ColumnFileWriter w;
        w.add("raw", raw);
        w.add("words", words);
        w.set_metadata(R"({"bytes":)" + std::to_string(bytes) + "}");
        std::string first;
        for (ColumnWriteMode mode :
             {ColumnWriteMode::kBuffered, ColumnWriteMode::kDirect, ColumnWriteMode::kAuto}) {
            ASSERT_TRUE(w.write(path_, mode).is_ok());
            std::string written = read_all(path_);
            if (mode == ColumnWriteMode::kBuffered) {
                first = written;
                // Header, the byte column from offset 64, the words from the next multiple of 64,
                // then the directory.
                uint64_t words_at = (64 + bytes + 63) / 64 * 64;
                ASSERT_GE(written.size(), words_at + words.size() * 4);
                EXPECT_TRUE(std::equal(
                    raw.begin(), raw.end(), reinterpret_cast<const uint8_t*>(written.data()) + 64));
                EXPECT_EQ(std::memcmp(written.data() + words_at, words.data(), words.size() * 4),
                          0);
            } else {
                EXPECT_TRUE(written == first) << "mode " << static_cast<int>(mode);
            }
            expect_reads_back(path_, "words", words);
        }
    }
}

// The header is written last, over the file's first block, once every column's checksum and
// the directory are known: also when the directory alone fills the direct write's stage
// (hundreds of small columns) and the first block left the stage long before.
TEST_F(ColumnFileTest, HeaderWrittenLastMatchesInEveryWriteMode) {
    std::vector<std::vector<uint32_t>> columns(300);
    for (size_t c = 0; c < columns.size(); ++c) {
        columns[c].assign(c % 7 + 1, static_cast<uint32_t>(c * 1000));
    }
    ColumnFileWriter w;
    for (size_t c = 0; c < columns.size(); ++c) {
        w.add("column_with_a_long_name_" + std::to_string(c), columns[c]);
    }
    std::string first;
    for (ColumnWriteMode mode :
         {ColumnWriteMode::kBuffered, ColumnWriteMode::kDirect, ColumnWriteMode::kAuto}) {
        ASSERT_TRUE(w.write(path_, mode).is_ok());
        std::ifstream in(path_, std::ios::binary);
        std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        ASSERT_GT(written.size(), 3 * 4096u);  // the directory alone is past two blocks
        if (mode == ColumnWriteMode::kBuffered) {
            first = written;
        } else {
            EXPECT_TRUE(written == first) << "mode " << static_cast<int>(mode);
        }
        for (size_t c : {size_t{0}, size_t{151}, columns.size() - 1}) {
            expect_reads_back(path_, "column_with_a_long_name_" + std::to_string(c), columns[c]);
        }
    }
}

// Pages of `path` in the page cache (mincore on a mapping of it).
size_t cached_pages(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    size_t size = fs::file_size(path);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident((size + page - 1) / page);
    ::mincore(map, size, resident.data());
    ::munmap(map, size);
    return static_cast<size_t>(std::count_if(
        resident.begin(), resident.end(), [](unsigned char r) { return (r & 1) != 0; }));
}

TEST_F(ColumnFileTest, LargeFilesAreWrittenPastThePageCache) {
    {
        int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0644);
        if (fd < 0 && errno == EINVAL) {
            GTEST_SKIP() << path_.parent_path() << " does not take direct I/O";
        }
        ASSERT_GE(fd, 0);
        ::close(fd);
    }
    std::vector<uint64_t> values(1 << 20);  // 8 MiB
    std::iota(values.begin(), values.end(), uint64_t{3});
    ColumnFileWriter w;
    w.add("values", values);
    ASSERT_TRUE(w.write(path_, ColumnWriteMode::kBuffered).is_ok());
    const size_t pages = fs::file_size(path_) / static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    EXPECT_GT(cached_pages(path_), pages / 2);
    fs::remove(path_);
    ASSERT_TRUE(w.write(path_).is_ok());  // kAuto: direct at this size
    EXPECT_LT(cached_pages(path_), pages / 10);
    expect_reads_back(path_, "values", values);
}

// Where direct I/O is refused (tmpfs on older kernels) the file is still written, through the
// page cache.
TEST_F(ColumnFileTest, DirectWriteFallsBackWhereRefused) {
    if (!fs::is_directory("/dev/shm")) {
        GTEST_SKIP() << "no /dev/shm";
    }
    fs::path shm_path = fs::path("/dev/shm") / path_.filename();
    std::vector<uint32_t> values(300000);
    std::iota(values.begin(), values.end(), 11u);
    ColumnFileWriter w;
    w.add("values", values);
    ASSERT_TRUE(w.write(shm_path, ColumnWriteMode::kDirect).is_ok());
    expect_reads_back(shm_path, "values", values);
    fs::remove(shm_path);
}

TEST_F(ColumnFileTest, MissingFileIsNotFound) {
    auto file = ColumnFile::open(path_);
    ASSERT_FALSE(file.is_ok());
    EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lookbook
