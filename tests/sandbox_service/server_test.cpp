// The HTTP service with a fake executor: routes, auth, bad requests, clamping, the bounded
// queue, graceful stop and metrics. Real sandbox runs are in service_integration_test.cpp.
#include "sandbox_service/server.h"

#include <gtest/gtest.h>

#include <future>

#include "common/json.h"
#include "sandbox_service/net.h"
#include "service_test_util.h"

namespace dstc::sandbox_service {
namespace {

using testing::echo_verdict;
using testing::eventually;
using testing::Gate;

const std::string kToken = "0123456789abcdef-test-token";

ServerOptions loopback_options() {
  ServerOptions o;
  o.port = 0;
  o.workers = 2;
  o.max_queue = 8;
  return o;
}

std::unique_ptr<Server> start_server(ServerOptions o, Executor exec = echo_verdict) {
  auto s = Server::create(std::move(o), std::move(exec));
  EXPECT_TRUE(s) << s.error().message();
  if (!s) return nullptr;
  auto st = (*s)->start();
  EXPECT_TRUE(st) << st.error().message();
  return std::move(*s);
}

Json body_json(const httplib::Result& r) { return Json::parse(r->body); }

std::string job_body(const std::string& program, const std::string& extra = "") {
  return R"({"program": )" + Json(program).dump() + extra + "}";
}

TEST(NetTest, ParsesListenAddresses) {
  auto a = parse_listen("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto b = parse_listen("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = parse_listen(":9000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_FALSE(parse_listen("127.0.0.1"));
  EXPECT_FALSE(parse_listen("127.0.0.1:http"));
  EXPECT_FALSE(parse_listen("127.0.0.1:70000"));
  EXPECT_FALSE(parse_listen("::1:80"));
}

TEST(NetTest, LoopbackDetection) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.3.2.1"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("::ffff:127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("example.com"));
}

TEST(NetTest, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("secret-token-123", "secret-token-123"));
  EXPECT_FALSE(constant_time_equal("secret-token-124", "secret-token-123"));
  EXPECT_FALSE(constant_time_equal("secret-token-12", "secret-token-123"));
  EXPECT_FALSE(constant_time_equal("secret-token-1234", "secret-token-123"));
  EXPECT_FALSE(constant_time_equal("", "secret-token-123"));
  EXPECT_FALSE(constant_time_equal("", ""));
  // A presented value that is the expected one repeated must not match.
  EXPECT_FALSE(constant_time_equal("abcabc", "abc"));
}

TEST(NetTest, TokenFileRules) {
  auto dir =
      std::filesystem::temp_directory_path() / ("dstc-svc-token-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  auto good = read_token_file(write("good", "  0123456789abcdefXYZ\n"));
  ASSERT_TRUE(good) << good.error().message();
  EXPECT_EQ(*good, "0123456789abcdefXYZ");
  EXPECT_FALSE(read_token_file(write("short", "abc\n")));
  EXPECT_FALSE(read_token_file(write("space", "0123456789 abcdefXYZ\n")));
  EXPECT_FALSE(read_token_file((dir / "missing").string()));
  std::filesystem::remove_all(dir);
}

TEST(ServerTest, RunHappyPath) {
  auto server = start_server(loopback_options());
  ASSERT_TRUE(server);
  httplib::Client cli(server->url());
  auto r = cli.Post("/v1/run", R"({"id": "a1", "program": "print(1)\n"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  Json v = body_json(r);
  EXPECT_EQ(v["id"], "a1");
  EXPECT_EQ(v["status"], "passed");
  EXPECT_EQ(v["stdout"], "print(1)\n");
  for (const char* key :
       {"stderr", "stdout_truncated", "stderr_truncated", "wall_ms", "cpu_ms", "peak_rss_kb",
        "exit_code", "signal", "error_type", "error_message", "reason"}) {
    EXPECT_TRUE(v.contains(key)) << key;
  }
  auto h = cli.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(body_json(h)["status"], "ok");
}

TEST(ServerTest, BatchKeepsOrder) {
  auto o = loopback_options();
  o.max_queue = 32;  // a batch must fit in workers + max_queue
  auto server = start_server(o);
  ASSERT_TRUE(server);
  Json jobs = Json::array();
  for (int i = 0; i < 20; ++i) jobs.push_back({{"id", i}, {"program", "p" + std::to_string(i)}});
  httplib::Client cli(server->url());
  auto r = cli.Post("/v1/batch", Json{{"jobs", jobs}}.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  Json out = body_json(r)["verdicts"];
  ASSERT_EQ(out.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(out[i]["id"], std::to_string(i));
    EXPECT_EQ(out[i]["stdout"], "p" + std::to_string(i));
  }
}

TEST(ServerTest, MetricsMove) {
  auto server = start_server(loopback_options());
  ASSERT_TRUE(server);
  httplib::Client cli(server->url());
  auto before = cli.Get("/metrics");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  EXPECT_NE(before->body.find("dstc_sandbox_verdicts_total{status=\"passed\"} 0"),
            std::string::npos);
  for (int i = 0; i < 3; ++i) cli.Post("/v1/run", job_body("x"), "application/json");
  cli.Post("/v1/run", "{", "application/json");
  // Requests are counted right after their answer is written (maybe on another thread).
  ASSERT_TRUE(eventually([&] {
    return server->metrics().requests("/v1/run", 200) == 3 &&
           server->metrics().requests("/v1/run", 400) == 1 &&
           server->metrics().requests("/metrics", 200) == 1;
  }));
  auto after = cli.Get("/metrics");
  ASSERT_TRUE(after);
  const std::string& m = after->body;
  EXPECT_NE(m.find("dstc_sandbox_http_requests_total{route=\"/v1/run\",code=\"200\"} 3"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("dstc_sandbox_http_requests_total{route=\"/v1/run\",code=\"400\"} 1"),
            std::string::npos);
  EXPECT_NE(m.find("dstc_sandbox_verdicts_total{status=\"passed\"} 3"), std::string::npos);
  EXPECT_NE(m.find("dstc_sandbox_run_seconds_count 3"), std::string::npos);
  EXPECT_NE(m.find("dstc_sandbox_run_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(m.find("dstc_sandbox_queue_depth 0"), std::string::npos);
  EXPECT_NE(m.find("dstc_sandbox_active_workers 0"), std::string::npos);
  EXPECT_NE(m.find("dstc_sandbox_workers 2"), std::string::npos);
  // The first GET was counted once its answer went out, before the second rendered.
  EXPECT_NE(m.find("dstc_sandbox_http_requests_total{route=\"/metrics\",code=\"200\"} 1"),
            std::string::npos);
  EXPECT_TRUE(eventually([&] { return server->metrics().requests("/metrics", 200) == 2; }));
}

TEST(ServerTest, AuthRequiresBearerToken) {
  auto o = loopback_options();
  o.token = kToken;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  httplib::Client cli(server->url());
  auto missing = cli.Post("/v1/run", job_body("x"), "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_NE(body_json(missing)["error"].get<std::string>().find("Authorization"),
            std::string::npos);

  httplib::Headers wrong{{"Authorization", "Bearer " + kToken + "x"}};
  auto w = cli.Post("/v1/run", wrong, job_body("x"), "application/json");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 401);
  httplib::Headers basic{{"Authorization", "Basic " + kToken}};
  auto b = cli.Post("/v1/batch", basic, R"({"jobs": []})", "application/json");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 401);
  auto m = cli.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 401);

  httplib::Headers right{{"Authorization", "Bearer " + kToken}};
  auto ok = cli.Post("/v1/run", right, job_body("x"), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto mh = cli.Get("/metrics", right);
  ASSERT_TRUE(mh);
  EXPECT_EQ(mh->status, 200);
  auto h = cli.Get("/healthz");  // health checks need no token
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(server->metrics().verdicts(VerdictStatus::kPassed), 1);
}

TEST(ServerTest, NonLoopbackWithoutTokenRefused) {
  for (const char* host : {"0.0.0.0", "::", "10.1.2.3", "example.com"}) {
    auto o = loopback_options();
    o.host = host;
    auto s = Server::create(o, echo_verdict);
    ASSERT_FALSE(s) << host;
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message().find("--token-file"), std::string::npos);
  }
  auto o = loopback_options();
  o.host = "0.0.0.0";
  o.token = kToken;
  EXPECT_TRUE(Server::create(o, echo_verdict));  // allowed with a token (not started)
}

TEST(ServerTest, BadRequestsName400Fields) {
  auto o = loopback_options();
  o.max_body_bytes = 4096;
  o.max_batch = 3;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  httplib::Client cli(server->url());
  auto expect_400 = [&](const char* path, const std::string& body, const std::string& needle) {
    auto r = cli.Post(path, body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body;
    std::string msg = body_json(r)["error"];
    EXPECT_NE(msg.find(needle), std::string::npos) << "'" << msg << "' lacks '" << needle << "'";
  };
  expect_400("/v1/run", "{not json", "request body");
  expect_400("/v1/run", "[1, 2]", "object");
  expect_400("/v1/run", R"({"stdin": "x"})", "program");
  expect_400("/v1/run", R"({"program": 5})", "program");
  expect_400("/v1/run", job_body("x", R"(, "timeout": "soon")"), "timeout");
  expect_400("/v1/run", job_body("x", R"(, "timeout": -1)"), "timeout");
  expect_400("/v1/run", job_body("x", R"(, "memory_mb": 1.5)"), "memory_mb");
  expect_400("/v1/run", job_body("x", R"(, "profile": "no-such-profile")"), "profile");
  expect_400("/v1/batch", R"({"job": []})", "jobs");
  expect_400("/v1/batch", R"({"jobs": [{"program": "a"}, {"progam": "b"}]})", "jobs[1]");
  expect_400("/v1/batch", R"({"jobs": [{"program": "a"}, {"program": "b"}, {"program": "c"},
      {"program": "d"}]})",
             "max");
  auto big = cli.Post("/v1/run", job_body(std::string(8192, 'x')), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(body_json(big)["error"].get<std::string>().find("4096"), std::string::npos);
  auto nf = cli.Get("/v2/nothing");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_TRUE(eventually([&] { return server->metrics().requests("other", 404) == 1; }));
  EXPECT_EQ(server->metrics().verdicts(VerdictStatus::kPassed), 0);  // nothing ran
}

TEST(ServerTest, LimitsClampedToMaxima) {
  auto o = loopback_options();
  o.max_timeout_seconds = 5;
  o.max_memory_mb = 256;
  std::mutex mu;
  std::vector<sandbox::Job> seen;
  auto server = start_server(o, [&](const sandbox::Job& job) {
    std::lock_guard lock(mu);
    seen.push_back(job);
    return echo_verdict(job);
  });
  ASSERT_TRUE(server);
  httplib::Client cli(server->url());
  auto r = cli.Post("/v1/run", job_body("x", R"(, "timeout": 1000, "memory_mb": 100000)"),
                    "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Dstc-Clamped"), "timeout=1000>5,memory_mb=100000>256");
  // Profile defaults above the maxima are clamped too ("strict": 10 s, 512 MB).
  auto d = cli.Post("/v1/run", job_body("y"), "application/json");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 200);
  // Values under the maxima pass unchanged.
  auto u =
      cli.Post("/v1/run", job_body("z", R"(, "timeout": 2, "memory_mb": 64)"), "application/json");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->has_header("X-Dstc-Clamped"));
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].timeout_seconds, 5.0);
  EXPECT_EQ(seen[0].memory_mb, 256);
  EXPECT_EQ(seen[1].timeout_seconds, 5.0);
  EXPECT_EQ(seen[1].memory_mb, 256);
  EXPECT_EQ(seen[2].timeout_seconds, 2.0);
  EXPECT_EQ(seen[2].memory_mb, 64);
}

TEST(ServerTest, FullQueueAnswers429WithRetryAfter) {
  auto o = loopback_options();
  o.workers = 1;
  o.max_queue = 1;
  o.retry_after_seconds = 3;
  Gate gate;
  auto server = start_server(o, [&](const sandbox::Job& job) {
    gate.wait();
    return echo_verdict(job);
  });
  ASSERT_TRUE(server);
  std::string url = server->url();
  auto post = [url](std::string program) {
    httplib::Client cli(url);
    cli.set_read_timeout(60, 0);
    auto r = cli.Post("/v1/run", job_body(program), "application/json");
    return r ? r->status : -1;
  };
  auto first = std::async(std::launch::async, post, "a");   // runs (blocked)
  auto second = std::async(std::launch::async, post, "b");  // waits in the queue
  ASSERT_TRUE(eventually(
      [&] { return server->metrics().active_workers == 1 && server->metrics().queue_depth == 1; }));
  httplib::Client cli(url);
  auto full = cli.Post("/v1/run", job_body("c"), "application/json");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 429);
  EXPECT_EQ(full->get_header_value("Retry-After"), "3");
  // A batch that does not fit is refused whole, not half queued.
  auto batch = cli.Post("/v1/batch", R"({"jobs": [{"program": "d"}]})", "application/json");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->status, 429);
  EXPECT_EQ(server->metrics().queue_depth, 1);
  gate.open();
  EXPECT_EQ(first.get(), 200);
  EXPECT_EQ(second.get(), 200);
  auto again = cli.Post("/v1/run", job_body("e"), "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_TRUE(eventually([&] { return server->metrics().requests("/v1/run", 429) == 1; }));
}

TEST(ServerTest, StopFinishesAdmittedJobsAndRefusesNewConnections) {
  auto o = loopback_options();
  o.workers = 1;
  Gate gate;
  auto server = start_server(o, [&](const sandbox::Job& job) {
    gate.wait();
    return echo_verdict(job);
  });
  ASSERT_TRUE(server);
  std::string url = server->url();
  auto post = [url](std::string program) {
    httplib::Client cli(url);
    cli.set_read_timeout(60, 0);
    auto r = cli.Post("/v1/run", job_body(program), "application/json");
    return std::make_pair(r ? r->status : -1, r ? r->body : std::string());
  };
  auto running = std::async(std::launch::async, post, "in-flight");
  auto queued = std::async(std::launch::async, post, "queued");
  ASSERT_TRUE(eventually(
      [&] { return server->metrics().active_workers == 1 && server->metrics().queue_depth == 1; }));
  auto stopper = std::async(std::launch::async, [&] { server->stop(); });
  // Stop closes the listening socket first: new connections are refused...
  ASSERT_TRUE(eventually([&] {
    httplib::Client probe(url);
    probe.set_connection_timeout(1, 0);
    return !probe.Get("/healthz");
  }));
  // ...while admitted jobs still finish and get their answers.
  gate.open();
  auto [code1, body1] = running.get();
  auto [code2, body2] = queued.get();
  EXPECT_EQ(code1, 200);
  EXPECT_EQ(Json::parse(body1)["stdout"], "in-flight");
  EXPECT_EQ(code2, 200);
  EXPECT_EQ(Json::parse(body2)["stdout"], "queued");
  stopper.get();
  EXPECT_EQ(server->metrics().verdicts(VerdictStatus::kPassed), 2);
}

}  // namespace
}  // namespace dstc::sandbox_service
