// common/blas_threads.h in a process whose BLAS is LibTorch's (OpenBLAS on Debian): after the
// worker pool restarts, BLAS still computes the same products on 2 threads, and idle workers
// stop spinning soon after a call instead of burning ~0.1 s of a core each time.
#include "common/blas_threads.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace dstc {
namespace {

using Sgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const float*,
                       const float*, const int*, const float*, const int*, const float*, float*,
                       const int*);

// C = A * B for n x n matrices with entries (i + 2j) % 7 and (3i + j) % 5 (column-major).
std::vector<float> product(Sgemm sgemm, int n) {
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      a[i + j * n] = static_cast<float>((i + 2 * j) % 7);
      b[i + j * n] = static_cast<float>((3 * i + j) % 5);
    }
  const float one = 1, zero = 0;
  sgemm("N", "N", &n, &n, &n, &one, a.data(), &n, b.data(), &n, &zero, c.data(), &n);
  return c;
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec * 1e-6;
}

TEST(BlasThreads, PoolRestartKeepsProductsAndStopsIdleSpin) {
  auto sgemm = reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "sgemm_"));
  if (sgemm == nullptr) GTEST_SKIP() << "no BLAS loaded in this process";
  const int n = 256;
  const std::vector<float> before = product(sgemm, n);
  set_blas_threads(2);
  const std::vector<float> after = product(sgemm, n);
  EXPECT_EQ(after, before);
  // Small integers: the product is exact.
  double want = 0;
  for (int k = 0; k < n; ++k) want += ((5 + 2 * k) % 7) * ((3 * k + 9) % 5);
  EXPECT_EQ(after[5 + 9 * n], static_cast<float>(want));

  if (dlsym(RTLD_DEFAULT, "blas_thread_shutdown_") == nullptr)
    GTEST_SKIP() << "not OpenBLAS with its own worker pool";
  const char* timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  ASSERT_NE(timeout, nullptr);  // set by set_blas_threads unless the user had set it
  if (std::string(timeout) != "20") GTEST_SKIP() << "OPENBLAS_THREAD_TIMEOUT set outside";
  // Before the restart an idle worker spun for ~100 ms after each call: here the process may
  // use a small fraction of the 200 ms it sleeps.
  product(sgemm, n);
  const double cpu0 = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LT(process_cpu_seconds() - cpu0, 0.03);
}

}  // namespace
}  // namespace dstc
