#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>

#include "lookbook/util/status.hpp"

namespace lookbook {

// Lets at most `slots` callers run a piece of work at once; the others wait in arrival order.
//
// Why: the web server runs a thread per connection (64-72 of them on 2 cores). When every
// thread computes at once the kernel shares the cores among all of them, so each request is
// stretched by the others and the unlucky ones make a long tail. Behind the gate requests run a
// few at a time, nearly unpreempted, and wait their turn first: a narrower spread of latencies
// (first come first served against processor sharing), at the same throughput as long as the
// work per request does not depend on how many run at once (see the TODO). A freed slot is
// handed straight to the oldest waiter, so a newcomer cannot overtake the queue (a plain mutex
// gives no such order).
//
// Thread-safe. The gate must outlive every Pass it hands out.
//
// TODO: around the server's cold recommendations (`serve --compute-slots`) it narrowed p99 to
// 1.3-1.5 times p50 but cost 15-40% of the throughput on 2 shared cores, mostly because the ALS
// scans of the few requests in flight seldom share a pass (RowScanBatcher): 437-458 against
// 349-390 us of server CPU a request, so it is off by default (README, "Compute gate"). Letting
// a request that waits for a shared scan hand its slot to the next waiter, and take one back
// first in line afterwards, might keep the passes full; not tried.
class FifoGate {
  public:
    // The right to run, held until destroyed (or moved from). Movable, not copyable.
    class Pass {
      public:
        Pass() = default;
        Pass(Pass&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
        Pass& operator=(Pass&& other) noexcept;
        Pass(const Pass&) = delete;
        Pass& operator=(const Pass&) = delete;
        ~Pass() { release(); }

        // Gives the slot back early; a no-op on an empty or released pass.
        void release();
        bool holds() const { return gate_ != nullptr; }

      private:
        friend class FifoGate;
        explicit Pass(FifoGate* gate) : gate_(gate) {}
        FifoGate* gate_ = nullptr;
    };

    // What the gate has seen, for metrics and tests.
    struct Counts {
        uint64_t entered = 0;    // passes handed out
        uint64_t waited = 0;     // of those, how many had to queue first
        uint64_t timed_out = 0;  // callers that gave up after max_wait
        uint64_t refused = 0;    // callers turned away because the gate was closed
        size_t running = 0;      // passes held now
        size_t waiting = 0;      // callers queued now
    };

    // `slots` of 0 counts as 1.
    explicit FifoGate(size_t slots);
    FifoGate(const FifoGate&) = delete;
    FifoGate& operator=(const FifoGate&) = delete;
    ~FifoGate();

    // Waits for a slot, behind everyone who called earlier, at most `max_wait`. kUnavailable
    // when the wait ran out (the message gives the wait and the queue) or the gate is closed.
    Result<Pass> enter(std::chrono::steady_clock::duration max_wait);

    // Turns away everyone waiting now and every later caller with kUnavailable (a stopping
    // server answers them at once instead of computing). Passes already held stay valid.
    void close();

    size_t slots() const { return slots_; }
    Counts counts() const;

  private:
    struct Waiter {
        std::condition_variable wake;
        bool admitted = false;
        bool refused = false;
    };

    void leave();

    const size_t slots_;
    mutable std::mutex mutex_;
    size_t running_ = 0;
    bool closed_ = false;
    // Oldest first. Each entry lives on its waiting caller's stack; the caller unlinks it on a
    // timeout, and leave() and close() unlink it before waking it, all under `mutex_`.
    std::list<Waiter*> queue_;
    Counts counts_;
};

}  // namespace lookbook
