#include "common/blas_threads.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

namespace dstc {

namespace {

// The exported OpenBLAS entry points, or null when the BLAS in use is not OpenBLAS (or is an
// OpenMP build without its own pool).
template <class Fn>
Fn lookup(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

void shorten_idle_spin() {
  if (std::getenv("OPENBLAS_THREAD_TIMEOUT") != nullptr) return;  // the user's choice
  auto read_env = lookup<void (*)()>("openblas_read_env");
  auto shutdown = lookup<int (*)()>("blas_thread_shutdown_");
  if (read_env == nullptr || shutdown == nullptr) return;
  setenv("OPENBLAS_THREAD_TIMEOUT", "20", 0);
  read_env();
  shutdown();  // the next BLAS call starts the workers again, with the new timeout
}

}  // namespace

void set_blas_threads(int n) {
  static std::once_flag once;
  std::call_once(once, shorten_idle_spin);
  if (n <= 0) return;
  static const auto set = lookup<void (*)(int)>("openblas_set_num_threads");
  if (set != nullptr) set(n);
}

}  // namespace dstc
