#include "lookbook/store/column_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "lookbook/util/assert.hpp"
#include "lookbook/util/checksum.hpp"

namespace lookbook {
namespace {

constexpr char kMagic[8] = {'L', 'O', 'O', 'K', 'B', 'O', 'O', 'K'};
constexpr size_t kHeaderSize = 64;
constexpr size_t kAlignment = 64;

size_t type_width(ColumnType type) {
    switch (type) {
        case ColumnType::kU8:
        case ColumnType::kBytes:
            return 1;
        case ColumnType::kU32:
        case ColumnType::kI32:
        case ColumnType::kF32:
            return 4;
        case ColumnType::kU64:
        case ColumnType::kF64:
            return 8;
    }
    return 1;
}

bool type_from_name(const std::string& name, ColumnType* type) {
    for (ColumnType t : {ColumnType::kU8,
                         ColumnType::kU32,
                         ColumnType::kI32,
                         ColumnType::kU64,
                         ColumnType::kF32,
                         ColumnType::kF64,
                         ColumnType::kBytes}) {
        if (name == column_type_name(t)) {
            *type = t;
            return true;
        }
    }
    return false;
}

// Block size and alignment of direct writes: 4 KiB suits devices of 512-byte and 4 KiB sectors.
constexpr size_t kDirectBlock = 4096;
// Data is staged in an aligned buffer of at most this size for direct writes.
constexpr size_t kDirectStage = size_t{1} << 20;
// Files at least this large are written past the page cache (ColumnWriteMode::kAuto).
constexpr uint64_t kDirectMinBytes = uint64_t{1} << 20;

// Unstaged writes go out in pieces of this size, each checksummed just before write() copies
// it, while it is in the cache.
constexpr size_t kUnstagedPiece = size_t{1} << 20;

// Appends to a file descriptor, tracking the offset; the first error sticks. With a staging
// buffer (direct I/O) the bytes are gathered into aligned blocks and written whole; finish()
// writes the last block padded with zeros and cuts the file back to its length. The file's
// first bytes (its header) are written again by finish(), once the rest is known.
class FileSink {
  public:
    FileSink(int fd, size_t stage_bytes) : fd_(fd) {
        if (stage_bytes > 0) {
            stage_size_ = stage_bytes;
            stage_.reset(static_cast<char*>(std::aligned_alloc(kDirectBlock, stage_size_)));
            if (!stage_) {
                error_ = ENOMEM;
            }
        }
    }
    // Appends `size` bytes. With `crc`, extends *crc (CRC-32C) over them, computed on each
    // piece just copied to the stage or about to be written: a column is then read from memory
    // once, where checksumming it first and copying it after read it twice (170 MB for
    // ingest_bench's store).
    void write(const void* data, size_t size, uint32_t* crc = nullptr) {
        const char* p = static_cast<const char*>(data);
        offset_ += size;
        if (!stage_) {
            while (size > 0 && error_ == 0) {
                size_t n = std::min(size, kUnstagedPiece);
                if (crc != nullptr) {
                    *crc = crc32c(p, n, *crc);
                }
                write_out(p, n);
                p += n;
                size -= n;
            }
            return;
        }
        while (size > 0 && error_ == 0) {
            size_t n = std::min(size, stage_size_ - staged_);
            std::memcpy(stage_.get() + staged_, p, n);
            if (crc != nullptr) {
                *crc = crc32c(stage_.get() + staged_, n, *crc);
            }
            staged_ += n;
            p += n;
            size -= n;
            if (staged_ == stage_size_) {
                flush_stage(staged_);
            }
        }
    }
    void pad_to(size_t alignment) {
        static const char kZeros[kAlignment] = {};
        size_t rem = offset_ % alignment;
        if (rem != 0) {
            write(kZeros, alignment - rem);
        }
    }
    // Writes what is staged and `header` over the file's first `header_size` bytes (at most a
    // block); the file then holds exactly offset() bytes.
    void finish(const char* header, size_t header_size) {
        if (error_ != 0) {
            return;
        }
        if (!stage_) {
            write_at(header, header_size, 0);
            return;
        }
        if (written_ == 0) {
            std::memcpy(stage_.get(), header, header_size);  // the first block is still here
        }
        if (staged_ > 0) {
            size_t whole = (staged_ + kDirectBlock - 1) / kDirectBlock * kDirectBlock;
            std::memset(stage_.get() + staged_, 0, whole - staged_);
            flush_stage(whole);
            staged_ = 0;
        }
        if (first_block_) {
            // A direct write takes whole blocks: the first one again, header included.
            std::memcpy(first_block_.get(), header, header_size);
            write_at(first_block_.get(), kDirectBlock, 0);
        }
        if (error_ == 0 && written_ != offset_ &&
            ::ftruncate(fd_, static_cast<off_t>(offset_)) != 0) {
            error_ = errno;
        }
    }
    uint64_t offset() const { return offset_; }
    int error() const { return error_; }

  private:
    // Writes the first `size` bytes of the stage, keeping a copy of the file's first block
    // for finish().
    void flush_stage(size_t size) {
        if (written_ == 0 && !first_block_) {
            first_block_.reset(static_cast<char*>(std::aligned_alloc(kDirectBlock, kDirectBlock)));
            if (!first_block_) {
                error_ = ENOMEM;
                return;
            }
            std::memcpy(first_block_.get(), stage_.get(), kDirectBlock);
        }
        write_out(stage_.get(), size);
        staged_ = 0;
    }
    // Appends with write() until all `size` bytes are out.
    void write_out(const char* p, size_t size) { put(p, size, -1); }
    // Writes at offset `at` with pwrite(), the end of the file unchanged.
    void write_at(const char* p, size_t size, uint64_t at) { put(p, size, static_cast<off_t>(at)); }
    void put(const char* p, size_t size, off_t at) {
        while (size > 0 && error_ == 0) {
            ssize_t n = at < 0 ? ::write(fd_, p, size) : ::pwrite(fd_, p, size, at);
            if (n < 0) {
                if (errno != EINTR) {
                    error_ = errno;
                }
                continue;
            }
            if (n == 0) {
                error_ = EIO;
                break;
            }
            p += n;
            size -= static_cast<size_t>(n);
            if (at < 0) {
                written_ += static_cast<uint64_t>(n);
            } else {
                at += n;
            }
        }
    }

    struct Free {
        void operator()(char* p) const { std::free(p); }
    };
    int fd_;
    uint64_t offset_ = 0;   // bytes given to write()
    uint64_t written_ = 0;  // bytes handed to the kernel by write()
    int error_ = 0;
    std::unique_ptr<char, Free> stage_;
    std::unique_ptr<char, Free> first_block_;  // the file's first block as staged
    size_t stage_size_ = 0;
    size_t staged_ = 0;
};

uint64_t round_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

const char* column_type_name(ColumnType type) {
    switch (type) {
        case ColumnType::kU8:
            return "u8";
        case ColumnType::kU32:
            return "u32";
        case ColumnType::kI32:
            return "i32";
        case ColumnType::kU64:
            return "u64";
        case ColumnType::kF32:
            return "f32";
        case ColumnType::kF64:
            return "f64";
        case ColumnType::kBytes:
            return "bytes";
    }
    return "?";
}

void ColumnFileWriter::add_raw(
    const std::string& name, ColumnType type, const void* data, size_t count, size_t width) {
    entries_.push_back(Entry{name, type, data, count, width});
}

void ColumnFileWriter::add_strings(const std::string& name,
                                   std::span<const uint64_t> offsets,
                                   std::string_view bytes) {
    add(name + ".offsets", offsets);
    add_raw(name + ".bytes", ColumnType::kBytes, bytes.data(), bytes.size(), 1);
}

void ColumnFileWriter::add_owned_strings(const std::string& name,
                                         const std::vector<std::string>& values) {
    std::vector<uint64_t> offsets{0};
    offsets.reserve(values.size() + 1);
    auto bytes = std::make_shared<std::string>();
    for (const auto& v : values) {
        bytes->append(v);
        offsets.push_back(bytes->size());
    }
    owned_.push_back(bytes);
    add_owned(name + ".offsets", std::move(offsets));
    add_raw(name + ".bytes", ColumnType::kBytes, bytes->data(), bytes->size(), 1);
}

Status ColumnFileWriter::write(const std::filesystem::path& path, ColumnWriteMode mode) const {
    // The layout comes first; each column's checksum is computed as it is written, and the
    // header, which holds the directory's place and checksum, is written last over the front.
    std::vector<uint64_t> column_offsets;
    uint64_t offset = kHeaderSize;
    for (const Entry& e : entries_) {
        offset = round_up(offset, kAlignment);
        column_offsets.push_back(offset);
        offset += e.count * e.width;
    }
    const uint64_t dir_offset = round_up(offset, kAlignment);

    bool direct = mode == ColumnWriteMode::kDirect ||
                  (mode == ColumnWriteMode::kAuto && dir_offset >= kDirectMinBytes);
    auto write_once = [&](bool use_direct) -> int {
        int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (use_direct ? O_DIRECT : 0);
        int fd = ::open(path.c_str(), flags, 0644);
        if (fd < 0) {
            return errno;
        }
        // Room for the columns and a block of directory; a longer directory takes two stages.
        FileSink sink(
            fd,
            use_direct
                ? std::min<size_t>(kDirectStage, round_up(dir_offset + kDirectBlock, kDirectBlock))
                : 0);
        static const char kHeaderPlaceholder[kHeaderSize] = {};
        sink.write(kHeaderPlaceholder, kHeaderSize);
        nlohmann::json columns = nlohmann::json::array();
        for (size_t i = 0; i < entries_.size(); ++i) {
            const Entry& e = entries_[i];
            sink.pad_to(kAlignment);
            LOOKBOOK_ASSERT(sink.offset() == column_offsets[i], "the layout above places it so");
            uint32_t crc = 0;
            sink.write(e.data, e.count * e.width, &crc);
            columns.push_back({{"name", e.name},
                               {"type", column_type_name(e.type)},
                               {"offset", column_offsets[i]},
                               {"count", e.count},
                               {"crc", crc}});
        }
        nlohmann::json directory;
        directory["columns"] = std::move(columns);
        directory["metadata"] = metadata_;
        const std::string dir_text = directory.dump();
        sink.pad_to(kAlignment);
        LOOKBOOK_ASSERT(sink.offset() == dir_offset, "the layout above places it so");
        sink.write(dir_text.data(), dir_text.size());

        char header[kHeaderSize] = {};
        uint32_t version = kColumnFileVersion;
        uint64_t dir_size = dir_text.size();
        uint32_t dir_crc = crc32c(dir_text.data(), dir_text.size());
        std::memcpy(header, kMagic, 8);
        std::memcpy(header + 8, &version, 4);
        std::memcpy(header + 16, &dir_offset, 8);
        std::memcpy(header + 24, &dir_size, 8);
        std::memcpy(header + 32, &dir_crc, 4);
        uint32_t header_crc = crc32c(header, 36);
        std::memcpy(header + 36, &header_crc, 4);
        sink.finish(header, kHeaderSize);
        int err = sink.error();
        if (err == 0 && ::fsync(fd) != 0) {
            err = errno;
        }
        ::close(fd);
        return err;
    };
    int err = write_once(direct);
    if (direct && err == EINVAL) {
        // The file system does not take direct I/O (tmpfs on older kernels, some network
        // file systems): write through the page cache instead.
        err = write_once(false);
    }
    if (err != 0) {
        return Status::io_error(fmt::format(
            "{}: write failed: {}. Check free disk space.", path.string(), std::strerror(err)));
    }
    return Status::ok();
}

Result<ColumnFile> ColumnFile::open(const std::filesystem::path& path) {
    LOOKBOOK_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(path));
    auto corrupt = [&](const std::string& why) {
        return Status::corruption(
            fmt::format("{}: {}. The store is damaged; re-run `lookbook ingest` to rebuild it.",
                        path.string(),
                        why));
    };
    if (mapped.size() < kHeaderSize || std::memcmp(mapped.data(), kMagic, 8) != 0) {
        return corrupt("not a lookbook column file (bad magic)");
    }
    const uint8_t* h = mapped.data();
    uint32_t version;
    uint64_t dir_offset;
    uint64_t dir_size;
    uint32_t dir_crc;
    uint32_t header_crc;
    std::memcpy(&version, h + 8, 4);
    std::memcpy(&dir_offset, h + 16, 8);
    std::memcpy(&dir_size, h + 24, 8);
    std::memcpy(&dir_crc, h + 32, 4);
    std::memcpy(&header_crc, h + 36, 4);
    if (crc32c(h, 36) != header_crc) {
        return corrupt("header checksum mismatch");
    }
    if (version != kColumnFileVersion) {
        return Status::unsupported(fmt::format(
            "{}: column file format version {} is not supported (this lookbook reads version "
            "{}). Re-run `lookbook ingest` with this version.",
            path.string(),
            version,
            kColumnFileVersion));
    }
    if (dir_offset > mapped.size() || dir_size > mapped.size() - dir_offset) {
        return corrupt("directory lies past the end of the file (truncated?)");
    }
    const char* dir_text = reinterpret_cast<const char*>(h) + dir_offset;
    if (crc32c(dir_text, dir_size) != dir_crc) {
        return corrupt("directory checksum mismatch");
    }
    ColumnFile file;
    try {
        auto directory = nlohmann::json::parse(dir_text, dir_text + dir_size);
        file.metadata_ = directory.at("metadata").get<std::string>();
        for (const auto& c : directory.at("columns")) {
            Column column{};
            if (!type_from_name(c.at("type").get<std::string>(), &column.type)) {
                return corrupt("unknown column type " + c.at("type").dump());
            }
            column.offset = c.at("offset").get<uint64_t>();
            column.count = c.at("count").get<uint64_t>();
            column.crc = c.at("crc").get<uint32_t>();
            column.bytes = column.count * type_width(column.type);
            if (column.offset > dir_offset || column.bytes > dir_offset - column.offset ||
                column.offset % type_width(column.type) != 0) {
                return corrupt("column " + c.at("name").dump() + " lies outside the file");
            }
            file.columns_[c.at("name").get<std::string>()] = column;
        }
    } catch (const nlohmann::json::exception& e) {
        return corrupt(std::string("unreadable directory: ") + e.what());
    }
    file.path_ = path;
    file.file_ = std::move(mapped);
    return file;
}

Result<const ColumnFile::Column*> ColumnFile::find(const std::string& name, ColumnType type) const {
    auto it = columns_.find(name);
    if (it == columns_.end()) {
        return Status::corruption(
            fmt::format("{}: column \"{}\" is missing", path_.string(), name));
    }
    if (it->second.type != type) {
        return Status::corruption(fmt::format("{}: column \"{}\" has type {}; expected {}",
                                              path_.string(),
                                              name,
                                              column_type_name(it->second.type),
                                              column_type_name(type)));
    }
    return &it->second;
}

Result<StringColumn> ColumnFile::strings(const std::string& name) const {
    LOOKBOOK_ASSIGN_OR_RETURN(auto offsets, column<uint64_t>(name + ".offsets"));
    LOOKBOOK_ASSIGN_OR_RETURN(auto bytes, column<char>(name + ".bytes"));
    if (offsets.empty()) {
        return Status::corruption(
            fmt::format("{}: string column \"{}\" has no offsets", path_.string(), name));
    }
    // Offsets must rise and stay inside the bytes, or at() would read out of bounds.
    uint64_t prev = 0;
    for (uint64_t off : offsets) {
        if (off < prev || off > bytes.size()) {
            return Status::corruption(fmt::format(
                "{}: string column \"{}\" has offsets outside its bytes", path_.string(), name));
        }
        prev = off;
    }
    return StringColumn{offsets, bytes.data()};
}

Status ColumnFile::verify() const {
    for (const auto& [name, c] : columns_) {
        if (crc32c(file_.data() + c.offset, c.bytes) != c.crc) {
            return Status::corruption(fmt::format(
                "{}: column \"{}\" checksum mismatch. The store is damaged; re-run `lookbook "
                "ingest` to rebuild it.",
                path_.string(),
                name));
        }
    }
    return Status::ok();
}

}  // namespace lookbook
