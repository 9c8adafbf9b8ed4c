#include "lookbook/util/file.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

namespace lookbook {
namespace {
namespace fs = std::filesystem;

class ReplaceDirectoryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("lookbook_file_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    void put(const fs::path& folder, const std::string& text) {
        fs::create_directories(folder);
        std::ofstream(folder / "file.txt") << text;
    }
    static std::string text_in(const fs::path& folder) {
        auto text = read_file(folder / "file.txt");
        return text.is_ok() ? *text : "(none)";
    }

    fs::path dir_;
};

TEST_F(ReplaceDirectoryTest, SwapsTheNewFolderInAndRemovesTheOld) {
    put(dir_ / "model", "old");
    put(dir_ / "model.tmp", "new");
    ASSERT_TRUE(replace_directory(dir_ / "model.tmp", dir_ / "model").is_ok());
    EXPECT_EQ(text_in(dir_ / "model"), "new");
    EXPECT_FALSE(fs::exists(dir_ / "model.tmp"));
    EXPECT_FALSE(fs::exists(dir_ / "model.old"));
}

TEST_F(ReplaceDirectoryTest, MovesTheFolderWhenThereWasNone) {
    put(dir_ / "model.tmp", "new");
    ASSERT_TRUE(replace_directory(dir_ / "model.tmp", dir_ / "model").is_ok());
    EXPECT_EQ(text_in(dir_ / "model"), "new");
}

TEST_F(ReplaceDirectoryTest, KeepsTheOldFolderWhenTheNewOneCannotBeMoved) {
    put(dir_ / "model", "old");
    Status status = replace_directory(dir_ / "missing", dir_ / "model");
    EXPECT_EQ(status.code(), StatusCode::kIOError);
    EXPECT_EQ(status.message().rfind((dir_ / "model").string() + ": cannot move " +
                                         (dir_ / "missing").string() + " into place: ",
                                     0),
              0u)
        << status.message();
    EXPECT_EQ(text_in(dir_ / "model"), "old");
    EXPECT_FALSE(fs::exists(dir_ / "model.old"));
}

}  // namespace
}  // namespace lookbook
