// The service on the real sandbox: verdicts equal local Sandbox::run, the real
// `dstc serve sandbox` drains on SIGTERM, and a bounded load test leaks nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>

#include "common/json.h"
#include "sandbox/sandbox.h"
#include "sandbox_service/client.h"
#include "sandbox_service/server.h"
#include "service_test_util.h"

namespace dstc::sandbox_service {
namespace {

using testing::eventually;

// One Sandbox for the whole program (zygotes start once); null with a reason when
// this host cannot run it.
sandbox::Sandbox* shared_sandbox(std::string* why) {
  static std::string reason;
  static std::unique_ptr<sandbox::Sandbox> sb = [] {
    auto s = sandbox::Sandbox::create();
    if (!s) {
      reason = s.error().message();
      return std::unique_ptr<sandbox::Sandbox>();
    }
    sandbox::Job probe;
    probe.program = "assert 1 + 1 == 2\n";
    auto v = (*s)->run(probe);
    if (v.status != VerdictStatus::kPassed) {
      reason = "a trivial program got '" + verdict_status_name(v.status) + "': " + v.reason;
      return std::unique_ptr<sandbox::Sandbox>();
    }
    return std::move(*s);
  }();
  *why = reason;
  return sb.get();
}

#define REQUIRE_SANDBOX(var)                          \
  std::string why_##var;                              \
  sandbox::Sandbox* var = shared_sandbox(&why_##var); \
  if (!var) GTEST_SKIP() << "SKIPPED: the sandbox cannot run here: " << why_##var

std::unique_ptr<Server> start_on(sandbox::Sandbox* sb, ServerOptions o) {
  o.port = 0;
  auto s = Server::create(o, [sb](const sandbox::Job& j) { return sb->run(j); });
  EXPECT_TRUE(s) << s.error().message();
  if (!s || !(*s)->start()) return nullptr;
  return std::move(*s);
}

// Verdict JSON without the measured fields, which differ from run to run.
Json comparable(Json v) {
  for (const char* k : {"wall_ms", "cpu_ms", "peak_rss_kb"}) v.erase(k);
  return v;
}

std::vector<sandbox::Job> sample_jobs() {
  std::vector<sandbox::Job> jobs;
  auto add = [&](std::string id, std::string program, std::string in = "",
                 std::optional<double> timeout = std::nullopt) {
    sandbox::Job j;
    j.id = std::move(id);
    j.program = std::move(program);
    j.stdin_data = std::move(in);
    j.timeout_seconds = timeout;
    jobs.push_back(std::move(j));
  };
  add("pass", "assert 1 + 1 == 2\n");
  add("fail", "assert 1 + 1 == 3, 'arithmetic'\n");
  add("error", "raise ValueError('bad value')\n");
  add("output", "import sys\nprint('hello')\nprint('to stderr', file=sys.stderr)\n");
  add("stdin", "import sys\nprint(sys.stdin.read().upper())\n", "abc\n");
  add("exit", "import sys\nsys.exit(3)\n");
  add("timeout", "while True:\n    pass\n", "", 0.5);
  return jobs;
}

TEST(ServiceIntegration, VerdictsEqualLocalRuns) {
  REQUIRE_SANDBOX(sb);
  ServerOptions o;
  o.workers = 2;
  auto server = start_on(sb, o);
  ASSERT_TRUE(server);
  auto jobs = sample_jobs();
  std::vector<Json> local;
  for (const auto& j : jobs) local.push_back(comparable(sandbox::verdict_to_json(sb->run(j))));
  EXPECT_EQ(local[0]["status"], "passed");
  EXPECT_EQ(local[1]["status"], "failed");
  EXPECT_EQ(local[6]["status"], "timeout");

  httplib::Client cli(server->url());
  cli.set_read_timeout(60, 0);
  Json batch = Json::array();
  for (const auto& j : jobs) {
    auto r = cli.Post("/v1/run", sandbox::job_to_json(j).dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(comparable(Json::parse(r->body)), local[&j - &jobs[0]]) << j.id;
    batch.push_back(sandbox::job_to_json(j));
  }
  auto r = cli.Post("/v1/batch", Json{{"jobs", batch}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  Json verdicts = Json::parse(r->body)["verdicts"];
  ASSERT_EQ(verdicts.size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(comparable(verdicts[i]), local[i]) << jobs[i].id;
  }
  // The client library gives the same verdicts.
  RemoteOptions ro;
  ro.servers = {server->url()};
  auto remote = RemoteExecutor::create(ro);
  ASSERT_TRUE(remote);
  auto rv = (*remote)->run_batch(jobs);
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(comparable(sandbox::verdict_to_json(rv[i])), local[i]) << jobs[i].id;
  }
  EXPECT_GE(server->metrics().verdicts(VerdictStatus::kTimeout), 3);
}

// The dstc executable under test: DSTC_BINARY, or $DSTC_TEST_BINARY when set (to try a
// binary from another build directory).
const char* dstc_binary() {
  const char* env = std::getenv("DSTC_TEST_BINARY");
  return env && *env ? env : DSTC_BINARY;
}

// Spawns `dstc serve sandbox`, reads its "listening on URL" line.
struct ServeProcess {
  pid_t pid = -1;
  std::string url;
};

ServeProcess spawn_serve(const std::vector<std::string>& extra) {
  ServeProcess p;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return p;
  std::vector<std::string> args = {dstc_binary(), "serve", "sandbox", "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  p.pid = fork();
  if (p.pid == 0) {
    dup2(out[1], 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  constexpr std::string_view kPrefix = "listening on ";
  if (line.rfind(kPrefix, 0) == 0) p.url = line.substr(kPrefix.size());
  return p;
}

TEST(ServiceIntegration, SigtermDrainsRunningJobsThenExitsZero) {
  REQUIRE_SANDBOX(sb);
  if (access(dstc_binary(), X_OK) != 0) {
    GTEST_SKIP() << "SKIPPED: " << dstc_binary()
                 << " is not built (cmake --build <dir> --target dstc)";
  }
  ServeProcess p = spawn_serve({"--workers", "1"});
  ASSERT_GT(p.pid, 0);
  ASSERT_FALSE(p.url.empty()) << "no 'listening on' line from dstc serve sandbox";
  auto in_flight = std::async(std::launch::async, [url = p.url] {
    httplib::Client cli(url);
    cli.set_read_timeout(60, 0);
    auto r = cli.Post(
        "/v1/run", R"({"id": "slow", "program": "import time\ntime.sleep(1.5)\nprint('done')\n"})",
        "application/json");
    return r ? std::make_pair(r->status, r->body) : std::make_pair(-1, std::string());
  });
  httplib::Client probe(p.url);
  ASSERT_TRUE(eventually([&] {
    auto m = probe.Get("/metrics");
    return m && m->body.find("dstc_sandbox_active_workers 1") != std::string::npos;
  }));
  ASSERT_EQ(kill(p.pid, SIGTERM), 0);
  auto [code, body] = in_flight.get();
  EXPECT_EQ(code, 200);
  if (code == 200) {
    Json v = Json::parse(body);
    EXPECT_EQ(v["status"], "passed") << body;
    EXPECT_EQ(v["stdout"], "done\n");
  }
  int status = 0;
  ASSERT_EQ(waitpid(p.pid, &status, 0), p.pid);
  EXPECT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  httplib::Client after(p.url);
  after.set_connection_timeout(1, 0);
  EXPECT_FALSE(after.Get("/healthz"));
}

TEST(ServiceIntegration, RealBinaryRefusesNonLoopbackWithoutToken) {
  if (access(dstc_binary(), X_OK) != 0) {
    GTEST_SKIP() << "SKIPPED: " << dstc_binary() << " is not built";
  }
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(dstc_binary(), dstc_binary(), "serve", "sandbox", "--listen", "0.0.0.0:0", nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);  // a usage error
}

// Bounded load: at most 2000 requests (fewer if 40 s pass), 32 concurrent clients,
// against 2 workers. Zero 5xx; the server's fds, child processes and sandbox dirs are
// back to their numbers from before.
TEST(ServiceSlow, LoadLeavesNoLeaks) {
  REQUIRE_SANDBOX(sb);
  ServerOptions o;
  o.workers = 2;
  o.max_queue = 64;
  auto server = start_on(sb, o);
  ASSERT_TRUE(server);
  const std::string body = R"({"program": "x = 1\nassert x == 1\n"})";
  auto load = [&](size_t total, size_t concurrency, std::chrono::seconds budget) {
    std::atomic<size_t> next{0};
    std::atomic<int64_t> ok{0}, server_errors{0}, other{0}, not_passed{0};
    auto deadline = std::chrono::steady_clock::now() + budget;
    std::vector<std::thread> threads;
    for (size_t t = 0; t < concurrency; ++t) {
      threads.emplace_back([&] {
        httplib::Client cli(server->url());
        cli.set_keep_alive(true);
        cli.set_read_timeout(60, 0);
        while (next.fetch_add(1) < total && std::chrono::steady_clock::now() < deadline) {
          auto r = cli.Post("/v1/run", body, "application/json");
          if (!r) {
            ++other;
            std::fprintf(stderr, "load: request failed: %s\n",
                         httplib::to_string(r.error()).c_str());
          } else if (r->status >= 500) {
            ++server_errors;
          } else if (r->status != 200) {
            ++other;
            std::fprintf(stderr, "load: HTTP %d: %s\n", r->status, r->body.c_str());
          } else {
            ++ok;
            if (Json::parse(r->body)["status"] != "passed") ++not_passed;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    return std::array<int64_t, 4>{ok.load(), server_errors.load(), other.load(), not_passed.load()};
  };
  // Warm up: start the zygote and every run slot the load will use.
  auto warm = load(64, 32, std::chrono::seconds(60));
  ASSERT_EQ(warm[0], 64) << "warm-up requests failed";
  auto census = [&] {
    auto kids = testing::descendants();
    return std::array<size_t, 3>{testing::open_fd_count(), kids.size(),
                                 testing::sandbox_dir_count(kids)};
  };
  // The warm-up's run processes are reaped just after their answers: take the baseline
  // once the census has held still for 200 ms, not merely twice in a row.
  std::array<size_t, 3> before{};
  ASSERT_TRUE(eventually([&] {
    before = census();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return before == census();
  }));
  auto result = load(2000, 32, std::chrono::seconds(40));
  EXPECT_EQ(result[1], 0) << "5xx answers";
  EXPECT_EQ(result[2], 0) << "failed or non-200 requests";
  EXPECT_EQ(result[3], 0) << "verdicts other than passed";
  EXPECT_GT(result[0], 0);
  // Closing client connections and reaping run processes finish just after the last
  // answer; wait for them, then compare.
  std::array<size_t, 3> after{};
  eventually([&] {
    after = census();
    return after == before;
  });
  EXPECT_EQ(after[0], before[0]) << "open fds";
  EXPECT_EQ(after[1], before[1]) << "child processes";
  EXPECT_EQ(after[2], before[2]) << "sandbox temp/cgroup dirs";
  std::printf("load: %lld requests answered 200\n", static_cast<long long>(result[0]));
}

}  // namespace
}  // namespace dstc::sandbox_service
