#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lookbook {

// Reports the progress of a long step through the logger: items done, rate and time left.
// Logs at most once per `interval` (and once at finish), so calling add() per item is cheap.
// `total` may be 0 when unknown; then no percentage or time left is shown.
class Progress {
  public:
    Progress(std::string task,
             uint64_t total,
             std::string unit = "items",
             std::chrono::milliseconds interval = std::chrono::milliseconds(2000));

    // Counts `n` more items done; logs a line when the interval has passed.
    void add(uint64_t n = 1) {
        done_ += n;
        if (done_ >= next_check_) {
            maybe_report();
        }
    }

    // Sets the number done (for steps that know their absolute position, such as bytes read).
    void set(uint64_t done) {
        done_ = done;
        if (done_ >= next_check_) {
            maybe_report();
        }
    }

    // A second count shown beside the main one, such as rows while the main count is bytes.
    void set_items(uint64_t items, const char* unit) {
        items_ = items;
        items_unit_ = unit;
    }

    // Logs the final line with the count, the elapsed time and the mean rate.
    void finish();

    uint64_t done() const { return done_; }
    double elapsed_seconds() const;

    // "1.2M", "350k", "999": short counts for log lines.
    static std::string human_count(double n);

  private:
    void maybe_report();
    std::string items_text(double seconds) const;

    std::string task_;
    uint64_t total_;
    std::string unit_;
    std::chrono::milliseconds interval_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_report_;
    uint64_t done_ = 0;
    uint64_t next_check_ = 0;
    uint64_t check_every_ = 1024;
    bool finished_ = false;
    uint64_t items_ = 0;
    const char* items_unit_ = nullptr;
};

}  // namespace lookbook
