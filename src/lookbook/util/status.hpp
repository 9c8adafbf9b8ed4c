#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace lookbook {

// What kind of failure a Status carries; callers branch on the code, people read the message.
enum class StatusCode {
    kOk,
    kInvalidArgument,    // a bad option or setting
    kInvalidData,        // a bad row, file or value in the user's data
    kNotFound,           // a file, article or customer that does not exist
    kIOError,            // the operating system refused a read or write
    kCorruption,         // a store file whose checksum or layout is wrong
    kResourceExhausted,  // a configured limit (memory, itemsets, pixels) would be exceeded
    kUnsupported,        // a format or architecture lookbook does not handle yet
    kUnavailable,        // busy or stopping for now; the same call may succeed later
    kInternal,           // a bug in lookbook
};

// The outcome of an operation that can fail for reasons outside the program: Ok, or a code and
// a message written for the person who has to fix it (what was wrong, the value, what to do).
class [[nodiscard]] Status {
  public:
    Status() = default;

    static Status ok() { return Status(); }
    static Status invalid_argument(std::string msg) {
        return Status(StatusCode::kInvalidArgument, std::move(msg));
    }
    static Status invalid_data(std::string msg) {
        return Status(StatusCode::kInvalidData, std::move(msg));
    }
    static Status not_found(std::string msg) {
        return Status(StatusCode::kNotFound, std::move(msg));
    }
    static Status io_error(std::string msg) { return Status(StatusCode::kIOError, std::move(msg)); }
    static Status corruption(std::string msg) {
        return Status(StatusCode::kCorruption, std::move(msg));
    }
    static Status resource_exhausted(std::string msg) {
        return Status(StatusCode::kResourceExhausted, std::move(msg));
    }
    static Status unsupported(std::string msg) {
        return Status(StatusCode::kUnsupported, std::move(msg));
    }
    static Status unavailable(std::string msg) {
        return Status(StatusCode::kUnavailable, std::move(msg));
    }
    static Status internal(std::string msg) {
        return Status(StatusCode::kInternal, std::move(msg));
    }

    bool is_ok() const { return code_ == StatusCode::kOk; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }

    // "invalid data: <message>", or "ok".
    std::string to_string() const;

    // Returns a copy whose message starts with `context: `.
    Status with_context(const std::string& context) const;

  private:
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

const char* status_code_name(StatusCode code);

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
    Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

    bool is_ok() const { return value_.has_value(); }
    const Status& status() const { return status_; }

    T& value() & { return *value_; }
    const T& value() const& { return *value_; }
    T&& value() && { return std::move(*value_); }
    T* operator->() { return &*value_; }
    const T* operator->() const { return &*value_; }
    T& operator*() { return *value_; }
    const T& operator*() const { return *value_; }

  private:
    std::optional<T> value_;
    Status status_;
};

}  // namespace lookbook

// Returns early from a function that returns Status (or Result) when `expr` failed.
#define LOOKBOOK_RETURN_IF_ERROR(expr)                \
    do {                                              \
        ::lookbook::Status lookbook_status_ = (expr); \
        if (!lookbook_status_.is_ok()) {              \
            return lookbook_status_;                  \
        }                                             \
    } while (false)

#define LOOKBOOK_CONCAT_INNER(a, b) a##b
#define LOOKBOOK_CONCAT(a, b) LOOKBOOK_CONCAT_INNER(a, b)

// Declares `lhs` from a Result expression, or returns its Status when it failed.
#define LOOKBOOK_ASSIGN_OR_RETURN(lhs, expr) \
    LOOKBOOK_ASSIGN_OR_RETURN_IMPL(LOOKBOOK_CONCAT(lookbook_result_, __LINE__), lhs, expr)
#define LOOKBOOK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                                 \
    if (!tmp.is_ok()) {                                \
        return tmp.status();                           \
    }                                                  \
    lhs = std::move(tmp).value()
