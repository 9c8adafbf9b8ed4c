#include "lookbook/encoders/cpu_threads.hpp"

#include <algorithm>

#include <dlfcn.h>
#include <torch/torch.h>

#include "lookbook/util/log.hpp"

namespace lookbook {

CpuThreadPlan configure_cpu_threads(int threads) {
    threads = std::max(threads, 1);
    // Looked up at run time: libtorch links OpenBLAS through the libblas.so.3 alternative, so
    // another BLAS (reference, BLIS, MKL) may be in its place and lookbook must not link it.
    using SetThreads = void (*)(int);
    using GetThreads = int (*)();
    auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto get_blas = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));

    CpuThreadPlan plan;
    if (set_blas != nullptr && get_blas != nullptr) {
        set_blas(threads);
        torch::set_num_threads(1);
        plan.blas_has_own_pool = true;
        plan.blas_threads = get_blas();
    } else {
        torch::set_num_threads(threads);
    }
    plan.torch_threads = torch::get_num_threads();
    log::debug("CPU threads: torch {}, OpenBLAS {}",
               plan.torch_threads,
               plan.blas_has_own_pool ? std::to_string(plan.blas_threads) : "not loaded");
    return plan;
}

}  // namespace lookbook
