#include "lookbook/util/fifo_gate.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace lookbook {
namespace {

using namespace std::chrono_literals;

// Spins until `gate` has `count` callers queued (they arrive on other threads).
void await_waiting(const FifoGate& gate, size_t count) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (gate.counts().waiting != count) {
        ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "never saw " << count << " waiting";
        std::this_thread::sleep_for(1ms);
    }
}

// The pass of a free slot; fails the test when there is none.
FifoGate::Pass enter_now(FifoGate& gate) {
    auto pass = gate.enter(0s);
    EXPECT_TRUE(pass.is_ok()) << pass.status().to_string();
    return pass.is_ok() ? std::move(pass).value() : FifoGate::Pass();
}

// A caller on another thread that waits for a pass and keeps it until `release` is set; the
// future says whether it got one.
std::future<bool> hold_when_admitted(FifoGate& gate, std::promise<void>& release) {
    return std::async(std::launch::async, [&gate, &release] {
        auto pass = gate.enter(10s);
        release.get_future().wait();
        return pass.is_ok();
    });
}

// Nobody holds a pass and nobody waits.
void expect_idle(const FifoGate& gate) {
    FifoGate::Counts counts = gate.counts();
    EXPECT_EQ(counts.running, 0u);
    EXPECT_EQ(counts.waiting, 0u);
}

TEST(FifoGate, AdmitsAtOnceWhileSlotsAreFree) {
    FifoGate gate(2);
    auto first = gate.enter(0s);
    auto second = gate.enter(0s);
    ASSERT_TRUE(first.is_ok());
    ASSERT_TRUE(second.is_ok());
    EXPECT_TRUE(first->holds());
    auto third = gate.enter(0s);  // both slots taken, no wait allowed
    ASSERT_FALSE(third.is_ok());
    EXPECT_EQ(third.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(third.status().message(),
              "too busy: waited 0 ms behind 0 other requests (2 computing at once); try again "
              "in a moment");
    first->release();
    EXPECT_FALSE(first->holds());
    EXPECT_TRUE(gate.enter(0s).is_ok());  // the released slot is free again
    FifoGate::Counts counts = gate.counts();
    EXPECT_EQ(counts.entered, 3u);
    EXPECT_EQ(counts.waited, 0u);
    EXPECT_EQ(counts.timed_out, 1u);
    EXPECT_EQ(counts.running, 1u);  // `second`; the third pass was a temporary
}

TEST(FifoGate, ZeroSlotsCountAsOne) {
    FifoGate gate(0);
    EXPECT_EQ(gate.slots(), 1u);
    auto pass = gate.enter(0s);
    ASSERT_TRUE(pass.is_ok());
    EXPECT_FALSE(gate.enter(0s).is_ok());
}

TEST(FifoGate, WaitersAreAdmittedInArrivalOrder) {
    FifoGate gate(1);
    FifoGate::Pass held = enter_now(gate);
    std::mutex order_mutex;
    std::vector<int> order;
    std::vector<std::thread> callers;
    constexpr int kCallers = 8;
    for (int i = 0; i < kCallers; ++i) {
        callers.emplace_back([&, i] {
            auto pass = gate.enter(10s);
            ASSERT_TRUE(pass.is_ok()) << pass.status().to_string();
            std::lock_guard lock(order_mutex);
            order.push_back(i);
        });
        await_waiting(gate, static_cast<size_t>(i + 1));  // caller i is queued before i + 1
    }
    held.release();
    for (std::thread& caller : callers) {
        caller.join();
    }
    std::vector<int> expected(kCallers);
    for (int i = 0; i < kCallers; ++i) {
        expected[static_cast<size_t>(i)] = i;
    }
    EXPECT_EQ(order, expected);
    EXPECT_EQ(gate.counts().waited, static_cast<uint64_t>(kCallers));
}

TEST(FifoGate, NewcomerCannotTakeASlotHandedToAWaiter) {
    FifoGate gate(1);
    FifoGate::Pass held = enter_now(gate);
    std::promise<void> finish;
    auto waiter = hold_when_admitted(gate, finish);  // until the newcomer has tried
    await_waiting(gate, 1);
    held.release();
    // The slot went to the waiter as it was released, whether or not the waiter has run yet.
    EXPECT_FALSE(gate.enter(0s).is_ok());
    finish.set_value();
    EXPECT_TRUE(waiter.get());
    expect_idle(gate);
}

TEST(FifoGate, WaitEndsAfterMaxWaitAndLeavesTheQueue) {
    FifoGate gate(1);
    FifoGate::Pass held = enter_now(gate);
    auto patient = std::async(std::launch::async, [&] { return gate.enter(10s).is_ok(); });
    await_waiting(gate, 1);
    const auto start = std::chrono::steady_clock::now();
    auto hasty = gate.enter(50ms);
    const auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(hasty.is_ok());
    EXPECT_GE(waited, 50ms);
    EXPECT_EQ(hasty.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(hasty.status().message(),
              "too busy: waited 50 ms behind 1 other requests (1 computing at once); try again "
              "in a moment");
    EXPECT_EQ(gate.counts().waiting, 1u);  // the patient caller only
    held.release();
    EXPECT_TRUE(patient.get());
    EXPECT_EQ(gate.counts().timed_out, 1u);
    expect_idle(gate);
}

TEST(FifoGate, CloseTurnsAwayWaitersAtOnceAndLaterCallers) {
    FifoGate gate(1);
    FifoGate::Pass held = enter_now(gate);
    std::vector<std::future<Status>> waiters;
    for (int i = 0; i < 3; ++i) {
        waiters.push_back(std::async(std::launch::async, [&] { return gate.enter(60s).status(); }));
        await_waiting(gate, static_cast<size_t>(i + 1));
    }
    const auto start = std::chrono::steady_clock::now();
    gate.close();
    for (auto& waiter : waiters) {
        Status status = waiter.get();
        EXPECT_EQ(status.code(), StatusCode::kUnavailable);
        EXPECT_EQ(status.message(), "the server is stopping");
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // not the 60 s they would wait
    EXPECT_EQ(gate.enter(60s).status().message(), "the server is stopping");
    held.release();  // a pass held across close() is given back as usual
    EXPECT_EQ(gate.counts().refused, 4u);
    expect_idle(gate);
}

TEST(FifoGate, LentSlotGoesToTheOldestWaiterAndComesBackFirstInLine) {
    FifoGate gate(1);
    FifoGate::Pass held = enter_now(gate);
    std::mutex order_mutex;
    std::vector<std::string> order;
    auto note = [&](std::string what) {
        std::lock_guard lock(order_mutex);
        order.push_back(std::move(what));
    };
    std::promise<void> first_done;
    auto first = std::async(std::launch::async, [&] {
        auto pass = gate.enter(10s);
        note("first in");
        first_done.get_future().wait();  // holds the lent slot until told
        return pass.is_ok();
    });
    await_waiting(gate, 1);
    auto second = std::async(std::launch::async, [&] {
        auto pass = gate.enter(10s);
        note("second in");
        return pass.is_ok();
    });
    await_waiting(gate, 2);
    FifoGate::Lend lend;
    lend.start();  // this thread holds the only slot: the first waiter gets it
    EXPECT_TRUE(lend.active());
    await_waiting(gate, 1);
    EXPECT_EQ(gate.counts().lent, 1u);
    std::thread release_first([&] {
        std::this_thread::sleep_for(20ms);
        first_done.set_value();
    });
    lend.finish();  // waits for the first waiter's slot, ahead of the second waiter
    note("lender back");
    EXPECT_FALSE(lend.active());
    release_first.join();
    EXPECT_TRUE(first.get());
    EXPECT_EQ(gate.counts().waiting, 1u);  // the second still waits: the lender went first
    held.release();
    EXPECT_TRUE(second.get());
    EXPECT_EQ(order, (std::vector<std::string>{"first in", "lender back", "second in"}));
    expect_idle(gate);
}

TEST(FifoGate, CloseDoesNotTurnAwayALenderTakingItsSlotBack) {
    FifoGate gate(1);
    FifoGate::Pass held = enter_now(gate);
    std::promise<void> release_waiter;
    auto waiter = hold_when_admitted(gate, release_waiter);
    await_waiting(gate, 1);
    FifoGate::Lend lend;
    lend.start();  // the waiter computes on the lent slot
    std::thread closer([&] {
        await_waiting(gate, 1);  // the lender queued to take its slot back
        gate.close();
        release_waiter.set_value();
    });
    lend.finish();  // comes back with a slot although the gate closed meanwhile
    closer.join();
    EXPECT_TRUE(waiter.get());
    EXPECT_EQ(gate.counts().refused, 0u);
    held.release();
    expect_idle(gate);
}

TEST(FifoGate, MovedPassReleasesOnce) {
    FifoGate gate(1);
    {
        auto entered = gate.enter(0s);
        ASSERT_TRUE(entered.is_ok());
        FifoGate::Pass pass = std::move(entered).value();
        FifoGate::Pass other;
        other = std::move(pass);
        EXPECT_FALSE(pass.holds());  // NOLINT: checking the moved-from state on purpose
        EXPECT_TRUE(other.holds());
        EXPECT_EQ(gate.counts().running, 1u);
    }
    EXPECT_EQ(gate.counts().running, 0u);
    EXPECT_TRUE(gate.enter(0s).is_ok());
}

TEST(FifoGate, LendWithoutAPassDoesNothing) {
    FifoGate gate(1);
    FifoGate::Lend lend;
    lend.start();
    EXPECT_FALSE(lend.active());
    lend.finish();
    FifoGate::Pass held = enter_now(gate);
    held.release();  // given back on this thread: nothing left to lend
    lend.start();
    EXPECT_FALSE(lend.active());
    EXPECT_EQ(gate.counts().lent, 0u);
    expect_idle(gate);
}

TEST(FifoGate, ManyThreadsNeverExceedTheSlots) {
    FifoGate gate(2);
    std::atomic<int> inside{0};
    std::atomic<int> most{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 300; ++i) {
                auto pass = gate.enter(30s);
                if (!pass.is_ok()) {
                    ++failures;
                    continue;
                }
                int now = ++inside;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                if (i % 50 == 0) {
                    std::this_thread::sleep_for(100us);
                }
                --inside;
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(failures, 0);
    EXPECT_LE(most, 2);
    EXPECT_EQ(gate.counts().entered, 8u * 300u);
    expect_idle(gate);
}

}  // namespace
}  // namespace lookbook
