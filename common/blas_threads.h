// OpenBLAS's own worker threads, which LibTorch's thread settings do not reach.
//
// Debian's LibTorch calls BLAS through libblas.so.3, usually OpenBLAS built with pthreads: it
// keeps its own pool of workers that torch::set_num_threads does not size (DESIGN.md §8), and
// after every call each idle worker spins (yielding) for 2^28 TSC cycles, ~0.1 s, before it
// sleeps. A decode step on the hand-written CPU path (generator/cpu_decode.h) right after a
// LibTorch prefill then shares the cores with that spinning thread: batch-1 decoding of the
// S model on 2 threads ran at 1,300 tokens/s instead of 2,200.
#pragma once

namespace dstc {

// Sets OpenBLAS's thread count when the process's BLAS is OpenBLAS (looked up at run time;
// a no-op for any other BLAS). The first call also shortens the workers' idle spin to 2^20
// cycles (~0.4 ms; back-to-back calls within a forward pass still find them awake), unless
// the user set OPENBLAS_THREAD_TIMEOUT: it sets that variable, has OpenBLAS re-read it and
// restarts the worker pool, which OpenBLAS rebuilds at its next call. Call it where no BLAS
// call runs on another thread (the first call restarts the pool).
void set_blas_threads(int n);

}  // namespace dstc
