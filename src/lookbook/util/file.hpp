#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "lookbook/util/status.hpp"

namespace lookbook {

// A read-only memory mapping of a whole file. Move-only; unmaps on destruction. An empty file
// maps to size 0 and a null data pointer.
class MappedFile {
  public:
    MappedFile() = default;
    ~MappedFile();
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    // Fails with kNotFound when the file does not exist and kIOError when it cannot be mapped.
    static Result<MappedFile> open(const std::filesystem::path& path);

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

  private:
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// Writes `bytes` to `path` (replacing it) and flushes it to disk before returning.
Status write_file_synced(const std::filesystem::path& path, std::string_view bytes);

// Reads a whole file; kNotFound when it does not exist.
Result<std::string> read_file(const std::filesystem::path& path);

// Flushes a directory entry (after a rename or create inside it) to disk.
Status sync_directory(const std::filesystem::path& dir);

// Puts the folder `fresh` in the place of `dir` (which may not exist): `dir` is renamed to
// DIR.old, `fresh` to `dir`, then DIR.old is removed, so a reader sees the old folder or the new
// one whole. When the second rename fails the old folder is put back. kIOError naming `dir`.
Status replace_directory(const std::filesystem::path& fresh, const std::filesystem::path& dir);

// Peak resident memory of this process so far (VmHWM), in bytes; 0 when unknown.
uint64_t peak_rss_bytes();

// Current resident memory of this process (VmRSS), in bytes; 0 when unknown.
uint64_t current_rss_bytes();

}  // namespace lookbook
