// RemoteExecutor against in-process servers with fake executors: spreading, order,
// retries on 429 and on dead servers, and non-retried errors.
#include "sandbox_service/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "sandbox_service/server.h"
#include "service_test_util.h"

namespace dstc::sandbox_service {
namespace {

using testing::echo_verdict;
using testing::eventually;
using testing::Gate;

std::unique_ptr<Server> start(ServerOptions o, Executor exec) {
  o.port = 0;
  auto s = Server::create(std::move(o), std::move(exec));
  EXPECT_TRUE(s) << s.error().message();
  if (!s || !(*s)->start()) return nullptr;
  return std::move(*s);
}

std::vector<sandbox::Job> numbered_jobs(int n) {
  std::vector<sandbox::Job> jobs(n);
  for (int i = 0; i < n; ++i) {
    jobs[i].id = "j" + std::to_string(i);
    jobs[i].program = "program " + std::to_string(i);
  }
  return jobs;
}

// A port nobody listens on: bind an ephemeral port, then close it.
int dead_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(ClientTest, ParsesServerLists) {
  auto l = parse_server_list("http://a:1,https://b:2/");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, (std::vector<std::string>{"http://a:1", "https://b:2"}));
  EXPECT_FALSE(parse_server_list(""));
  EXPECT_FALSE(parse_server_list("a:1"));
  EXPECT_FALSE(parse_server_list("http://a:1/v1/run"));
  EXPECT_FALSE(parse_server_list("ftp://a:1"));
  EXPECT_FALSE(RemoteExecutor::create({}));
}

TEST(ClientTest, SpreadsOverServersAndKeepsOrder) {
  ServerOptions o;
  o.workers = 2;
  auto a = start(o, echo_verdict);
  auto b = start(o, echo_verdict);
  ASSERT_TRUE(a && b);
  for (size_t per : {size_t{1}, size_t{4}}) {
    RemoteOptions ro;
    ro.servers = {a->url(), b->url()};
    ro.jobs_per_request = per;
    auto remote = RemoteExecutor::create(ro);
    ASSERT_TRUE(remote);
    auto jobs = numbered_jobs(37);
    std::atomic<int> done{0};
    auto verdicts = (*remote)->run_batch(jobs, 4, [&](size_t) { ++done; });
    ASSERT_EQ(verdicts.size(), jobs.size());
    EXPECT_EQ(done, 37);
    for (size_t i = 0; i < jobs.size(); ++i) {
      EXPECT_EQ(verdicts[i].id, jobs[i].id);
      EXPECT_EQ(verdicts[i].status, VerdictStatus::kPassed);
      EXPECT_EQ(verdicts[i].stdout_text, jobs[i].program);
    }
    EXPECT_EQ((*remote)->stats().retries, 0);
  }
  // Both servers took work, through both routes.
  EXPECT_TRUE(eventually([&] {
    return a->metrics().requests("/v1/run", 200) > 0 && b->metrics().requests("/v1/run", 200) > 0 &&
           a->metrics().requests("/v1/batch", 200) > 0 &&
           b->metrics().requests("/v1/batch", 200) > 0;
  }));
  EXPECT_EQ(
      a->metrics().verdicts(VerdictStatus::kPassed) + b->metrics().verdicts(VerdictStatus::kPassed),
      74);
}

TEST(ClientTest, RetriesOnConnectionErrors) {
  ServerOptions o;
  o.workers = 1;
  auto live = start(o, echo_verdict);
  ASSERT_TRUE(live);
  RemoteOptions ro;
  ro.servers = {"http://127.0.0.1:" + std::to_string(dead_port()), live->url()};
  ro.backoff_initial_seconds = 0.001;
  auto remote = RemoteExecutor::create(ro);
  ASSERT_TRUE(remote);
  auto jobs = numbered_jobs(6);
  auto verdicts = (*remote)->run_batch(jobs, 2);
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(verdicts[i].status, VerdictStatus::kPassed) << verdicts[i].reason;
    EXPECT_EQ(verdicts[i].id, jobs[i].id);
  }
  EXPECT_GT((*remote)->stats().retries, 0);
  EXPECT_EQ(live->metrics().verdicts(VerdictStatus::kPassed), 6);
}

TEST(ClientTest, RetriesOn429) {
  ServerOptions o;
  o.workers = 1;
  o.max_queue = 0;
  o.retry_after_seconds = 0;
  Gate gate;
  auto server = start(o, [&](const sandbox::Job& job) {
    gate.wait();
    return echo_verdict(job);
  });
  ASSERT_TRUE(server);
  // Open the gate only once the server has refused someone.
  std::thread opener([&] {
    eventually([&] { return server->metrics().requests("/v1/run", 429) > 0; });
    gate.open();
  });
  RemoteOptions ro;
  ro.servers = {server->url()};
  ro.backoff_initial_seconds = 0.001;
  ro.backoff_max_seconds = 0.01;
  ro.max_attempts = 1000;
  auto remote = RemoteExecutor::create(ro);
  ASSERT_TRUE(remote);
  auto jobs = numbered_jobs(4);
  auto verdicts = (*remote)->run_batch(jobs, 4);
  opener.join();
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(verdicts[i].status, VerdictStatus::kPassed) << verdicts[i].reason;
  }
  EXPECT_GT(server->metrics().requests("/v1/run", 429), 0);
  EXPECT_GT((*remote)->stats().retries, 0);
}

TEST(ClientTest, BadJobBecomesSandboxErrorWithoutRetry) {
  ServerOptions o;
  o.workers = 1;
  auto server = start(o, echo_verdict);
  ASSERT_TRUE(server);
  RemoteOptions ro;
  ro.servers = {server->url()};
  ro.token = "not-needed-but-harmless";
  auto remote = RemoteExecutor::create(ro);
  ASSERT_TRUE(remote);
  sandbox::Job job;
  job.id = "bad";
  job.program = "x";
  job.profile = "no-such-profile";
  auto v = (*remote)->run(job);
  EXPECT_EQ(v.status, VerdictStatus::kSandboxError);
  EXPECT_EQ(v.id, "bad");
  EXPECT_NE(v.reason.find("400"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("profile"), std::string::npos) << v.reason;
  EXPECT_EQ((*remote)->stats().retries, 0);
  EXPECT_EQ((*remote)->stats().failed, 1);
}

TEST(ClientTest, WrongTokenIsNotRetried) {
  ServerOptions o;
  o.workers = 1;
  o.token = "the-right-token-0123456789";
  auto server = start(o, echo_verdict);
  ASSERT_TRUE(server);
  RemoteOptions ro;
  ro.servers = {server->url()};
  ro.token = "a-wrong-token-0123456789";
  auto remote = RemoteExecutor::create(ro);
  ASSERT_TRUE(remote);
  auto v = (*remote)->run(numbered_jobs(1)[0]);
  EXPECT_EQ(v.status, VerdictStatus::kSandboxError);
  EXPECT_NE(v.reason.find("401"), std::string::npos) << v.reason;
  ro.token = o.token;
  auto good = RemoteExecutor::create(ro);
  ASSERT_TRUE(good);
  EXPECT_EQ((*good)->run(numbered_jobs(1)[0]).status, VerdictStatus::kPassed);
}

}  // namespace
}  // namespace dstc::sandbox_service
