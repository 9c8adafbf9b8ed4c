#pragma once

namespace lookbook {

// How torch inference uses the CPU after configure_cpu_threads().
struct CpuThreadPlan {
    int torch_threads = 1;           // torch's intra-op (OpenMP) threads
    int blas_threads = 0;            // OpenBLAS's own pool; 0 when torch has no such pool
    bool blas_has_own_pool = false;  // true when the process runs OpenBLAS's threaded build
};

// Lets torch inference use about `threads` cores (values below 1 count as 1), and returns the
// split it chose. Process-wide: call it once at start-up, from apps/, before encoding.
//
// Debian's libtorch does its matrix products in OpenBLAS, which keeps its own thread pool next
// to torch's OpenMP pool. torch::set_num_threads(n) therefore runs up to 2n threads, and on a
// busy machine OpenMP's spinning workers take cores from the BLAS threads (measured: 1.5-2x
// slower CLIP encoding on 2 cores). When OpenBLAS is loaded, this gives its pool `threads`
// threads, where nearly all the arithmetic is, and runs torch's other kernels on the calling
// thread; otherwise it gives torch `threads` threads.
CpuThreadPlan configure_cpu_threads(int threads);

}  // namespace lookbook
