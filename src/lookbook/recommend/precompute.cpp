#include "lookbook/recommend/precompute.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lookbook/util/log.hpp"
#include "lookbook/util/progress.hpp"

namespace lookbook {

ListPrecomputer::ListPrecomputer(std::shared_ptr<const Recommender> recommender,
                                 std::vector<uint32_t> customers,
                                 size_t customer_rows)
    : recommender_(std::move(recommender)),
      customers_(std::move(customers)),
      lists_(customer_rows),
      thread_([this] { run(); }) {}

ListPrecomputer::~ListPrecomputer() {
    stop_.store(true, std::memory_order_relaxed);
    wait();
}

void ListPrecomputer::wait() {
    if (thread_.joinable()) {
        thread_.join();
    }
}

void ListPrecomputer::run() {
    if (customers_.empty()) {
        return;
    }
    // Linux keeps a nice value per thread: this one only, not the server's workers.
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    if (setpriority(PRIO_PROCESS, tid, 19) != 0) {
        log::debug("lists ahead: cannot lower the thread's priority: {}", std::strerror(errno));
    }
    Progress progress("computing candidate lists ahead",
                      customers_.size(),
                      "customers",
                      std::chrono::milliseconds(10000));
    for (uint32_t customer : customers_) {
        if (stop_.load(std::memory_order_relaxed)) {
            log::debug("lists ahead: stopped after {} of {} customers",
                       progress.done(),
                       customers_.size());
            return;
        }
        lists_.set(customer, recommender_->precompute(customer));
        progress.add();
    }
    progress.finish();
    log::info(
        "candidate lists of {} customers computed ahead ({:.1f} MB): their answers blend "
        "them instead of searching the catalog",
        lists_.ready(),
        static_cast<double>(lists_.bytes()) / 1e6);
}

}  // namespace lookbook
