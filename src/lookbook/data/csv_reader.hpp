#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook {

struct CsvOptions {
    char delimiter = ',';
    char quote = '"';
    // Bytes read per refill. Records longer than this grow the buffer; tests use tiny sizes to
    // exercise records that straddle refills.
    size_t buffer_size = 1 << 20;
    // A record longer than this is an error rather than a reason to keep growing the buffer
    // (a binary file or a file without line ends would otherwise fill memory).
    size_t max_record_bytes = size_t{256} << 20;
    // Reads a file through a memory mapping instead of read() calls when the system allows it;
    // records and errors are the same either way. Tests turn it off to cover the read() path.
    bool map_file = true;
};

// A streaming RFC 4180 reader: fields separated by the delimiter, fields optionally quoted,
// a doubled quote inside quotes is one quote, delimiters and newlines inside quotes are data.
// Accepts LF and CRLF line ends, skips a UTF-8 byte-order mark and blank lines (so a trailing
// empty line is harmless). A quote inside an unquoted field is kept as a literal character
// (5" heels); text after a closing quote (`"a"b`) is an error.
//
// Memory stays bounded by the buffer and the longest record: the file is read in chunks (or
// mapped and walked in windows of the same size, unmapping what lies behind).
// TODO: a mapped file that another program truncates while it is read ends the process with
// SIGBUS rather than an I/O error; read() would report it. Rare for an export, so not handled.
// Field views stay valid until the next call to next().
class CsvReader {
  public:
    // Opens `path` for reading; kNotFound if it does not exist, kIOError if it cannot be read.
    static Result<std::unique_ptr<CsvReader>> open(const std::filesystem::path& path,
                                                   const CsvOptions& options = {});
    // Reads from an in-memory text; `name` is used in error messages in place of a file name.
    static std::unique_ptr<CsvReader> from_string(std::string text,
                                                  std::string name,
                                                  const CsvOptions& options = {});
    ~CsvReader();

    // Moves to the next record. Returns false at the end of the input or on a malformed
    // record; then status() tells which (ok at the end).
    bool next();

    const std::vector<std::string_view>& fields() const { return fields_; }
    // 1-based line number where the current record starts.
    uint64_t line() const { return record_line_; }
    // The current record as it appears in the file, without its line end.
    std::string_view raw_record() const { return raw_record_; }
    const Status& status() const { return status_; }
    const std::string& name() const { return name_; }
    // Bytes consumed so far, and the input size (0 when unknown), for progress reports.
    uint64_t bytes_consumed() const { return consumed_before_ + pos_; }
    uint64_t input_size() const { return input_size_; }

  private:
    CsvReader(std::string name, const CsvOptions& options);

    // Ensures at least one more byte past `from` is buffered, keeping data from `keep_from`
    // onwards. Returns false at the end of the input. Positions may move; they are adjusted.
    bool refill(size_t* keep_from, size_t* from);
    bool parse_quoted_record(size_t start);
    // What split_buffered_line() found at pos_: a record (fields_ set, pos_ moved past it), a
    // blank line (skipped), or nothing consumed, for the general path: a line with a quote, a
    // line that may run past the buffered data, or no SSE2.
    enum class LineSplit { kRecord, kBlank, kUnsure };
    LineSplit split_buffered_line();
    // Unmaps the mapped pages already consumed, in steps of a few megabytes.
    void release_consumed();

    std::string name_;
    CsvOptions options_;
    int fd_ = -1;
    bool eof_ = false;
    std::vector<char> buf_;       // the read() buffer; unused for a mapped file
    const char* data_ = nullptr;  // buf_.data(), or the window's start in the mapping
    size_t capacity_ = 0;         // bytes the buffer or window may hold
    char* map_ = nullptr;         // the whole file when mapped
    uint64_t map_size_ = 0;
    uint64_t released_ = 0;         // mapped bytes already unmapped from the front
    uint64_t populated_ = 0;        // mapped bytes already asked to be mapped in (ahead)
    size_t pos_ = 0;                // start of the next record in data_
    size_t end_ = 0;                // end of valid data in data_
    uint64_t consumed_before_ = 0;  // bytes dropped from the front of data_ so far
    uint64_t input_size_ = 0;
    uint64_t next_line_ = 1;
    uint64_t record_line_ = 0;
    bool at_start_ = true;
    std::vector<std::string_view> fields_;
    std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) into scratch_
    std::string scratch_;
    std::string_view raw_record_;
    Status status_;
};

}  // namespace lookbook
