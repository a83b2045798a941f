// A progress bar on stderr, drawn only when stderr is a terminal (logs and CI stay
// clean). Thread-safe: workers call tick() concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace dstc {

class ProgressBar {
 public:
  ProgressBar(std::string label, size_t total);
  ~ProgressBar();  // finishes the line if anything was drawn

  void tick(size_t n = 1);
  void finish();

 private:
  void draw(size_t done, bool final);

  std::string label_;
  size_t total_;
  bool enabled_;
  bool finished_ = false;
  std::atomic<size_t> done_{0};
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace dstc
