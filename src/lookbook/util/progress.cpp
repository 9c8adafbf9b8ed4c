#include "lookbook/util/progress.hpp"

#include <cmath>

#include <fmt/format.h>

#include "lookbook/util/log.hpp"

namespace lookbook {

Progress::Progress(std::string task,
                   uint64_t total,
                   std::string unit,
                   std::chrono::milliseconds interval)
    : task_(std::move(task)),
      total_(total),
      unit_(std::move(unit)),
      interval_(interval),
      start_(std::chrono::steady_clock::now()),
      last_report_(start_) {
    next_check_ = check_every_;
}

double Progress::elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::human_count(double n) {
    if (n >= 1e9) {
        return fmt::format("{:.2f}G", n / 1e9);
    }
    if (n >= 1e6) {
        return fmt::format("{:.2f}M", n / 1e6);
    }
    if (n >= 1e4) {
        return fmt::format("{:.1f}k", n / 1e3);
    }
    return fmt::format("{:.0f}", n);
}

std::string Progress::items_text(double seconds) const {
    if (items_unit_ == nullptr) {
        return "";
    }
    double rate = seconds > 0 ? static_cast<double>(items_) / seconds : 0.0;
    return fmt::format("{} {} ({} {}/s), ",
                       human_count(static_cast<double>(items_)),
                       items_unit_,
                       human_count(rate),
                       items_unit_);
}

void Progress::maybe_report() {
    // Reading the clock costs more than counting, so it is read every check_every_ items only.
    next_check_ = done_ + check_every_;
    auto now = std::chrono::steady_clock::now();
    if (now - last_report_ < interval_) {
        return;
    }
    last_report_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
    std::string items = items_text(seconds);
    if (total_ > 0 && done_ <= total_) {
        double left = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0.0;
        log::info("{}: {}{}/{} {} ({:.0f}%), {} {}/s, {:.0f}s left",
                  task_,
                  items,
                  human_count(static_cast<double>(done_)),
                  human_count(static_cast<double>(total_)),
                  unit_,
                  100.0 * static_cast<double>(done_) / static_cast<double>(total_),
                  human_count(rate),
                  unit_,
                  std::ceil(left));
    } else {
        log::info("{}: {}{} {}, {} {}/s",
                  task_,
                  items,
                  human_count(static_cast<double>(done_)),
                  unit_,
                  human_count(rate),
                  unit_);
    }
}

void Progress::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    double seconds = elapsed_seconds();
    double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
    std::string items = items_text(seconds);
    log::info("{}: done, {}{} {} in {:.2f}s ({} {}/s)",
              task_,
              items,
              human_count(static_cast<double>(done_)),
              unit_,
              seconds,
              human_count(rate),
              unit_);
}

}  // namespace lookbook
