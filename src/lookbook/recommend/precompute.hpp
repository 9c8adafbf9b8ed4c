#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "lookbook/recommend/recommender.hpp"

namespace lookbook {

// Fills PrecomputedLists (recommender.hpp) for `customers`, in their order, on a thread of its
// own at the lowest scheduling priority (nice 19), so that it takes the CPU that requests leave
// and a request never waits for it: an answer for a customer whose lists are not ready yet asks
// the sources, as without lists. Logs progress (customers done, rate, time left) and the memory
// the lists take (100 candidates of 12 bytes per model source and customer: 3.4 KB a customer
// on the H&M demo store, whose blend weighs three).
// stop() or destroying it ends the work (destroying also joins the thread). It keeps its own
// reference to the recommender, whose store (borrowed) must outlive it.
class ListPrecomputer {
  public:
    ListPrecomputer(std::shared_ptr<const Recommender> recommender,
                    std::vector<uint32_t> customers,
                    size_t customer_rows);
    ~ListPrecomputer();
    ListPrecomputer(const ListPrecomputer&) = delete;
    ListPrecomputer& operator=(const ListPrecomputer&) = delete;

    const PrecomputedLists& lists() const { return lists_; }
    // Customers it was given (lists().ready() of them are done).
    size_t planned() const { return customers_.size(); }
    // Blocks until every customer is done (tests, benchmarks). Not thread-safe.
    void wait();
    // Asks the thread to stop after the customer it is on, without waiting; lists already set
    // stay. Thread-safe.
    void stop() { stop_.store(true, std::memory_order_relaxed); }

  private:
    void run();

    std::shared_ptr<const Recommender> recommender_;
    std::vector<uint32_t> customers_;
    PrecomputedLists lists_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace lookbook
