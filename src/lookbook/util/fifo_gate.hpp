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
// Thread-safe. The gate must outlive every Pass it hands out. A pass should be given back on the
// thread that took it: Lend finds the slot to lend through that thread.
//
// Work whose cost falls when many callers run it together (RowScanBatcher's shared passes)
// loses that sharing behind a narrow gate: 2 slots cost 437-458 against 349-390 us of server
// CPU per cold recommendation. Callers that block on such shared work lend their slot (Lend),
// which brought it back to about the cost without a gate (docs/measurements.md, "Compute gate").
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

    // Lends the slot of the calling thread, if it holds a pass of a gate (taken by enter() on
    // this thread), to the next waiter while the thread waits for something else, and takes a
    // slot back, ahead of every waiter, before the thread goes on. Elsewhere a no-op. Used where
    // a caller blocks on other callers' work (RowScanBatcher), so that the slots keep computing.
    // finish() must not be called while holding a lock that slot holders may need.
    class Lend {
      public:
        Lend() = default;
        Lend(const Lend&) = delete;
        Lend& operator=(const Lend&) = delete;
        ~Lend() { finish(); }

        void start();
        // Waits, as long as it takes, for a slot; not refused by close().
        void finish();
        bool active() const { return gate_ != nullptr; }

      private:
        FifoGate* gate_ = nullptr;
    };

    // What the gate has seen, for metrics and tests.
    struct Counts {
        uint64_t entered = 0;    // passes handed out
        uint64_t waited = 0;     // of those, how many had to queue first
        uint64_t timed_out = 0;  // callers that gave up after max_wait
        uint64_t refused = 0;    // callers turned away because the gate was closed
        uint64_t lent = 0;       // slots lent by holders waiting for other work (Lend)
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
        bool reclaiming = false;  // a Lend taking its slot back: first in line, never refused
    };

    // Gives a slot back: to the oldest waiter, or free when nobody waits.
    void hand_on(std::lock_guard<std::mutex>& lock);
    void leave();
    void lend();
    void reclaim();

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
