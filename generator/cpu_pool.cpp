#include "generator/cpu_pool.h"

#include <chrono>

namespace dstc::generator::cpu {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How long a helper keeps polling for the next job before it sleeps: longer than the gap
// between two phases of a step (the caller's RMSNorm, sampling), far shorter than a time
// slice.
constexpr auto kSpin = std::chrono::microseconds(200);

}  // namespace

WorkerPool::WorkerPool(int threads) {
  for (int t = 1; t < threads; ++t) helpers_.emplace_back([this] { helper_loop(); });
}

WorkerPool::~WorkerPool() {
  stop_.store(true);
  wake_.fetch_add(1);
  wake_.notify_all();
  for (auto& h : helpers_) h.join();
}

// Claims and runs chunks of job `seq` until none is left. All atomics are sequentially
// consistent: a claim (the CAS) succeeds only while the ticket still shows job `seq` open,
// and the caller writes a job's parameters only after closing the previous job, so the
// parameters read before a successful claim are that job's.
void WorkerPool::work(uint64_t seq) {
  for (;;) {
    uint64_t t = ticket_.load();
    if ((t >> 32) != seq) return;
    const uint64_t i = t & kClosed;
    const int64_t n = n_.load();
    const Call call = call_.load();
    void* ctx = ctx_.load();
    if (i >= static_cast<uint64_t>(n)) return;  // all claimed, or closed
    if (!ticket_.compare_exchange_weak(t, t + 1)) continue;
    call(ctx, static_cast<int64_t>(i));
    done_.fetch_add(1);
  }
}

void WorkerPool::helper_loop() {
  // Not wake_.load(): a helper may start after the first job or even the destructor was
  // posted, and would then sleep through it.
  uint32_t seen = 0;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    for (int spins = 0; wake_.load() == seen; ++spins) {
      cpu_relax();
      if ((spins & 255) == 255 && std::chrono::steady_clock::now() - start > kSpin) {
        sleepers_.fetch_add(1);
        wake_.wait(seen);  // returns at once if a job came after the check above
        sleepers_.fetch_sub(1);
      }
    }
    seen = wake_.load();
    if (stop_.load()) return;
    work(ticket_.load() >> 32);
  }
}

void WorkerPool::run_impl(int64_t n, Call call, void* ctx) {
  if (helpers_.empty() || n <= 1) {
    for (int64_t i = 0; i < n; ++i) call(ctx, i);
    return;
  }
  const uint64_t seq = ++seq_ & kClosed;
  call_.store(call);
  ctx_.store(ctx);
  n_.store(n);
  done_.store(0);
  ticket_.store(seq << 32);
  wake_.fetch_add(1);
  if (sleepers_.load() > 0) wake_.notify_all();
  work(seq);
  // Only chunks a helper has claimed are left; yield if it was descheduled mid-chunk.
  for (int spins = 0; done_.load() < n; ++spins) {
    if (spins < 4096) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  ticket_.store((seq << 32) | kClosed);
}

}  // namespace dstc::generator::cpu
