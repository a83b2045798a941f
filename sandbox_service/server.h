// `dstc serve sandbox`: the sandbox as an HTTP/JSON service (issue 4), on cpp-httplib.
//
//   POST /v1/run    one job (the JSON of a `dstc exec --batch` line) → its verdict JSON
//   POST /v1/batch  {"jobs": [job, ...]} → {"verdicts": [verdict, ...]} in order
//   GET  /healthz   {"status": "ok", ...}; never needs a token
//   GET  /metrics   Prometheus text
//
// Safe by default: binds loopback; any other address needs a bearer token (refused at
// create() otherwise); the body size, batch size and per-job limits are bounded; the
// job queue is bounded and a full one answers 429 with Retry-After. stop() stops
// accepting, lets every admitted job finish and its response go out, then returns.
// Schema and status codes: docs/sandbox-service.md.
//
//   DSTC_TRY(auto sandbox, sandbox::Sandbox::create());
//   DSTC_TRY(auto server, Server::create(options, [&](const sandbox::Job& j) {
//     return sandbox->run(j); }));
//   DSTC_CHECK_OK(server->start());   // serving on server->port()
//   ...
//   server->stop();
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "sandbox/sandbox.h"
#include "sandbox_service/job_queue.h"
#include "sandbox_service/metrics.h"

namespace dstc::sandbox_service {

struct ServerOptions {
  std::string host = "127.0.0.1";     // non-loopback needs `token`
  int port = 8080;                    // 0 = an ephemeral port (see Server::port())
  std::string token;                  // bearer token; empty = no auth (loopback only)
  size_t workers = 0;                 // jobs run at once; 0 = number of cores
  size_t max_queue = 64;              // jobs that may wait for a worker; more → 429
  size_t max_batch = 256;             // jobs per /v1/batch request (≤ workers + max_queue)
  size_t max_body_bytes = 16u << 20;  // larger request bodies → 413
  double max_timeout_seconds = 60;    // per-job "timeout" (and profile default) clamped to this
  int64_t max_memory_mb = 4096;       // per-job "memory_mb" (and profile default) clamped
  size_t http_threads = 0;            // connection threads; 0 = workers + max_queue + 8
  int retry_after_seconds = 1;        // Retry-After of a 429
  int keep_alive_seconds = 2;         // idle keep-alive connections close after this (also
                                      // bounds how long stop() waits for idle clients)
};

// Checks `options` alone: a non-loopback host without a token, zero sizes, bad maxima.
Status validate(const ServerOptions& options);

class Server {
 public:
  // Validates `options`; runs jobs with `executor` (thread-safe). Serves nothing yet.
  static Result<std::unique_ptr<Server>> create(ServerOptions options, Executor executor);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and serves on a background thread; returns once connections are accepted.
  Status start();
  int port() const;         // the bound port (after start)
  std::string url() const;  // "http://127.0.0.1:PORT"

  // Stops accepting, finishes every admitted job and in-flight response, joins all
  // threads. Idempotent; callable from any thread but a request handler.
  void stop();

  const Metrics& metrics() const;
  const ServerOptions& options() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Lowers a job's timeout and memory to the server's maxima (profile defaults included).
// Returns what was clamped, "timeout=120>60,memory_mb=8192>4096", or "" if nothing.
// Fails on an unknown profile.
Result<std::string> clamp_job(sandbox::Job& job, const ServerOptions& options);

}  // namespace dstc::sandbox_service
