// `dstc serve sandbox`: the sandbox as an HTTP/JSON service (issue 4,
// docs/sandbox-service.md).
//   dstc serve sandbox [--listen 127.0.0.1:8080] [--token-file FILE] [--max-queue N]
//       [--workers N] [--max-batch N] [--max-body-mb N] [--max-timeout S] [--max-memory-mb N]
// Prints "listening on http://HOST:PORT" on stdout once it accepts connections (with
// --listen HOST:0 that names the ephemeral port). SIGTERM or SIGINT: stop accepting,
// finish every admitted job, exit 0.
//
// `serve` is a parent command other services share (`serve model` lives in
// cmd_serve.cpp); this file adds its `sandbox` child to it, creating the parent when
// it is not there (registrations run in name order, "serve" before "serve_sandbox").
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/command.h"
#include "sandbox/sandbox.h"
#include "sandbox_service/net.h"
#include "sandbox_service/server.h"

namespace dstc::cli {
namespace {

struct ServeSandboxArgs {
  std::string listen = "127.0.0.1:8080";
  std::string token_file;
  size_t max_queue = 64;
  size_t workers = 0;
  size_t max_batch = 256;
  size_t max_body_mb = 16;
  double max_timeout = 60;
  int64_t max_memory_mb = 4096;
};

// SIGTERM/SIGINT → one byte on a pipe; the main thread waits on it. A handler (not
// a blocked mask + sigwait) because masks survive exec and would reach the sandbox's
// helper processes; handlers do not.
int g_signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  int saved = errno;
  char b = 1;
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &b, 1);
  errno = saved;
}

extern "C" void on_sigpipe(int) {}  // a client gone mid-response must not kill us

Status install_signal_handlers() {
  if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return fail(ErrorCode::kIo, std::string("pipe2: ") + std::strerror(errno));
  }
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_sigpipe;
  sigaction(SIGPIPE, &sa, nullptr);
  return {};
}

void wait_for_stop_signal() {
  for (;;) {
    pollfd p{g_signal_pipe[0], POLLIN, 0};
    if (poll(&p, 1, -1) > 0) {
      char b;
      if (read(g_signal_pipe[0], &b, 1) == 1) return;
    }
  }
}

Status serve_sandbox(const ServeSandboxArgs& a) {
  DSTC_TRY(auto addr, sandbox_service::parse_listen(a.listen));
  sandbox_service::ServerOptions o;
  o.host = addr.host;
  o.port = addr.port;
  if (!a.token_file.empty()) {
    DSTC_TRY(o.token, sandbox_service::read_token_file(a.token_file));
  }
  o.workers = a.workers;
  o.max_queue = a.max_queue;
  o.max_batch = a.max_batch;
  o.max_body_bytes = a.max_body_mb << 20;
  o.max_timeout_seconds = a.max_timeout;
  o.max_memory_mb = a.max_memory_mb;
  // Refuse an unsafe configuration before starting any sandbox machinery.
  DSTC_CHECK_OK(sandbox_service::validate(o));
  DSTC_TRY(auto sb, sandbox::Sandbox::create());
  sandbox::Sandbox* sandbox = sb.get();
  DSTC_TRY(auto server, sandbox_service::Server::create(
                            o, [sandbox](const sandbox::Job& job) { return sandbox->run(job); }));
  DSTC_CHECK_OK(install_signal_handlers());
  DSTC_CHECK_OK(server->start());
  std::printf("listening on %s\n", server->url().c_str());
  std::fflush(stdout);
  wait_for_stop_signal();
  std::fprintf(stderr, "dstc serve sandbox: stopping: finishing admitted jobs\n");
  server->stop();
  return {};
}

void register_serve_sandbox(CLI::App& app, Globals&, Action& action) {
  auto found = app.get_subcommands([](CLI::App* c) { return c->get_name() == "serve"; });
  CLI::App* serve = found.empty() ? nullptr : found.front();
  if (serve == nullptr) {
    serve = app.add_subcommand("serve", "Run a long-lived service");
    serve->require_subcommand(1);
  }
  auto args = std::make_shared<ServeSandboxArgs>();
  auto* cmd = serve->add_subcommand(
      "sandbox",
      "Serve the sandbox over HTTP/JSON: POST /v1/run, /v1/batch; GET /healthz, /metrics");
  cmd->add_option("--listen", args->listen,
                  "HOST:PORT to bind; a non-loopback host needs --token-file (port 0: any free)")
      ->capture_default_str();
  cmd->add_option("--token-file", args->token_file,
                  "File holding the bearer token clients must send (at least 16 bytes)");
  cmd->add_option("--max-queue", args->max_queue,
                  "Jobs that may wait for a worker; beyond that requests get 429")
      ->capture_default_str();
  cmd->add_option("--workers", args->workers, "Jobs run at once (default: number of cores)");
  cmd->add_option("--max-batch", args->max_batch, "Most jobs in one /v1/batch request")
      ->capture_default_str();
  cmd->add_option("--max-body-mb", args->max_body_mb, "Largest request body, MiB")
      ->capture_default_str();
  cmd->add_option("--max-timeout", args->max_timeout,
                  "Per-job time limit cap, seconds (larger requests are clamped)")
      ->capture_default_str();
  cmd->add_option("--max-memory-mb", args->max_memory_mb,
                  "Per-job memory limit cap, MB (larger requests are clamped)")
      ->capture_default_str();
  cmd->callback([args, &action] { action = [args] { return serve_sandbox(*args); }; });
}

}  // namespace
}  // namespace dstc::cli

DSTC_REGISTER_COMMAND(serve_sandbox, dstc::cli::register_serve_sandbox);
