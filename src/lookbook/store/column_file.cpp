#include "lookbook/store/column_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

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

// Appends to a file descriptor, tracking the offset; the first error sticks.
class FileSink {
  public:
    explicit FileSink(int fd) : fd_(fd) {}
    void write(const void* data, size_t size) {
        const char* p = static_cast<const char*>(data);
        while (size > 0 && error_ == 0) {
            ssize_t n = ::write(fd_, p, size);
            if (n < 0) {
                if (errno != EINTR) {
                    error_ = errno;
                }
                continue;
            }
            p += n;
            size -= static_cast<size_t>(n);
            offset_ += static_cast<uint64_t>(n);
        }
    }
    void pad_to(size_t alignment) {
        static const char kZeros[kAlignment] = {};
        size_t rem = offset_ % alignment;
        if (rem != 0) {
            write(kZeros, alignment - rem);
        }
    }
    uint64_t offset() const { return offset_; }
    int error() const { return error_; }

  private:
    int fd_;
    uint64_t offset_ = 0;
    int error_ = 0;
};

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

Status ColumnFileWriter::write(const std::filesystem::path& path) const {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return Status::io_error(
            fmt::format("{}: cannot create: {}", path.string(), std::strerror(errno)));
    }
    FileSink sink(fd);
    char header[kHeaderSize] = {};
    sink.write(header, kHeaderSize);  // rewritten once the directory is known

    nlohmann::json columns = nlohmann::json::array();
    for (const Entry& e : entries_) {
        sink.pad_to(kAlignment);
        uint64_t offset = sink.offset();
        size_t bytes = e.count * e.width;
        uint32_t crc = crc32c(e.data, bytes);
        sink.write(e.data, bytes);
        columns.push_back({{"name", e.name},
                           {"type", column_type_name(e.type)},
                           {"offset", offset},
                           {"count", e.count},
                           {"crc", crc}});
    }
    nlohmann::json directory;
    directory["columns"] = std::move(columns);
    directory["metadata"] = metadata_;
    std::string dir_text = directory.dump();
    sink.pad_to(kAlignment);
    uint64_t dir_offset = sink.offset();
    sink.write(dir_text.data(), dir_text.size());

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
    int err = sink.error();
    if (err == 0 && ::pwrite(fd, header, kHeaderSize, 0) != static_cast<ssize_t>(kHeaderSize)) {
        err = errno;
    }
    if (err == 0 && ::fsync(fd) != 0) {
        err = errno;
    }
    ::close(fd);
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
