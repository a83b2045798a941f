#include "sandbox_service/metrics.h"

#include <fmt/format.h>

namespace dstc::sandbox_service {

std::string verdict_status_name(VerdictStatus status) {
  static const auto names = [] {
    std::array<std::string, kVerdictStatusCount> out;
    for (size_t i = 0; i < out.size(); ++i) {
      sandbox::Verdict v;
      v.status = static_cast<VerdictStatus>(i);
      out[i] = sandbox::verdict_to_json(v)["status"].get<std::string>();
    }
    return out;
  }();
  size_t i = static_cast<size_t>(status);
  return i < names.size() ? names[i] : "unknown";
}

void Metrics::count_request(const std::string& route, int code) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, code}];
}

void Metrics::count_verdict(VerdictStatus status, double run_seconds) {
  std::lock_guard lock(mutex_);
  ++verdicts_[static_cast<size_t>(status)];
  size_t b = 0;
  while (b < kLatencyBuckets.size() && run_seconds > kLatencyBuckets[b]) ++b;
  if (b < kLatencyBuckets.size()) ++bucket_counts_[b];
  ++latency_count_;
  latency_sum_ += run_seconds;
}

int64_t Metrics::requests(const std::string& route, int code) const {
  std::lock_guard lock(mutex_);
  auto it = requests_.find({route, code});
  return it == requests_.end() ? 0 : it->second;
}

int64_t Metrics::verdicts(VerdictStatus status) const {
  std::lock_guard lock(mutex_);
  return verdicts_[static_cast<size_t>(status)];
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out +=
      "# HELP dstc_sandbox_http_requests_total HTTP requests answered, by route and status code.\n";
  out += "# TYPE dstc_sandbox_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("dstc_sandbox_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n",
                       key.first, key.second, n);
  }
  out += "# HELP dstc_sandbox_verdicts_total Jobs run, by verdict status.\n";
  out += "# TYPE dstc_sandbox_verdicts_total counter\n";
  for (size_t i = 0; i < verdicts_.size(); ++i) {
    out += fmt::format("dstc_sandbox_verdicts_total{{status=\"{}\"}} {}\n",
                       verdict_status_name(static_cast<VerdictStatus>(i)), verdicts_[i]);
  }
  out += "# HELP dstc_sandbox_queue_depth Admitted jobs waiting for a worker.\n";
  out += "# TYPE dstc_sandbox_queue_depth gauge\n";
  out += fmt::format("dstc_sandbox_queue_depth {}\n", queue_depth.load());
  out += "# HELP dstc_sandbox_queue_capacity Jobs that may wait before requests get 429.\n";
  out += "# TYPE dstc_sandbox_queue_capacity gauge\n";
  out += fmt::format("dstc_sandbox_queue_capacity {}\n", queue_capacity.load());
  out += "# HELP dstc_sandbox_active_workers Jobs running now.\n";
  out += "# TYPE dstc_sandbox_active_workers gauge\n";
  out += fmt::format("dstc_sandbox_active_workers {}\n", active_workers.load());
  out += "# HELP dstc_sandbox_workers Configured concurrent runs.\n";
  out += "# TYPE dstc_sandbox_workers gauge\n";
  out += fmt::format("dstc_sandbox_workers {}\n", workers.load());
  out += "# HELP dstc_sandbox_run_seconds Wall time of one job in the sandbox.\n";
  out += "# TYPE dstc_sandbox_run_seconds histogram\n";
  int64_t cumulative = 0;
  for (size_t b = 0; b < kLatencyBuckets.size(); ++b) {
    cumulative += bucket_counts_[b];
    out += fmt::format("dstc_sandbox_run_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBuckets[b],
                       cumulative);
  }
  out += fmt::format("dstc_sandbox_run_seconds_bucket{{le=\"+Inf\"}} {}\n", latency_count_);
  out += fmt::format("dstc_sandbox_run_seconds_sum {}\n", latency_sum_);
  out += fmt::format("dstc_sandbox_run_seconds_count {}\n", latency_count_);
  return out;
}

}  // namespace dstc::sandbox_service
