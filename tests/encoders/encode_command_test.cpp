// End-to-end checks of `lookbook encode`, running the built binary. The binary is found next to
// this test in the build tree (build/apps/lookbook for build/tests/encoders/encoders_test);
// the tests skip when it has not been built.
#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <torch/torch.h>

#include "lookbook/encoders/safetensors.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

const fs::path kClip = fs::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "clip";
const fs::path kAlign = fs::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "align";

fs::path cli_path() {
    return fs::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path() / "apps" /
           "lookbook";
}

struct CommandOutput {
    int exit_code = -1;
    std::string output;
};

// Runs the CLI with `args` (already shell-quoted), capturing stdout (and stderr when asked).
CommandOutput run_cli(const std::string& args, bool with_stderr) {
    std::string command = cli_path().string() + " " + args + (with_stderr ? " 2>&1" : "");
    CommandOutput out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return out;
    }
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        out.output.append(buffer.data(), n);
    }
    int status = ::pclose(pipe);
    out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

TEST(EncodeCommand, PrintsFixtureTextEmbeddingAsJson) {
    if (!fs::exists(cli_path())) {
        GTEST_SKIP() << "lookbook binary not built at " << cli_path();
    }
    CommandOutput result = run_cli("--log-level warn encode --model '" + (kClip / "hf").string() +
                                       "' --text 'a photo of a red dress' --json",
                                   false);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    nlohmann::json parsed = nlohmann::json::parse(result.output);

    auto expected = SafeTensorsFile::open(kClip / "expected_tensors.safetensors");
    ASSERT_TRUE(expected.is_ok());
    torch::Tensor ids = expected->tensor("input_ids")->select(0, 0);
    torch::Tensor embeds = expected->tensor("text_embeds")->select(0, 0);
    torch::Tensor unit = expected->tensor("text_embeds_normalized")->select(0, 0);
    ASSERT_EQ(parsed["token_ids"].size(), 77u);
    ASSERT_EQ(parsed["embedding"].size(), 32u);
    for (int64_t i = 0; i < 77; ++i) {
        EXPECT_EQ(parsed["token_ids"][i].get<int64_t>(), ids[i].item<int64_t>());
    }
    for (int64_t i = 0; i < 32; ++i) {
        EXPECT_NEAR(parsed["embedding"][i].get<double>(), embeds[i].item<double>(), 1e-4);
        EXPECT_NEAR(parsed["normalized"][i].get<double>(), unit[i].item<double>(), 1e-5);
    }
}

TEST(EncodeCommand, PrintsImageEmbeddingForOpenClipFolder) {
    if (!fs::exists(cli_path())) {
        GTEST_SKIP() << "lookbook binary not built at " << cli_path();
    }
    CommandOutput result =
        run_cli("--log-level warn encode --model '" + kClip.string() + "' --image '" +
                    (kClip / "images" / "noise_32x32.png").string() + "'",
                false);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(result.output.rfind("embedding (32): ", 0), 0u) << result.output;
    EXPECT_NE(result.output.find("\nnormalized (32): "), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("token_ids"), std::string::npos);
}

TEST(EncodeCommand, FailsWithMessageForMissingModelFolder) {
    if (!fs::exists(cli_path())) {
        GTEST_SKIP() << "lookbook binary not built at " << cli_path();
    }
    CommandOutput result = run_cli("encode --model /nonexistent/model --text hello", true);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.output, "lookbook encode: /nonexistent/model: model folder does not exist\n");
}

TEST(EncodeCommand, RecognisesAlignFolderAndPrintsItsEmbeddings) {
    if (!fs::exists(cli_path())) {
        GTEST_SKIP() << "lookbook binary not built at " << cli_path();
    }
    auto expected = SafeTensorsFile::open(kAlign / "expected_tensors.safetensors");
    ASSERT_TRUE(expected.is_ok());
    // Text 0 of the fixture, then image 5 (noise_32x32.png), both as JSON.
    CommandOutput text = run_cli("--log-level warn encode --model '" + kAlign.string() +
                                     "' --text 'a photo of a red dress' --json",
                                 false);
    ASSERT_EQ(text.exit_code, 0) << text.output;
    nlohmann::json parsed = nlohmann::json::parse(text.output);
    EXPECT_EQ(parsed["model_type"], "align");
    torch::Tensor ids = expected->tensor("input_ids")->select(0, 0);
    ASSERT_EQ(parsed["token_ids"].size(), 64u);
    for (int64_t i = 0; i < 64; ++i) {
        EXPECT_EQ(parsed["token_ids"][i].get<int64_t>(), ids[i].item<int64_t>());
    }
    torch::Tensor embeds = expected->tensor("text_embeds")->select(0, 0);
    ASSERT_EQ(parsed["embedding"].size(), 16u);
    for (int64_t i = 0; i < 16; ++i) {
        EXPECT_NEAR(parsed["embedding"][i].get<double>(), embeds[i].item<double>(), 1e-4);
    }
    CommandOutput image =
        run_cli("--log-level warn encode --model '" + kAlign.string() + "' --image '" +
                    (kAlign / "images" / "noise_32x32.png").string() + "' --json",
                false);
    ASSERT_EQ(image.exit_code, 0) << image.output;
    parsed = nlohmann::json::parse(image.output);
    torch::Tensor unit = expected->tensor("image_embeds_normalized")->select(0, 5);
    ASSERT_EQ(parsed["normalized"].size(), 16u);
    for (int64_t i = 0; i < 16; ++i) {
        EXPECT_NEAR(parsed["normalized"][i].get<double>(), unit[i].item<double>(), 1e-5);
    }
}

}  // namespace
}  // namespace lookbook
