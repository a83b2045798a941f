// The service's Prometheus metrics (text exposition format 0.0.4), kept by hand: a few
// counters, gauges and one histogram do not justify a client library.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "sandbox/sandbox.h"

namespace dstc::sandbox_service {

// The verdict status enum of sandbox/sandbox.h, by whatever name it has there.
using VerdictStatus = decltype(sandbox::Verdict::status);
inline constexpr size_t kVerdictStatusCount = 8;  // kPassed .. kSandboxError

// "passed", "failed", ... — the names verdict_to_json writes.
std::string verdict_status_name(VerdictStatus status);

class Metrics {
 public:
  // Upper bounds (seconds) of the run latency histogram's buckets, +Inf implied.
  static constexpr std::array<double, 14> kLatencyBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

  // `route` must come from a fixed set (the server maps unknown paths to "other") so
  // the label's cardinality stays bounded.
  void count_request(const std::string& route, int code);
  void count_verdict(VerdictStatus status, double run_seconds);

  std::atomic<int64_t> queue_depth{0};     // admitted jobs not started yet
  std::atomic<int64_t> active_workers{0};  // jobs running now
  std::atomic<int64_t> workers{0};         // configured
  std::atomic<int64_t> queue_capacity{0};  // configured

  std::string render() const;

  // For tests: the count of one (route, code) and of one verdict status.
  int64_t requests(const std::string& route, int code) const;
  int64_t verdicts(VerdictStatus status) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::array<int64_t, kVerdictStatusCount> verdicts_{};
  std::array<int64_t, kLatencyBuckets.size()> bucket_counts_{};  // not cumulative
  int64_t latency_count_ = 0;
  double latency_sum_ = 0;
};

}  // namespace dstc::sandbox_service
