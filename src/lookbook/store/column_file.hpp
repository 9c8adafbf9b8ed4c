#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lookbook/util/file.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// A column file (.lbc) holds named, typed columns and a JSON metadata text:
//
//   [0, 64)   header: magic "LOOKBOOK", u32 format version, u32 reserved, u64 directory offset,
//             u64 directory size, u32 CRC-32C of the directory, u32 CRC-32C of bytes [0, 32)
//   columns   each starting at a multiple of 64 bytes, little-endian, no per-value framing
//   directory JSON: {"metadata": ..., "columns": [{"name", "type", "offset", "count", "crc"}]}
//
// Readers map the file and hand out spans into it, so opening costs one header and directory
// read however large the columns are. Data checksums are checked by verify(), not by open().
enum class ColumnType : uint8_t { kU8, kU32, kI32, kU64, kF32, kF64, kBytes };

constexpr uint32_t kColumnFileVersion = 1;

const char* column_type_name(ColumnType type);

template <typename T>
constexpr ColumnType column_type_of();
template <>
constexpr ColumnType column_type_of<uint8_t>() {
    return ColumnType::kU8;
}
template <>
constexpr ColumnType column_type_of<uint32_t>() {
    return ColumnType::kU32;
}
template <>
constexpr ColumnType column_type_of<int32_t>() {
    return ColumnType::kI32;
}
template <>
constexpr ColumnType column_type_of<uint64_t>() {
    return ColumnType::kU64;
}
template <>
constexpr ColumnType column_type_of<float>() {
    return ColumnType::kF32;
}
template <>
constexpr ColumnType column_type_of<double>() {
    return ColumnType::kF64;
}
template <>
constexpr ColumnType column_type_of<char>() {
    return ColumnType::kBytes;
}

// Strings stored as an offsets column (count + 1 entries) and one bytes column.
struct StringColumn {
    std::span<const uint64_t> offsets;
    const char* bytes = nullptr;

    size_t size() const { return offsets.empty() ? 0 : offsets.size() - 1; }
    std::string_view at(size_t i) const {
        return std::string_view(bytes + offsets[i], offsets[i + 1] - offsets[i]);
    }
};

enum class ColumnWriteMode { kAuto, kDirect, kBuffered };

// Collects columns and writes them as one file. Columns added as spans are borrowed: the caller
// keeps them alive until write() returns. add_owned_* copies.
class ColumnFileWriter {
  public:
    template <typename T>
    void add(const std::string& name, std::span<const T> values) {
        add_raw(name, column_type_of<T>(), values.data(), values.size(), sizeof(T));
    }
    template <typename T>
    void add(const std::string& name, const std::vector<T>& values) {
        add(name, std::span<const T>(values));
    }
    // A temporary vector is moved in and owned, so it cannot dangle.
    template <typename T>
    void add(const std::string& name, std::vector<T>&& values) {
        add_owned(name, std::move(values));
    }
    template <typename T>
    void add_owned(const std::string& name, std::vector<T> values) {
        auto holder = std::make_shared<std::vector<T>>(std::move(values));
        owned_.push_back(holder);
        add(name, std::span<const T>(*holder));
    }
    // Adds "<name>.offsets" and "<name>.bytes".
    void add_strings(const std::string& name,
                     std::span<const uint64_t> offsets,
                     std::string_view bytes);
    void add_owned_strings(const std::string& name, const std::vector<std::string>& values);
    void set_metadata(std::string json_text) { metadata_ = std::move(json_text); }

    // Writes the file and flushes it to disk. kIOError names the path and the reason.
    // kAuto writes files of 1 MiB or more with direct I/O (O_DIRECT), past the page cache:
    // copying a store of hundreds of megabytes into freshly allocated cache pages was most of
    // the time `ingest` spent writing, and nothing reads the store back at once. The written
    // file is then not in the page cache: its first reader reads it from the disk. Where the
    // file system refuses direct I/O the file is written through the page cache. The bytes
    // written are the same in every mode.
    Status write(const std::filesystem::path& path,
                 ColumnWriteMode mode = ColumnWriteMode::kAuto) const;

  private:
    struct Entry {
        std::string name;
        ColumnType type;
        const void* data;
        size_t count;
        size_t width;
    };
    void add_raw(
        const std::string& name, ColumnType type, const void* data, size_t count, size_t width);

    std::vector<Entry> entries_;
    std::vector<std::shared_ptr<void>> owned_;
    std::string metadata_ = "{}";
};

// A mapped, read-only column file. Move-only.
class ColumnFile {
  public:
    // Checks magic, version, header and directory checksums and that every column lies inside
    // the file. kNotFound for a missing file, kCorruption (naming the file) for anything else.
    static Result<ColumnFile> open(const std::filesystem::path& path);

    bool has(const std::string& name) const { return columns_.count(name) > 0; }
    template <typename T>
    Result<std::span<const T>> column(const std::string& name) const {
        LOOKBOOK_ASSIGN_OR_RETURN(const Column* c, find(name, column_type_of<T>()));
        return std::span<const T>(reinterpret_cast<const T*>(file_.data() + c->offset), c->count);
    }
    Result<StringColumn> strings(const std::string& name) const;
    // The metadata JSON text given to the writer.
    const std::string& metadata() const { return metadata_; }
    const std::filesystem::path& path() const { return path_; }
    uint64_t size_bytes() const { return file_.size(); }

    // Recomputes every column's checksum; kCorruption names the first column that differs.
    Status verify() const;

  private:
    struct Column {
        ColumnType type;
        uint64_t offset;
        uint64_t count;
        uint64_t bytes;
        uint32_t crc;
    };
    Result<const Column*> find(const std::string& name, ColumnType type) const;

    std::filesystem::path path_;
    MappedFile file_;
    std::map<std::string, Column> columns_;
    std::string metadata_;
};

}  // namespace lookbook
