#include "lookbook/store/column_file.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

namespace lookbook {
namespace {
namespace fs = std::filesystem;

class ColumnFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        path_ =
            fs::temp_directory_path() /
            ("lookbook_cf_" +
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

TEST_F(ColumnFileTest, MissingFileIsNotFound) {
    auto file = ColumnFile::open(path_);
    ASSERT_FALSE(file.is_ok());
    EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lookbook
