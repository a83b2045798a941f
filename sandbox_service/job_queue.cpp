#include "sandbox_service/job_queue.h"

#include <chrono>
#include <exception>

namespace dstc::sandbox_service {

JobQueue::JobQueue(Executor executor, size_t workers, size_t capacity, Metrics& metrics)
    : executor_(std::move(executor)),
      workers_count_(workers == 0 ? 1 : workers),
      capacity_(capacity),
      metrics_(metrics) {
  for (size_t i = 0; i < workers_count_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

JobQueue::~JobQueue() { shutdown(); }

std::optional<std::vector<std::future<sandbox::Verdict>>> JobQueue::try_submit(
    std::vector<sandbox::Job> jobs) {
  std::vector<std::future<sandbox::Verdict>> futures;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || outstanding_ + jobs.size() > workers_count_ + capacity_) return std::nullopt;
    futures.reserve(jobs.size());
    for (auto& job : jobs) {
      queue_.push_back(Task{std::move(job), {}});
      futures.push_back(queue_.back().promise.get_future());
    }
    outstanding_ += jobs.size();
    metrics_.queue_depth += static_cast<int64_t>(jobs.size());
  }
  cv_.notify_all();
  return futures;
}

void JobQueue::worker_loop() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      --metrics_.queue_depth;
      ++metrics_.active_workers;
    }
    auto start = std::chrono::steady_clock::now();
    sandbox::Verdict verdict;
    try {
      verdict = executor_(task.job);
    } catch (const std::exception& e) {
      verdict.id = task.job.id;
      verdict.status = VerdictStatus::kSandboxError;
      verdict.reason = std::string("executor threw: ") + e.what();
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.count_verdict(verdict.status, seconds);
    --metrics_.active_workers;
    {
      std::lock_guard lock(mutex_);
      --outstanding_;
    }
    task.promise.set_value(std::move(verdict));
  }
}

void JobQueue::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

size_t JobQueue::outstanding() const {
  std::lock_guard lock(mutex_);
  return outstanding_;
}

}  // namespace dstc::sandbox_service
