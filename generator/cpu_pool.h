// A minimal thread pool for the CPU decode step and the batch sampler: run(n, fn) calls fn(i)
// for every i in [0, n), on the calling thread and on whichever helper threads are running.
//
// Why not OpenMP: a team barrier waits for every thread, so on a machine shared with other
// processes one descheduled helper stalls the step for a whole time slice, dozens of times
// per token (a decode step has ~6 phases per layer). Here the calling thread claims chunks
// itself and waits only for chunks a helper has already started: a helper that is not
// running costs nothing, and two threads are never much slower than one.
//
// Helpers spin briefly after each job (the next phase of a step comes within microseconds),
// then sleep on a futex until the next job. One run() at a time per pool; fn must not throw.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace dstc::generator::cpu {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);  // threads - 1 helpers (none for threads <= 1)
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const { return static_cast<int>(helpers_.size()) + 1; }

  // parallel = false runs every chunk on the calling thread: for jobs of a few microseconds,
  // where a helper preempted in the middle of a chunk would cost far more than it saves.
  template <class F>
  void run(int64_t n, F&& fn, bool parallel = true) {
    using Fn = std::remove_reference_t<F>;
    if (!parallel) {
      for (int64_t i = 0; i < n; ++i) fn(i);
      return;
    }
    run_impl(
        n, [](void* ctx, int64_t i) { (*static_cast<Fn*>(ctx))(i); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Call = void (*)(void*, int64_t);
  void run_impl(int64_t n, Call call, void* ctx);
  void helper_loop();
  void work(uint64_t seq);

  // (job sequence << 32) | next chunk index; the index kClosed marks a finished job, so that
  // a helper that read a later job's parameters under an earlier sequence fails its claim.
  // Three cache lines: the job (written by the caller, then read by the helpers it wakes),
  // the ticket (claimed by everyone) and the count of finished chunks. On one line, every
  // store of the set-up and every claim bounced it between the cores: a 2-thread job of
  // twelve 0.8 us chunks took 6.7 us, against 5.7 us now.
  static constexpr uint64_t kClosed = 0xffffffffu;
  alignas(64) std::atomic<Call> call_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int64_t> n_{0};
  std::atomic<uint32_t> wake_{0};  // bumped per job; helpers sleep on it
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<uint64_t> ticket_{kClosed};
  alignas(64) std::atomic<int64_t> done_{0};
  alignas(64) uint64_t seq_ = 0;  // the caller's last job
  std::vector<std::thread> helpers_;
};

}  // namespace dstc::generator::cpu
