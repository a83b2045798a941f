// Sandbox service benchmark: requests/s and p50/p99 latency of a trivial program through
// `POST /v1/run` over loopback (an in-process server, keep-alive clients) at concurrency
// 1, 8 and 32, next to direct Sandbox::run calls from as many threads in the same run —
// the baseline, so the ratio is the cost of HTTP + JSON + the service's queue.
//   bench_service [REQUESTS_PER_CONFIG=500]
// One JSON line per configuration.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "sandbox/sandbox.h"
#include "sandbox_service/server.h"

namespace {

using Clock = std::chrono::steady_clock;
using dstc::sandbox::Job;
using dstc::sandbox::Sandbox;

struct Measured {
  double seconds = 0;
  std::vector<double> latencies_ms;
  size_t failures = 0;
};

// Runs `total` calls of `call` on `concurrency` threads; each thread gets its own state
// from `make_state` (a keep-alive HTTP client, or nothing).
template <typename MakeState, typename Call>
Measured measure(size_t total, size_t concurrency, MakeState make_state, Call call) {
  Measured m;
  std::atomic<size_t> next{0};
  std::vector<std::vector<double>> per_thread(concurrency);
  std::atomic<size_t> failures{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (size_t t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      auto state = make_state();
      while (next.fetch_add(1) < total) {
        auto s = Clock::now();
        if (!call(state)) ++failures;
        per_thread[t].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& v : per_thread) m.latencies_ms.insert(m.latencies_ms.end(), v.begin(), v.end());
  std::sort(m.latencies_ms.begin(), m.latencies_ms.end());
  m.failures = failures;
  return m;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * (sorted.size() - 1) + 0.5));
  return sorted[i];
}

size_t g_server_workers = 0;

void print(const char* mode, size_t concurrency, const Measured& m, double baseline_rps) {
  double rps = m.latencies_ms.size() / m.seconds;
  std::printf(
      "{\"bench\":\"service\",\"config\":\"%s\",\"concurrency\":%zu,\"requests\":%zu,"
      "\"failures\":%zu,\"seconds\":%.3f,\"req_per_s\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
      "\"ratio_vs_direct\":%.3f,\"server_workers\":%zu}\n",
      mode, concurrency, m.latencies_ms.size(), m.failures, m.seconds, rps,
      percentile(m.latencies_ms, 0.50), percentile(m.latencies_ms, 0.99),
      baseline_rps > 0 ? rps / baseline_rps : 1.0, g_server_workers);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  size_t total = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 500;
  auto created = Sandbox::create();
  if (!created) {
    std::fprintf(stderr, "bench_service: %s\n", created.error().message().c_str());
    return 1;
  }
  Sandbox* sb = created->get();
  Job job;
  job.program = "x = 1\nassert x == 1\n";
  if (auto v = sb->run(job); v.status != dstc::sandbox_service::VerdictStatus::kPassed) {
    std::fprintf(stderr, "bench_service: the trivial program did not pass: %s\n", v.reason.c_str());
    return 1;
  }
  dstc::sandbox_service::ServerOptions o;
  o.port = 0;
  o.max_queue = 64;
  auto server = dstc::sandbox_service::Server::create(o, [sb](const Job& j) { return sb->run(j); });
  if (!server || !(*server)->start()) {
    std::fprintf(stderr, "bench_service: cannot start the server\n");
    return 1;
  }
  const std::string url = (*server)->url();
  g_server_workers = (*server)->options().workers;
  const std::string body = dstc::sandbox::job_to_json(job).dump();
  for (size_t concurrency : {1, 8, 32}) {
    // Direct calls from as many threads (the Sandbox runs up to max_slots at once).
    Measured direct = measure(
        total, concurrency, [] { return 0; },
        [&](int&) { return sb->run(job).status == dstc::sandbox_service::VerdictStatus::kPassed; });
    print("direct", concurrency, direct, 0);
    Measured http = measure(
        total, concurrency,
        [&] {
          auto c = std::make_unique<httplib::Client>(url);
          c->set_keep_alive(true);
          c->set_tcp_nodelay(true);
          c->set_read_timeout(120, 0);
          return c;
        },
        [&](std::unique_ptr<httplib::Client>& c) {
          auto r = c->Post("/v1/run", body, "application/json");
          return r && r->status == 200 && r->body.find("\"passed\"") != std::string::npos;
        });
    print("http", concurrency, http, direct.latencies_ms.size() / direct.seconds);
  }
  (*server)->stop();
  return 0;
}
