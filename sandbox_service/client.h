// The client side of `dstc serve sandbox`: runs jobs on one or more remote servers with
// the same interface shape as sandbox::Sandbox, so `dstc exec --server` and the
// pipeline's execute stage can scale out over machines and get the same verdicts.
//
//   DSTC_TRY(auto servers, parse_server_list("http://a:8080,http://b:8080"));
//   DSTC_TRY(auto remote, RemoteExecutor::create({.servers = servers, .token = token}));
//   std::vector<Verdict> verdicts = remote->run_batch(jobs);  // in input order
//
// Requests are spread round-robin over the servers; a request refused with 429 (queue
// full), 502/503/504, or lost to a connection error (a server draining or down) is
// retried on the next server after a backoff. Other failures are not retried: the
// request's jobs get kSandboxError verdicts whose reason names the server and its message.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "sandbox/sandbox.h"

namespace dstc::sandbox_service {

struct RemoteOptions {
  std::vector<std::string> servers;  // base URLs: "http://host:port" (https:// works too)
  std::string token;                 // sent as "Authorization: Bearer <token>"; empty = none
  size_t parallel = 0;               // requests in flight at once; 0 = 8 per server
  size_t jobs_per_request = 1;       // > 1: jobs travel in POST /v1/batch requests
  int max_attempts = 30;             // per request, over all servers
  double connect_timeout_seconds = 5;
  double read_timeout_seconds = 900;  // a request may wait in a queue, then run
  double backoff_initial_seconds = 0.05;
  double backoff_max_seconds = 2;  // 429's Retry-After wins when longer (capped at 10 s)
};

// "URL[,URL...]" → URLs, each checked to be http(s)://HOST[:PORT] with no path.
Result<std::vector<std::string>> parse_server_list(std::string_view comma_separated);

class RemoteExecutor {
 public:
  // Checks the options; connects lazily.
  static Result<std::unique_ptr<RemoteExecutor>> create(RemoteOptions options);
  ~RemoteExecutor();
  RemoteExecutor(const RemoteExecutor&) = delete;
  RemoteExecutor& operator=(const RemoteExecutor&) = delete;

  // Runs one job remotely. Thread-safe; never throws; failures → kSandboxError.
  sandbox::Verdict run(const sandbox::Job& job);

  // Runs jobs over the servers with `parallel` requests in flight (0 = options.parallel);
  // verdicts in input order. `on_done(i)` is called (from worker threads) after job i.
  std::vector<sandbox::Verdict> run_batch(const std::vector<sandbox::Job>& jobs,
                                          size_t parallel = 0,
                                          const std::function<void(size_t)>& on_done = {});

  struct Stats {
    int64_t requests = 0;  // HTTP requests sent, retries included
    int64_t retries = 0;   // attempts after a 429, 502/503/504 or connection error
    int64_t failed = 0;    // requests given up on (their jobs got kSandboxError)
  };
  Stats stats() const;

  const RemoteOptions& options() const;

  struct Impl;

 private:
  explicit RemoteExecutor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dstc::sandbox_service
