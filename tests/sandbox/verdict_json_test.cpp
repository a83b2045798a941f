#include <gtest/gtest.h>

#include "sandbox/sandbox.h"

namespace dstc::sandbox {
namespace {

TEST(SandboxJson, StatusNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(Status::kSandboxError); ++i) {
    auto s = static_cast<Status>(i);
    auto back = status_from_name(status_name(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(status_name(Status::kOutputLimit), "output_limit");
  EXPECT_EQ(status_name(Status::kSandboxError), "sandbox_error");
  EXPECT_FALSE(status_from_name("PASSED"));
}

TEST(SandboxJson, VerdictRoundTripAndInvalidUtf8) {
  Verdict v;
  v.id = "HumanEval/0#3";
  v.status = Status::kFailed;
  v.stdout_text = std::string("ok\xff\xfe\0\x1b[31m\r", 9);
  v.stderr_text = "AssertionError";
  v.stdout_truncated = true;
  v.wall_ms = 12;
  v.cpu_ms = 7;
  v.peak_rss_kb = 9000;
  v.error_type = "AssertionError";
  Json j = verdict_to_json(v);
  std::string text = j.dump();  // must not throw on the invalid bytes
  auto parsed = parse_json(text, "verdict");
  ASSERT_TRUE(parsed);
  EXPECT_EQ((*parsed)["status"], "failed");
  EXPECT_EQ((*parsed)["id"], "HumanEval/0#3");
  EXPECT_EQ((*parsed)["stdout"], std::string("ok\xEF\xBF\xBD\xEF\xBF\xBD\0\x1b[31m\r", 13));
  auto back = verdict_from_json(*parsed);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, Status::kFailed);
  EXPECT_TRUE(back->stdout_truncated);
  EXPECT_EQ(back->peak_rss_kb, 9000);
  for (const char* key :
       {"status", "stdout", "stderr", "stdout_truncated", "wall_ms", "cpu_ms", "peak_rss_kb"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
}

TEST(SandboxJson, JobFromJson) {
  auto job = job_from_json(
      Json{{"id", 7}, {"program", "print(1)"}, {"timeout", 2.5}, {"profile", "bigcodebench"}});
  ASSERT_TRUE(job) << job.error().message();
  EXPECT_EQ(job->id, "7");
  EXPECT_EQ(job->profile, "bigcodebench");
  ASSERT_TRUE(job->timeout_seconds);
  EXPECT_DOUBLE_EQ(*job->timeout_seconds, 2.5);
  auto back = job_from_json(job_to_json(*job));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->program, "print(1)");

  auto missing = job_from_json(Json{{"id", "a"}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("program"), std::string::npos);
  EXPECT_FALSE(job_from_json(Json{{"program", "x"}, {"profile", "lenient"}}));
  EXPECT_FALSE(job_from_json(Json{{"program", "x"}, {"timeout", -1}}));
}

TEST(SandboxJson, BuiltinProfiles) {
  auto strict = builtin_profile("strict");
  auto bcb = builtin_profile("bigcodebench");
  ASSERT_TRUE(strict && bcb);
  EXPECT_FALSE(strict->allow_fork);
  EXPECT_FALSE(strict->allow_sockets);
  EXPECT_TRUE(bcb->allow_fork && bcb->allow_exec && bcb->allow_sockets);
  EXPECT_GT(bcb->limits.memory_mb, strict->limits.memory_mb);
  EXPECT_FALSE(builtin_profile("none"));
}

}  // namespace
}  // namespace dstc::sandbox
