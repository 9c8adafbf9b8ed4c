#include "lookbook/encoders/safetensors.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "lookbook/util/file.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

// A per-test scratch folder under the system temp dir, removed at the end of the test.
class SafeTensorsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() / (std::string("lookbook_safetensors_") + info->name() +
                                            "_" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Writes an 8-byte little-endian length, `header` and `data` (the length can lie).
    fs::path write_raw(const std::string& header, const std::string& data, uint64_t length) {
        std::string bytes;
        for (int byte_idx = 0; byte_idx < 8; ++byte_idx) {
            bytes.push_back(static_cast<char>((length >> (8 * byte_idx)) & 0xff));
        }
        bytes += header + data;
        fs::path path = dir_ / "raw.safetensors";
        EXPECT_TRUE(write_file_synced(path, bytes).is_ok());
        return path;
    }
    fs::path write_raw(const std::string& header, const std::string& data) {
        return write_raw(header, data, header.size());
    }

    fs::path dir_;
};

TEST_F(SafeTensorsTest, RoundTripsEveryDtypeWithMetadata) {
    torch::manual_seed(7);
    std::vector<std::pair<std::string, torch::Tensor>> tensors = {
        {"z.f32", torch::randn({3, 5})},
        {"a.f64", torch::randn({2}, torch::kFloat64)},
        {"m.f16", torch::randn({4, 1, 2}).to(torch::kFloat16)},
        {"m.bf16", torch::randn({3}).to(torch::kBFloat16)},
        {"i64", torch::arange(-3, 9, torch::kInt64).view({3, 4})},
        {"i32", torch::arange(5, torch::kInt32)},
        {"u8", torch::arange(250, 256, torch::kInt64).to(torch::kUInt8)},
        {"flags", torch::tensor({true, false, true})},
        {"scalar", torch::tensor(3.25f)},
        {"empty", torch::zeros({0, 4})},
        {"strided", torch::randn({4, 6}).t()},
    };
    fs::path path = dir_ / "all.safetensors";
    ASSERT_TRUE(write_safetensors(path, tensors, {{"format", "pt"}}).is_ok());

    auto file = SafeTensorsFile::open(path);
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    EXPECT_EQ(file->metadata().at("format"), "pt");
    EXPECT_EQ(file->size(), tensors.size());
    for (const auto& [name, expected] : tensors) {
        auto got = file->tensor(name);
        ASSERT_TRUE(got.is_ok()) << name;
        EXPECT_EQ(got->scalar_type(), expected.scalar_type()) << name;
        EXPECT_EQ(got->sizes(), expected.sizes()) << name;
        EXPECT_TRUE(torch::equal(*got, expected)) << name;
    }
    EXPECT_EQ(file->info("m.f16")->dtype, SafeTensorsDtype::kF16);
    EXPECT_EQ(file->tensor("missing").status().message(),
              path.string() + ": no tensor named \"missing\"");
}

TEST_F(SafeTensorsTest, WritesSortedNamesAndSpacePaddedHeader) {
    fs::path path = dir_ / "two.safetensors";
    ASSERT_TRUE(
        write_safetensors(path, {{"b", torch::ones({2})}, {"a", torch::zeros({1})}}).is_ok());
    auto bytes = read_file(path);
    ASSERT_TRUE(bytes.is_ok());
    uint64_t len = 0;
    for (int byte_idx = 7; byte_idx >= 0; --byte_idx) {
        len = (len << 8) | static_cast<uint8_t>((*bytes)[byte_idx]);
    }
    EXPECT_EQ(len % 8, 0u);
    std::string header = bytes->substr(8, len);
    // Hand-written expectation: "a" first at [0,4], then "b" at [4,12], then spaces.
    std::string json = R"({"a":{"data_offsets":[0,4],"dtype":"F32","shape":[1]},)"
                       R"("b":{"data_offsets":[4,12],"dtype":"F32","shape":[2]}})";
    EXPECT_EQ(header.substr(0, json.size()), json);
    EXPECT_EQ(header.substr(json.size()), std::string(len - json.size(), ' '));
    EXPECT_EQ(bytes->size(), 8 + len + 12);
}

TEST_F(SafeTensorsTest, RejectsDuplicateNamesOnWrite) {
    Status s = write_safetensors(dir_ / "dup.safetensors",
                                 {{"x", torch::ones({1})}, {"x", torch::ones({2})}});
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(),
              (dir_ / "dup.safetensors").string() +
                  ": tensor name \"x\" appears twice; names must be unique");
}

TEST_F(SafeTensorsTest, OpensSharedFixtureFiles) {
    fs::path clip = fs::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "clip";
    auto openai = SafeTensorsFile::open(clip / "tiny_clip_openai.safetensors");
    ASSERT_TRUE(openai.is_ok()) << openai.status().to_string();
    EXPECT_EQ(openai->size(), 62u);
    EXPECT_EQ(openai->metadata().at("format"), "pt");
    EXPECT_EQ(openai->info("token_embedding.weight")->shape, (std::vector<int64_t>{49408, 32}));
    auto hf = SafeTensorsFile::open(clip / "hf" / "model.safetensors");
    ASSERT_TRUE(hf.is_ok()) << hf.status().to_string();
    EXPECT_EQ(hf->size(), 78u);

    // The stored logit scale is ln 50, as the fixture README says.
    auto expected = SafeTensorsFile::open(clip / "expected_tensors.safetensors");
    ASSERT_TRUE(expected.is_ok());
    auto scale = expected->tensor("logit_scale");
    ASSERT_TRUE(scale.is_ok());
    EXPECT_EQ(scale->dim(), 0);
    EXPECT_NEAR(std::exp(scale->item<float>()), 50.0f, 1e-4);
    EXPECT_EQ(expected->info("input_ids")->dtype, SafeTensorsDtype::kI64);
    EXPECT_EQ(expected->info("cropped_rgb_uint8")->dtype, SafeTensorsDtype::kU8);
}

TEST_F(SafeTensorsTest, RejectsFileShorterThanHeaderLength) {
    fs::path path = dir_ / "short.safetensors";
    ASSERT_TRUE(write_file_synced(path, "abc").is_ok());
    auto file = SafeTensorsFile::open(path);
    EXPECT_EQ(file.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(file.status().message(),
              path.string() +
                  ": file is 3 bytes, shorter than the 8-byte header length; the file is "
                  "truncated or is not a safetensors file. Download or export it again.");
}

TEST_F(SafeTensorsTest, RejectsHeaderLengthPastEndOfFile) {
    fs::path path = write_raw("{}      ", "", 1000);
    auto file = SafeTensorsFile::open(path);
    EXPECT_EQ(file.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(file.status().message(),
              path.string() +
                  ": header length 1000 bytes runs past the end of the file (16 bytes); the "
                  "file is truncated or is not a safetensors file. Download or export it again.");
}

TEST_F(SafeTensorsTest, RejectsHeaderThatIsNotJson) {
    fs::path path = write_raw("{\"a\": [1,", "");
    auto file = SafeTensorsFile::open(path);
    EXPECT_EQ(file.status().code(), StatusCode::kInvalidData);
    const std::string& msg = file.status().message();
    EXPECT_EQ(msg.rfind(path.string() + ": header is not valid JSON (", 0), 0u) << msg;
    EXPECT_NE(msg.find("parse error"), std::string::npos) << msg;

    auto array = SafeTensorsFile::open(write_raw("[1, 2]", ""));
    EXPECT_EQ(array.status().message(),
              path.string() +
                  ": header is a JSON array; expected an object of tensor entries; the file is "
                  "truncated or is not a safetensors file. Download or export it again.");
}

TEST_F(SafeTensorsTest, RejectsTruncatedData) {
    // The header promises 8 bytes of data but only 4 are there.
    fs::path path = write_raw(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd");
    auto file = SafeTensorsFile::open(path);
    EXPECT_EQ(file.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(file.status().message(),
              path.string() +
                  ": tensor \"w\": data_offsets [0, 8] run past the end of the data section (4 "
                  "bytes); the file is truncated or is not a safetensors file. Download or "
                  "export it again.");
}

TEST_F(SafeTensorsTest, RejectsShapeThatDisagreesWithOffsets) {
    fs::path path = write_raw(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                              std::string(24, '\0'));
    auto file = SafeTensorsFile::open(path);
    EXPECT_EQ(file.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(file.status().message(),
              path.string() +
                  ": tensor \"w\": shape [2, 3] of F32 needs 24 bytes, but data_offsets [0, 20] "
                  "cover 20");
}

TEST_F(SafeTensorsTest, RejectsOverlappingTensors) {
    fs::path path = write_raw(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})",
                              std::string(16, '\0'));
    auto file = SafeTensorsFile::open(path);
    EXPECT_EQ(file.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(file.status().message(),
              path.string() +
                  ": tensors \"a\" [0, 8] and \"b\" [6, 10] overlap; the header is corrupt. "
                  "Export the file again.");
}

TEST_F(SafeTensorsTest, RejectsUnknownDtype) {
    fs::path path = write_raw(R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})",
                              std::string(2, '\0'));
    auto file = SafeTensorsFile::open(path);
    EXPECT_EQ(file.status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(file.status().message(),
              path.string() +
                  ": tensor \"w\": unknown dtype \"F8_E4M3\"; lookbook reads F64, F32, F16, "
                  "BF16, I64, I32, I16, I8, U8 and BOOL. Convert the file to one of those.");
}

TEST_F(SafeTensorsTest, RejectsMissingFile) {
    auto file = SafeTensorsFile::open(dir_ / "nope.safetensors");
    EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(file.status().message(), (dir_ / "nope.safetensors").string() + ": no such file");
}

}  // namespace
}  // namespace lookbook
