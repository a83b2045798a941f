// The service's bounded job queue: `workers` threads run jobs; at most `capacity` more
// wait. Admission is all-or-nothing per request, so a batch is never half queued and a
// full queue answers at once (429) instead of growing.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sandbox/sandbox.h"
#include "sandbox_service/metrics.h"

namespace dstc::sandbox_service {

// Runs one job; must be thread-safe. The server uses Sandbox::run; tests may inject
// a fake. Exceptions become kSandboxError verdicts.
using Executor = std::function<sandbox::Verdict(const sandbox::Job&)>;

class JobQueue {
 public:
  JobQueue(Executor executor, size_t workers, size_t capacity, Metrics& metrics);
  ~JobQueue();  // shutdown()
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Admits all `jobs` (verdict futures in the same order) or none (nullopt) when
  // more than workers + capacity jobs would be outstanding.
  std::optional<std::vector<std::future<sandbox::Verdict>>> try_submit(
      std::vector<sandbox::Job> jobs);

  // Lets the workers finish every admitted job, then joins them. Idempotent.
  void shutdown();

  size_t outstanding() const;  // admitted, not finished

 private:
  struct Task {
    sandbox::Job job;
    std::promise<sandbox::Verdict> promise;
  };
  void worker_loop();

  Executor executor_;
  size_t workers_count_;
  size_t capacity_;
  Metrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  size_t outstanding_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace dstc::sandbox_service
