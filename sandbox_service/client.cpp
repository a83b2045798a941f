#include "sandbox_service/client.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "common/json.h"
#include "common/log.h"
#include "sandbox_service/metrics.h"

namespace dstc::sandbox_service {
namespace {

// What one attempt of one request came to.
struct Attempt {
  enum class Kind { kOk, kRetry, kFatal } kind = Kind::kFatal;
  std::vector<sandbox::Verdict> verdicts;  // kOk
  std::string error;                       // kRetry / kFatal
  double retry_after = 0;                  // from a 429's Retry-After, seconds
};

sandbox::Verdict error_verdict(const sandbox::Job& job, const std::string& reason) {
  sandbox::Verdict v;
  v.id = job.id;
  v.status = VerdictStatus::kSandboxError;
  v.reason = reason;
  return v;
}

// A server's error body is {"error": "..."}; anything else is shown raw, shortened.
std::string error_text(const httplib::Response& res) {
  auto j = Json::parse(res.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return j["error"].get<std::string>();
  }
  return res.body.substr(0, 200);
}

// Jitter in [0.5, 1) from (request, attempt): deterministic, so runs are reproducible,
// but spread enough that retrying clients do not stampede in step.
double jitter(size_t request, int attempt) {
  uint64_t x = (static_cast<uint64_t>(request) << 16) ^ static_cast<uint64_t>(attempt);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return 0.5 + 0.5 * static_cast<double>(x >> 11) / static_cast<double>(1ULL << 53);
}

}  // namespace

Result<std::vector<std::string>> parse_server_list(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string url(text.substr(start, comma - start));
    start = comma + 1;
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (url.empty()) continue;
    size_t scheme_end = url.find("://");
    std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
    std::string rest = scheme_end == std::string::npos ? "" : url.substr(scheme_end + 3);
    if ((scheme != "http" && scheme != "https") || rest.empty() ||
        rest.find('/') != std::string::npos) {
      return fail(ErrorCode::kInvalidArgument,
                  "--server: '" + url +
                      "' is not a server URL; expected http://HOST:PORT (comma-separated for "
                      "several)");
    }
    out.push_back(url);
  }
  if (out.empty()) {
    return fail(ErrorCode::kInvalidArgument, "--server: no server URL given");
  }
  return out;
}

struct RemoteExecutor::Impl {
  RemoteOptions options;
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> failed{0};
  std::shared_ptr<spdlog::logger> log = log::get("sandbox_service");

  std::unique_ptr<httplib::Client> make_client(const std::string& url) const {
    auto c = std::make_unique<httplib::Client>(url);
    auto secs = [](double s) {
      return std::make_pair(static_cast<time_t>(s), static_cast<time_t>((s - std::floor(s)) * 1e6));
    };
    auto [cs, cu] = secs(options.connect_timeout_seconds);
    auto [rs, ru] = secs(options.read_timeout_seconds);
    c->set_connection_timeout(cs, cu);
    c->set_read_timeout(rs, ru);
    c->set_write_timeout(rs, ru);
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);  // requests go out as headers + body: no Nagle delay
    return c;
  }

  // One HTTP exchange with one server for `jobs` (one → /v1/run, more → /v1/batch).
  Attempt attempt(httplib::Client& client, const std::string& url,
                  const std::vector<const sandbox::Job*>& jobs) {
    ++requests;
    httplib::Headers headers;
    if (!options.token.empty()) headers.emplace("Authorization", "Bearer " + options.token);
    std::string body;
    const char* path = jobs.size() == 1 ? "/v1/run" : "/v1/batch";
    if (jobs.size() == 1) {
      body = sandbox::job_to_json(*jobs[0]).dump();
    } else {
      Json list = Json::array();
      for (const auto* j : jobs) list.push_back(sandbox::job_to_json(*j));
      body = Json{{"jobs", std::move(list)}}.dump();
    }
    auto res = client.Post(path, headers, body, "application/json");
    Attempt a;
    if (!res) {
      a.kind = Attempt::Kind::kRetry;
      a.error = fmt::format("{}: {}", url, httplib::to_string(res.error()));
      return a;
    }
    int code = res->status;
    if (code == 429 || code == 502 || code == 503 || code == 504) {
      a.kind = Attempt::Kind::kRetry;
      a.error = fmt::format("{}: HTTP {}: {}", url, code, error_text(*res));
      if (res->has_header("Retry-After")) {
        a.retry_after = std::atof(res->get_header_value("Retry-After").c_str());
      }
      return a;
    }
    if (code != 200) {
      a.error = fmt::format("{}: HTTP {}: {}", url, code, error_text(*res));
      return a;
    }
    auto parsed = parse_json(res->body, url + path);
    if (!parsed) {
      a.error = parsed.error().message();
      return a;
    }
    const Json* list = nullptr;
    Json single = Json::array();
    if (jobs.size() == 1) {
      single.push_back(std::move(*parsed));
      list = &single;
    } else if (parsed->is_object() && parsed->contains("verdicts") &&
               (*parsed)["verdicts"].is_array()) {
      list = &(*parsed)["verdicts"];
    }
    if (!list || list->size() != jobs.size()) {
      a.error = fmt::format("{}{}: answer does not hold {} verdict(s)", url, path, jobs.size());
      return a;
    }
    for (const auto& j : *list) {
      auto v = sandbox::verdict_from_json(j);
      if (!v) {
        a.error = v.error().context(url + path).message();
        a.verdicts.clear();
        return a;
      }
      a.verdicts.push_back(std::move(*v));
    }
    a.kind = Attempt::Kind::kOk;
    return a;
  }

  // Runs one request (chunk `request` of the batch) with retries; fills `out`.
  void run_request(size_t request, const std::vector<const sandbox::Job*>& jobs,
                   std::vector<std::unique_ptr<httplib::Client>>& clients,
                   std::vector<sandbox::Verdict>& out) {
    size_t n = options.servers.size();
    size_t server = request % n;
    double backoff = options.backoff_initial_seconds;
    std::string last_error;
    for (int attempt_no = 1; attempt_no <= options.max_attempts; ++attempt_no) {
      auto& client = clients[server];
      if (!client) client = make_client(options.servers[server]);
      Attempt a = attempt(*client, options.servers[server], jobs);
      if (a.kind == Attempt::Kind::kOk) {
        out = std::move(a.verdicts);
        for (size_t i = 0; i < jobs.size(); ++i) {
          if (out[i].id.empty()) out[i].id = jobs[i]->id;
        }
        return;
      }
      last_error = a.error;
      if (a.kind == Attempt::Kind::kFatal) break;
      ++retries;
      // A dropped connection may have left the client's socket unusable.
      client.reset();
      server = (server + 1) % n;
      // Wait once every server has been tried in this round.
      if (attempt_no % n == 0) {
        double wait = std::min(std::max(backoff, a.retry_after), 10.0) *
                      (a.retry_after > backoff ? 1.0 : jitter(request, attempt_no));
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        backoff = std::min(backoff * 2, options.backoff_max_seconds);
      }
      log->debug("retrying request {}: {}", request, a.error);
    }
    ++failed;
    out.clear();
    for (const auto* j : jobs) out.push_back(error_verdict(*j, "remote: " + last_error));
  }
};

Result<std::unique_ptr<RemoteExecutor>> RemoteExecutor::create(RemoteOptions options) {
  if (options.servers.empty()) {
    return fail(ErrorCode::kInvalidArgument, "remote executor: no server URL given");
  }
  for (const auto& s : options.servers) {
    DSTC_TRY(auto parsed, parse_server_list(s));
    if (parsed.size() != 1) {
      return fail(ErrorCode::kInvalidArgument, "remote executor: '" + s + "' is not one URL");
    }
  }
  if (options.parallel == 0) options.parallel = 8 * options.servers.size();
  if (options.jobs_per_request == 0) options.jobs_per_request = 1;
  if (options.max_attempts < 1) options.max_attempts = 1;
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  return std::unique_ptr<RemoteExecutor>(new RemoteExecutor(std::move(impl)));
}

RemoteExecutor::RemoteExecutor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteExecutor::~RemoteExecutor() = default;

sandbox::Verdict RemoteExecutor::run(const sandbox::Job& job) {
  return std::move(run_batch({job}, 1)[0]);
}

std::vector<sandbox::Verdict> RemoteExecutor::run_batch(
    const std::vector<sandbox::Job>& jobs, size_t parallel,
    const std::function<void(size_t)>& on_done) {
  auto& im = *impl_;
  std::vector<sandbox::Verdict> verdicts(jobs.size());
  size_t per = im.options.jobs_per_request;
  size_t requests = (jobs.size() + per - 1) / per;
  if (parallel == 0) parallel = im.options.parallel;
  size_t threads = std::min(parallel, requests);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::vector<std::unique_ptr<httplib::Client>> clients(im.options.servers.size());
    for (size_t r; (r = next.fetch_add(1)) < requests;) {
      size_t begin = r * per, end = std::min(jobs.size(), begin + per);
      std::vector<const sandbox::Job*> chunk;
      for (size_t i = begin; i < end; ++i) chunk.push_back(&jobs[i]);
      std::vector<sandbox::Verdict> out;
      try {
        im.run_request(r, chunk, clients, out);
      } catch (const std::exception& e) {
        out.clear();
        for (const auto* j : chunk)
          out.push_back(error_verdict(*j, std::string("remote: ") + e.what()));
      }
      for (size_t i = begin; i < end; ++i) {
        verdicts[i] = std::move(out[i - begin]);
        if (on_done) on_done(i);
      }
    }
  };
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  return verdicts;
}

RemoteExecutor::Stats RemoteExecutor::stats() const {
  return {impl_->requests.load(), impl_->retries.load(), impl_->failed.load()};
}

const RemoteOptions& RemoteExecutor::options() const { return impl_->options; }

}  // namespace dstc::sandbox_service
