#include "lookbook/util/file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lookbook {
namespace {

std::string errno_text() { return std::strerror(errno); }

uint64_t read_status_kb(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    size_t key_len = std::strlen(key);
    while (std::getline(in, line)) {
        if (line.compare(0, key_len, key) == 0) {
            return std::stoull(line.substr(key_len + 1)) * 1024;
        }
    }
    return 0;
}

}  // namespace

MappedFile::~MappedFile() {
    if (data_ != nullptr) {
        munmap(data_, size_);
    }
}

MappedFile::MappedFile(MappedFile&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr) {
            munmap(data_, size_);
        }
        data_ = other.data_;
        size_ = other.size_;
        other.data_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

Result<MappedFile> MappedFile::open(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return Status::not_found(path.string() + ": no such file");
        }
        return Status::io_error(path.string() + ": cannot open: " + errno_text());
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        std::string why = errno_text();
        ::close(fd);
        return Status::io_error(path.string() + ": cannot stat: " + why);
    }
    MappedFile file;
    file.size_ = static_cast<size_t>(st.st_size);
    if (file.size_ > 0) {
        void* p = mmap(nullptr, file.size_, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            std::string why = errno_text();
            ::close(fd);
            file.size_ = 0;
            return Status::io_error(path.string() + ": cannot map: " + why);
        }
        file.data_ = static_cast<uint8_t*>(p);
    }
    ::close(fd);
    return file;
}

Status write_file_synced(const std::filesystem::path& path, std::string_view bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return Status::io_error(path.string() + ": cannot create: " + errno_text());
    }
    const char* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::string why = errno_text();
            ::close(fd);
            return Status::io_error(path.string() + ": write failed: " + why +
                                    ". Check free disk space.");
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        std::string why = errno_text();
        ::close(fd);
        return Status::io_error(path.string() + ": fsync failed: " + why);
    }
    if (::close(fd) != 0) {
        return Status::io_error(path.string() + ": close failed: " + errno_text());
    }
    return Status::ok();
}

Result<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            return Status::not_found(path.string() + ": no such file");
        }
        return Status::io_error(path.string() + ": cannot open for reading");
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

Status sync_directory(const std::filesystem::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return Status::io_error(dir.string() + ": cannot open directory: " + errno_text());
    }
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) {
        return Status::io_error(dir.string() + ": fsync failed: " + errno_text());
    }
    return Status::ok();
}

Status replace_directory(const std::filesystem::path& fresh, const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    const fs::path old = dir.string() + ".old";
    std::error_code ec;
    fs::remove_all(old, ec);
    const bool had_dir = fs::exists(dir, ec);
    if (had_dir) {
        fs::rename(dir, old, ec);
        if (ec) {
            return Status::io_error(dir.string() + ": cannot move the old folder aside to " +
                                    old.string() + ": " + ec.message());
        }
    }
    fs::rename(fresh, dir, ec);
    if (ec) {
        const std::string reason = ec.message();
        if (had_dir) {
            fs::rename(old, dir, ec);
        }
        return Status::io_error(dir.string() + ": cannot move " + fresh.string() +
                                " into place: " + reason);
    }
    fs::remove_all(old, ec);
    return Status::ok();
}

uint64_t peak_rss_bytes() { return read_status_kb("VmHWM"); }

uint64_t current_rss_bytes() { return read_status_kb("VmRSS"); }

}  // namespace lookbook
