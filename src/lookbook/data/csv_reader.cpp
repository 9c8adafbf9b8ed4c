#include "lookbook/data/csv_reader.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lookbook {

CsvReader::CsvReader(std::string name, const CsvOptions& options)
    : name_(std::move(name)), options_(options) {
    if (options_.buffer_size < 16) {
        options_.buffer_size = 16;
    }
}

CsvReader::~CsvReader() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

Result<std::unique_ptr<CsvReader>> CsvReader::open(const std::filesystem::path& path,
                                                   const CsvOptions& options) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return Status::not_found(path.string() + ": no such file. Check the path.");
        }
        return Status::io_error(path.string() + ": cannot open: " + std::strerror(errno));
    }
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        return Status::invalid_argument(path.string() + ": is a directory; expected a CSV file.");
    }
    std::unique_ptr<CsvReader> reader(new CsvReader(path.string(), options));
    reader->fd_ = fd;
    reader->input_size_ = static_cast<uint64_t>(st.st_size);
    reader->buf_.resize(reader->options_.buffer_size);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return reader;
}

std::unique_ptr<CsvReader> CsvReader::from_string(std::string text,
                                                  std::string name,
                                                  const CsvOptions& options) {
    std::unique_ptr<CsvReader> reader(new CsvReader(std::move(name), options));
    reader->input_size_ = text.size();
    reader->buf_.assign(text.begin(), text.end());
    reader->end_ = text.size();
    reader->eof_ = true;
    return reader;
}

bool CsvReader::refill(size_t* keep_from, size_t* from) {
    if (eof_) {
        return false;
    }
    // Drop consumed bytes, then grow if the kept part fills the buffer.
    size_t keep = *keep_from;
    if (keep > 0) {
        std::memmove(buf_.data(), buf_.data() + keep, end_ - keep);
        end_ -= keep;
        consumed_before_ += keep;
        pos_ -= std::min(pos_, keep);
        *from -= keep;
        *keep_from = 0;
    }
    if (end_ == buf_.size()) {
        buf_.resize(buf_.size() * 2);
    }
    while (true) {
        ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            status_ = Status::io_error(name_ + ": read failed: " + std::strerror(errno));
            eof_ = true;
            return false;
        }
        if (n == 0) {
            eof_ = true;
            return false;
        }
        end_ += static_cast<size_t>(n);
        return true;
    }
}

bool CsvReader::next() {
    fields_.clear();
    if (!status_.is_ok()) {
        return false;
    }
    while (true) {
        if (at_start_) {
            // Need three bytes (or the end) to recognise a byte-order mark.
            size_t keep = pos_;
            while (end_ - pos_ < 3 && refill(&keep, &keep)) {
            }
            if (!status_.is_ok()) {
                return false;
            }
            if (end_ - pos_ >= 3 && std::memcmp(buf_.data() + pos_, "\xEF\xBB\xBF", 3) == 0) {
                pos_ += 3;
            }
            at_start_ = false;
        }
        // Find the end of the line; refill until one is buffered or the input ends.
        size_t scan = pos_;
        const char* nl = nullptr;
        while (true) {
            // An empty in-memory input has no buffer at all; memchr must not see a null pointer.
            nl = end_ > scan
                     ? static_cast<const char*>(std::memchr(buf_.data() + scan, '\n', end_ - scan))
                     : nullptr;
            if (nl != nullptr) {
                break;
            }
            scan = end_;
            size_t keep = pos_;
            if (!refill(&keep, &scan)) {
                break;
            }
        }
        if (!status_.is_ok()) {
            return false;
        }
        if (pos_ == end_ && nl == nullptr) {
            return false;  // clean end of input
        }
        size_t line_end = nl != nullptr ? static_cast<size_t>(nl - buf_.data()) : end_;
        size_t start = pos_;
        record_line_ = next_line_;
        const char* quote = static_cast<const char*>(
            std::memchr(buf_.data() + start, options_.quote, line_end - start));
        if (quote != nullptr) {
            // Quoted fields may hold delimiters, doubled quotes and newlines: slow path.
            return parse_quoted_record(start);
        }
        // Fast path: no quote on this line, split at delimiters.
        size_t content_end = line_end;
        if (content_end > start && buf_[content_end - 1] == '\r') {
            --content_end;
        }
        pos_ = nl != nullptr ? line_end + 1 : end_;
        ++next_line_;
        if (content_end == start) {
            continue;  // blank line
        }
        const char* p = buf_.data() + start;
        const char* stop = buf_.data() + content_end;
        raw_record_ = std::string_view(p, static_cast<size_t>(stop - p));
        while (true) {
            const char* d = static_cast<const char*>(std::memchr(p, options_.delimiter, stop - p));
            if (d == nullptr) {
                fields_.emplace_back(p, static_cast<size_t>(stop - p));
                break;
            }
            fields_.emplace_back(p, static_cast<size_t>(d - p));
            p = d + 1;
        }
        return true;
    }
}

bool CsvReader::parse_quoted_record(size_t start) {
    const char delim = options_.delimiter;
    const char quote = options_.quote;
    while (true) {
        scratch_.clear();
        spans_.clear();
        size_t i = start;
        uint64_t newlines = 0;
        bool need_more = false;
        bool done = false;
        while (!done) {
            // Start of a field.
            size_t field_start = scratch_.size();
            if (i < end_ && buf_[i] == quote) {
                ++i;
                while (true) {
                    if (i >= end_) {
                        need_more = true;
                        break;
                    }
                    char c = buf_[i];
                    if (c == quote) {
                        if (i + 1 >= end_ && !eof_) {
                            need_more = true;
                            break;
                        }
                        if (i + 1 < end_ && buf_[i + 1] == quote) {
                            scratch_.push_back(quote);
                            i += 2;
                            continue;
                        }
                        ++i;  // closing quote
                        break;
                    }
                    if (c == '\n') {
                        ++newlines;
                    }
                    scratch_.push_back(c);
                    ++i;
                }
                if (need_more) {
                    break;
                }
                // After a closing quote: a delimiter, a line end, or the end of input.
                if (i < end_ && buf_[i] == '\r' && (i + 1 >= end_ || buf_[i + 1] == '\n')) {
                    if (i + 1 >= end_ && !eof_) {
                        need_more = true;
                        break;
                    }
                    ++i;
                }
                if (i < end_ && buf_[i] != delim && buf_[i] != '\n') {
                    status_ = Status::invalid_data(
                        name_ + ":" + std::to_string(record_line_ + newlines) + ": field " +
                        std::to_string(spans_.size() + 1) + " has text after its closing quote ('" +
                        std::string(1, buf_[i]) +
                        "'). Quote the whole field and double any quote inside it (\"\").");
                    return false;
                }
            } else {
                while (i < end_ && buf_[i] != delim && buf_[i] != '\n') {
                    scratch_.push_back(buf_[i]);
                    ++i;
                }
                if (i >= end_ && !eof_) {
                    need_more = true;
                    break;
                }
                if (i < end_ && buf_[i] == '\n' && !scratch_.empty() &&
                    scratch_.size() > field_start && scratch_.back() == '\r') {
                    scratch_.pop_back();
                }
                if (i >= end_ && scratch_.size() > field_start && scratch_.back() == '\r') {
                    scratch_.pop_back();
                }
            }
            spans_.emplace_back(field_start, scratch_.size() - field_start);
            if (i >= end_) {
                done = true;  // end of input ends the record
            } else if (buf_[i] == delim) {
                ++i;
                if (i >= end_ && eof_) {
                    spans_.emplace_back(scratch_.size(), 0);
                    done = true;
                }
            } else {
                ++i;  // '\n'
                ++newlines;
                done = true;
            }
        }
        if (need_more) {
            size_t from = end_;
            size_t keep = start;
            if (!refill(&keep, &from)) {
                if (!status_.is_ok()) {
                    return false;
                }
                if (eof_ && i >= end_) {
                    status_ = Status::invalid_data(
                        name_ + ":" + std::to_string(record_line_) +
                        ": a quoted field is never closed (the file ends inside quotes). Add the "
                        "missing closing quote.");
                    return false;
                }
            }
            start = keep;
            continue;
        }
        size_t raw_end = i;
        while (raw_end > start && (buf_[raw_end - 1] == '\n' || buf_[raw_end - 1] == '\r')) {
            --raw_end;
        }
        raw_record_ = std::string_view(buf_.data() + start, raw_end - start);
        pos_ = i;
        next_line_ = record_line_ + (newlines > 0 ? newlines : 1);
        for (const auto& [offset, length] : spans_) {
            fields_.emplace_back(scratch_.data() + offset, length);
        }
        return true;
    }
}

}  // namespace lookbook
