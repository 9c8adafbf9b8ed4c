#pragma once

// Test helpers for the CLIP input fixtures: a minimal safetensors reader (enough for the
// fixture's U8/F32/I64 tensors; the real reader lives in encoders/safetensors.hpp) and paths.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookbook/data/ingest.hpp"

namespace lookbook::testing {

inline std::filesystem::path clip_fixture_dir() {
    return std::filesystem::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "clip";
}

// tests/data/encoders, found from this header's own path (LOOKBOOK_TEST_DATA_DIR points at
// tests/encoders/data because lookbook_add_test reads CMAKE_CURRENT_SOURCE_DIR at the call).
inline std::filesystem::path encoders_test_data_dir() {
    return std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "encoders";
}

// Writes `articles_csv` to DIR/articles.csv and ingests it, with the photos in DIR/images, into
// DIR/store. Returns ingest's status.
inline Status ingest_articles(const std::filesystem::path& dir, const std::string& articles_csv) {
    std::ofstream(dir / "articles.csv", std::ios::binary) << articles_csv;
    IngestOptions options;
    options.articles = dir / "articles.csv";
    options.images = dir / "images";
    options.store = dir / "store";
    return ingest(options).status();
}

inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

inline nlohmann::json load_clip_expected_json() {
    return nlohmann::json::parse(slurp(clip_fixture_dir() / "expected.json"));
}

// One tensor's dtype, shape and raw little-endian bytes.
struct FixtureTensor {
    std::string dtype;
    std::vector<int64_t> shape;
    std::string bytes;

    template <typename T>
    std::vector<T> values() const {
        std::vector<T> out(bytes.size() / sizeof(T));
        std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
        return out;
    }
};

// Reads every tensor of a safetensors file: u64 header length, JSON header, data block.
inline std::map<std::string, FixtureTensor> read_fixture_safetensors(
    const std::filesystem::path& path) {
    std::string file = slurp(path);
    uint64_t header_len = 0;
    std::memcpy(&header_len, file.data(), sizeof(header_len));
    nlohmann::json header = nlohmann::json::parse(file.substr(8, header_len));
    std::map<std::string, FixtureTensor> tensors;
    for (const auto& [name, info] : header.items()) {
        if (name == "__metadata__") {
            continue;
        }
        FixtureTensor t;
        t.dtype = info["dtype"].get<std::string>();
        t.shape = info["shape"].get<std::vector<int64_t>>();
        auto begin = info["data_offsets"][0].get<size_t>();
        auto end = info["data_offsets"][1].get<size_t>();
        t.bytes = file.substr(8 + header_len + begin, end - begin);
        tensors[name] = std::move(t);
    }
    return tensors;
}

}  // namespace lookbook::testing
