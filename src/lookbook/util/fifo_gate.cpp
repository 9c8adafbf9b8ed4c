#include "lookbook/util/fifo_gate.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "lookbook/util/assert.hpp"

namespace lookbook {
namespace {

// The gate whose pass this thread took last and has not given back (for FifoGate::Lend).
thread_local FifoGate* t_holding = nullptr;

}  // namespace

FifoGate::Pass& FifoGate::Pass::operator=(Pass&& other) noexcept {
    if (this != &other) {
        release();
        gate_ = std::exchange(other.gate_, nullptr);
    }
    return *this;
}

void FifoGate::Pass::release() {
    if (gate_ != nullptr) {
        std::exchange(gate_, nullptr)->leave();
    }
}

FifoGate::FifoGate(size_t slots) : slots_(std::max<size_t>(1, slots)) {}

FifoGate::~FifoGate() {
    std::lock_guard lock(mutex_);
    LOOKBOOK_ASSERT(queue_.empty() && running_ == 0, "a FifoGate must outlive its callers");
}

Result<FifoGate::Pass> FifoGate::enter(std::chrono::steady_clock::duration max_wait) {
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    std::unique_lock lock(mutex_);
    if (closed_) {
        ++counts_.refused;
        return Status::unavailable("the server is stopping");
    }
    // A free slot goes to a newcomer only when nobody is queued: leave() hands slots to waiters
    // directly, so a free slot with a non-empty queue cannot happen.
    if (running_ < slots_) {
        ++running_;
        ++counts_.entered;
        t_holding = this;
        return Pass(this);
    }
    Waiter self;
    auto place = queue_.insert(queue_.end(), &self);
    const size_t ahead = queue_.size() - 1;
    while (!self.admitted && !self.refused) {
        if (self.wake.wait_until(lock, deadline) == std::cv_status::timeout) {
            break;
        }
    }
    if (self.admitted) {  // leave() unlinked us and counted our slot in running_
        ++counts_.entered;
        ++counts_.waited;
        t_holding = this;
        return Pass(this);
    }
    if (self.refused) {  // close() unlinked us
        ++counts_.refused;
        return Status::unavailable("the server is stopping");
    }
    queue_.erase(place);
    ++counts_.timed_out;
    const auto waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(max_wait).count();
    return Status::unavailable(
        fmt::format("too busy: waited {} ms behind {} other requests ({} computing at once); try "
                    "again in a moment",
                    waited_ms,
                    ahead,
                    slots_));
}

void FifoGate::leave() {
    if (t_holding == this) {
        t_holding = nullptr;
    }
    std::lock_guard lock(mutex_);
    hand_on(lock);
}

void FifoGate::lend() {
    std::lock_guard lock(mutex_);
    ++counts_.lent;
    hand_on(lock);
}

void FifoGate::reclaim() {
    std::unique_lock lock(mutex_);
    if (queue_.empty() && running_ < slots_) {
        ++running_;
        return;
    }
    Waiter self;
    self.reclaiming = true;
    queue_.push_front(&self);
    self.wake.wait(lock, [&] { return self.admitted; });
}

void FifoGate::Lend::start() {
    if (gate_ == nullptr && t_holding != nullptr) {
        gate_ = t_holding;
        gate_->lend();
    }
}

void FifoGate::Lend::finish() {
    if (gate_ != nullptr) {
        std::exchange(gate_, nullptr)->reclaim();
    }
}

void FifoGate::hand_on(std::lock_guard<std::mutex>& /*lock*/) {
    if (!queue_.empty()) {
        // The slot passes to the oldest waiter without being freed. It is woken while the lock
        // is held: once it can see `admitted` it may return and its Waiter is gone.
        Waiter* next = queue_.front();
        queue_.pop_front();
        next->admitted = true;
        next->wake.notify_one();
        return;
    }
    LOOKBOOK_ASSERT(running_ > 0, "a Pass was released twice");
    --running_;
}

void FifoGate::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    // Requests taking a lent slot back are half computed: they keep their place.
    std::erase_if(queue_, [](Waiter* waiter) {
        if (waiter->reclaiming) {
            return false;
        }
        waiter->refused = true;
        waiter->wake.notify_one();
        return true;
    });
}

FifoGate::Counts FifoGate::counts() const {
    std::lock_guard lock(mutex_);
    Counts counts = counts_;
    counts.running = running_;
    counts.waiting = queue_.size();
    return counts;
}

}  // namespace lookbook
