#pragma once

// Paths and readers for the ALIGN known-answer fixtures in LOOKBOOK_SHARED_DIR/fixtures/align
// (a tiny random Hugging Face AlignModel with its inputs and reference outputs; see its
// README.md). Tests skip when the shared folder is absent.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "lookbook/encoders/safetensors.hpp"

namespace lookbook::testing {

inline std::filesystem::path align_fixture_dir() {
    return std::filesystem::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "align";
}

inline nlohmann::json load_align_expected_json() {
    std::ifstream in(align_fixture_dir() / "expected.json", std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return nlohmann::json::parse(buffer.str());
}

// A reference tensor from expected_tensors.safetensors; fails the test when absent.
inline torch::Tensor align_expected_tensor(const std::string& name) {
    static auto file = SafeTensorsFile::open(align_fixture_dir() / "expected_tensors.safetensors");
    if (!file.is_ok()) {
        ADD_FAILURE() << file.status().message();
        return {};
    }
    auto tensor = file->tensor(name);
    if (!tensor.is_ok()) {
        ADD_FAILURE() << tensor.status().message();
        return {};
    }
    return *tensor;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace lookbook::testing
