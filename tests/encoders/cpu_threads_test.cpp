#include "lookbook/encoders/cpu_threads.hpp"

#include <thread>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace lookbook {
namespace {

TEST(ConfigureCpuThreads, GivesBlasPoolTheThreadsWhenOpenBlasIsLoaded) {
    const int before = torch::get_num_threads();
    CpuThreadPlan plan = configure_cpu_threads(2);
    EXPECT_EQ(plan.torch_threads, torch::get_num_threads());
    if (plan.blas_has_own_pool) {
        EXPECT_EQ(plan.torch_threads, 1);
        EXPECT_EQ(plan.blas_threads, 2);
    } else {
        EXPECT_EQ(plan.torch_threads, 2);
    }

    // Zero and negative counts mean one thread.
    CpuThreadPlan one = configure_cpu_threads(0);
    EXPECT_EQ(one.torch_threads, 1);
    if (one.blas_has_own_pool) {
        EXPECT_EQ(one.blas_threads, 1);
    }
    // Leave the process as other tests expect it: BLAS on every core, torch as before.
    configure_cpu_threads(static_cast<int>(std::thread::hardware_concurrency()));
    torch::set_num_threads(before);
}

}  // namespace
}  // namespace lookbook
