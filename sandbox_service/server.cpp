#include "sandbox_service/server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/json.h"
#include "common/log.h"
#include "sandbox_service/net.h"

namespace dstc::sandbox_service {
namespace {

constexpr const char* kJsonType = "application/json";

// The route label of a request: one of a fixed set, so /metrics stays bounded whatever
// paths clients send.
std::string route_label(const std::string& path) {
  for (const char* r : {"/v1/run", "/v1/batch", "/healthz", "/metrics"}) {
    if (path == r) return r;
  }
  return "other";
}

void send_error(httplib::Response& res, int code, const std::string& message) {
  res.status = code;
  res.set_content(Json{{"error", message}}.dump() + "\n", kJsonType);
}

}  // namespace

Status validate(const ServerOptions& o) {
  if (!is_loopback_host(o.host) && o.token.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "refusing to listen on non-loopback address '" + o.host +
                    "' without a token: anyone who can reach it could run code here; pass "
                    "--token-file FILE or listen on 127.0.0.1");
  }
  if (o.port < 0 || o.port > 65535) {
    return fail(ErrorCode::kInvalidArgument, fmt::format("port {} out of range", o.port));
  }
  if (o.max_batch == 0) return fail(ErrorCode::kInvalidArgument, "--max-batch must be > 0");
  if (o.max_body_bytes < 1024) {
    return fail(ErrorCode::kInvalidArgument, "--max-body-bytes must be at least 1024");
  }
  if (!(o.max_timeout_seconds > 0)) {
    return fail(ErrorCode::kInvalidArgument, "--max-timeout must be a positive number of seconds");
  }
  if (o.max_memory_mb <= 0) return fail(ErrorCode::kInvalidArgument, "--max-memory-mb must be > 0");
  return {};
}

Result<std::string> clamp_job(sandbox::Job& job, const ServerOptions& o) {
  auto profile = sandbox::builtin_profile(job.profile);
  if (!profile) {
    return fail(ErrorCode::kInvalidArgument, "job: field 'profile': " + profile.error().message());
  }
  std::string clamped;
  double timeout = job.timeout_seconds.value_or(
      std::max(profile->limits.wall_seconds, profile->limits.cpu_seconds));
  if (timeout > o.max_timeout_seconds) {
    clamped += fmt::format("timeout={}>{}", timeout, o.max_timeout_seconds);
    job.timeout_seconds = o.max_timeout_seconds;
  }
  int64_t memory = job.memory_mb.value_or(profile->limits.memory_mb);
  if (memory > o.max_memory_mb) {
    if (!clamped.empty()) clamped += ",";
    clamped += fmt::format("memory_mb={}>{}", memory, o.max_memory_mb);
    job.memory_mb = o.max_memory_mb;
  }
  return clamped;
}

struct Server::Impl {
  ServerOptions options;
  Metrics metrics;
  std::unique_ptr<JobQueue> queue;
  httplib::Server http;
  std::thread listener;
  std::atomic<bool> listener_done{false};
  int port = 0;
  int listen_fd = -1;
  std::mutex stop_mutex;
  bool stopped = false;
  std::shared_ptr<spdlog::logger> log = log::get("sandbox_service");

  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (options.token.empty()) return true;
    const std::string& header = req.get_header_value("Authorization");
    constexpr std::string_view kPrefix = "Bearer ";
    bool ok = header.size() > kPrefix.size() && header.compare(0, kPrefix.size(), kPrefix) == 0 &&
              constant_time_equal(std::string_view(header).substr(kPrefix.size()), options.token);
    if (!ok) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401,
                 header.empty() ? "missing 'Authorization: Bearer <token>' header"
                                : "invalid bearer token");
    }
    return ok;
  }

  // Parses, validates and clamps one job; `where` prefixes error messages ("jobs[3]").
  Result<sandbox::Job> parse_job(const Json& j, const std::string& where, std::string& clamped) {
    auto job = sandbox::job_from_json(j);
    if (!job) return fail(where.empty() ? job.error() : job.error().context(where));
    auto c = clamp_job(*job, options);
    if (!c) return fail(where.empty() ? c.error() : c.error().context(where));
    if (!c->empty()) {
      if (!clamped.empty()) clamped += ";";
      clamped += where.empty() ? *c : where + ":" + *c;
    }
    return job;
  }

  // Admits `jobs` and waits for their verdicts; false (and a 429) when the queue is full.
  bool run_jobs(std::vector<sandbox::Job> jobs, std::vector<sandbox::Verdict>& verdicts,
                httplib::Response& res) {
    size_t n = jobs.size();
    auto futures = queue->try_submit(std::move(jobs));
    if (!futures) {
      res.set_header("Retry-After", std::to_string(options.retry_after_seconds));
      send_error(res, 429,
                 fmt::format("queue full ({} jobs running or waiting, {} more requested); retry "
                             "after {} s",
                             queue->outstanding(), n, options.retry_after_seconds));
      return false;
    }
    verdicts.reserve(n);
    for (auto& f : *futures) verdicts.push_back(f.get());
    return true;
  }

  void handle_run(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    auto body = parse_json(req.body, "request body");
    if (!body) return send_error(res, 400, body.error().message());
    std::string clamped;
    auto job = parse_job(*body, "", clamped);
    if (!job) return send_error(res, 400, job.error().message());
    std::vector<sandbox::Job> jobs;
    jobs.push_back(std::move(*job));
    std::vector<sandbox::Verdict> verdicts;
    if (!run_jobs(std::move(jobs), verdicts, res)) return;
    if (!clamped.empty()) res.set_header("X-Dstc-Clamped", clamped);
    res.set_content(sandbox::verdict_to_json(verdicts[0]).dump() + "\n", kJsonType);
  }

  void handle_batch(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    auto body = parse_json(req.body, "request body");
    if (!body) return send_error(res, 400, body.error().message());
    if (!body->is_object() || !body->contains("jobs") || !(*body)["jobs"].is_array()) {
      return send_error(res, 400, "request body: field 'jobs' must be an array of jobs");
    }
    const Json& list = (*body)["jobs"];
    if (list.size() > options.max_batch) {
      return send_error(res, 400,
                        fmt::format("field 'jobs': {} jobs, more than this server's maximum of "
                                    "{} per batch; split the batch",
                                    list.size(), options.max_batch));
    }
    std::vector<sandbox::Job> jobs;
    jobs.reserve(list.size());
    std::string clamped;
    for (size_t i = 0; i < list.size(); ++i) {
      auto job = parse_job(list[i], fmt::format("jobs[{}]", i), clamped);
      if (!job) return send_error(res, 400, job.error().message());
      jobs.push_back(std::move(*job));
    }
    std::vector<sandbox::Verdict> verdicts;
    if (!run_jobs(std::move(jobs), verdicts, res)) return;
    Json out = Json::array();
    for (const auto& v : verdicts) out.push_back(sandbox::verdict_to_json(v));
    if (!clamped.empty()) res.set_header("X-Dstc-Clamped", clamped);
    res.set_content(Json{{"verdicts", std::move(out)}}.dump() + "\n", kJsonType);
  }

  void handle_healthz(httplib::Response& res) {
    Json j{{"status", "ok"},
           {"workers", metrics.workers.load()},
           {"active_workers", metrics.active_workers.load()},
           {"queue_depth", metrics.queue_depth.load()},
           {"queue_capacity", metrics.queue_capacity.load()}};
    res.set_content(j.dump() + "\n", kJsonType);
  }

  void install_routes() {
    // Handlers never let an exception reach httplib (which would answer a bare 500).
    auto guard = [this](auto fn) {
      return [this, fn](const httplib::Request& req, httplib::Response& res) {
        try {
          fn(req, res);
        } catch (const std::exception& e) {
          log->error("{} {}: {}", req.method, req.path, e.what());
          send_error(res, 500, std::string("internal error: ") + e.what());
        }
      };
    };
    http.Post("/v1/run", guard([this](const auto& req, auto& res) { handle_run(req, res); }));
    http.Post("/v1/batch", guard([this](const auto& req, auto& res) { handle_batch(req, res); }));
    http.Get("/healthz", guard([this](const auto&, auto& res) { handle_healthz(res); }));
    http.Get("/metrics", guard([this](const auto& req, auto& res) {
               if (!authorized(req, res)) return;
               res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
             }));
    // Errors httplib produces itself (404, 413, 400 on unparsable requests) get a JSON body.
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          std::string msg;
          switch (res.status) {
            case 404:
              msg = fmt::format(
                  "no route {} {}; routes: POST /v1/run, POST /v1/batch, GET /healthz, "
                  "GET /metrics",
                  req.method, req.path);
              break;
            case 413:
              msg = fmt::format("request body larger than this server's limit of {} bytes",
                                options.max_body_bytes);
              break;
            default:
              msg = fmt::format("HTTP {}", res.status);
          }
          send_error(res, res.status, msg);
          return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      metrics.count_request(route_label(req.path), res.status);
    });
  }
};

Result<std::unique_ptr<Server>> Server::create(ServerOptions options, Executor executor) {
  DSTC_CHECK_OK(validate(options));
  if (options.workers == 0) options.workers = std::max(1u, std::thread::hardware_concurrency());
  options.max_batch = std::min(options.max_batch, options.workers + options.max_queue);
  if (options.http_threads == 0) options.http_threads = options.workers + options.max_queue + 8;
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->metrics.workers = static_cast<int64_t>(options.workers);
  impl->metrics.queue_capacity = static_cast<int64_t>(options.max_queue);
  impl->queue = std::make_unique<JobQueue>(std::move(executor), options.workers, options.max_queue,
                                           impl->metrics);
  auto& http = impl->http;
  size_t threads = options.http_threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(options.max_body_bytes);
  http.set_tcp_nodelay(true);
  http.set_keep_alive_timeout(options.keep_alive_seconds);
  // Each connection holds one of httplib's threads; closing it after 100 requests lets
  // connections waiting for a thread in, even when every client is busy.
  http.set_keep_alive_max_count(100);
  http.set_read_timeout(30, 0);
  // httplib 0.11 listens with a backlog of 5: a burst of clients overflows it and their
  // requests stall or fail. Remember the listening socket here (httplib calls this on
  // it before bind) so start() can raise the backlog with a second listen().
  Impl* raw = impl.get();
  http.set_socket_options([raw](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    // Accepted sockets inherit this: without it Nagle + delayed ACKs add ~100 ms to
    // every small answer written in two pieces (headers, body).
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    raw->listen_fd = sock;
  });
  http.set_write_timeout(30, 0);
  impl->install_routes();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

Status Server::start() {
  auto& im = *impl_;
  if (im.listener.joinable()) return fail(ErrorCode::kInternal, "server already started");
  int port = im.options.port;
  if (port == 0) {
    port = im.http.bind_to_any_port(im.options.host);
  } else if (!im.http.bind_to_port(im.options.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return fail(ErrorCode::kUnavailable,
                fmt::format("cannot listen on {}:{} (address in use, or not an address of this "
                            "host)",
                            im.options.host, im.options.port));
  }
  im.port = port;
  if (im.listen_fd >= 0 && ::listen(im.listen_fd, SOMAXCONN) != 0) {
    im.log->warn("cannot raise the listen backlog: {}", std::strerror(errno));
  }
  im.listener = std::thread([&im] {
    im.http.listen_after_bind();
    im.listener_done = true;
  });
  // httplib's stop() does nothing before the listener marks itself running, so wait
  // for that; it happens right away.
  while (!im.http.is_running() && !im.listener_done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (im.listener_done) {
    im.listener.join();
    return fail(ErrorCode::kUnavailable, "the HTTP listener stopped right after starting");
  }
  im.log->info("serving on {} ({} workers, queue {}, auth {})", url(), im.options.workers,
               im.options.max_queue, im.options.token.empty() ? "off" : "bearer token");
  return {};
}

int Server::port() const { return impl_->port; }

std::string Server::url() const {
  const std::string& h = impl_->options.host;
  bool v6 = h.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", h, v6 ? "]" : "", impl_->port);
}

void Server::stop() {
  auto& im = *impl_;
  std::lock_guard lock(im.stop_mutex);
  if (im.stopped) return;
  im.stopped = true;
  if (im.listener.joinable()) {
    // Closes the listening socket; httplib's pool then finishes every connection it
    // accepted (handlers wait for their jobs) and joins its threads.
    im.http.stop();
    im.listener.join();
  }
  im.queue->shutdown();
  im.log->info("stopped");
}

const Metrics& Server::metrics() const { return impl_->metrics; }
const ServerOptions& Server::options() const { return impl_->options; }

}  // namespace dstc::sandbox_service
