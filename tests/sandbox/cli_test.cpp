// The `dstc exec` / `dstc sandbox doctor` contract (issue 3), through the built binary.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "common/json.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace dstc::sandbox::testing {
namespace {

struct Ran {
  int exit_code;
  std::string out;
};

Ran sh(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

class SandboxCliIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(DSTC_BINARY, X_OK) != 0) GTEST_SKIP() << "SKIPPED: " << DSTC_BINARY << " not built";
    if (!is_root()) GTEST_SKIP() << "needs root";
    dir_ = "/tmp/dstc-cli-test-" + std::to_string(getpid());
    mkdir(dir_.c_str(), 0755);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(SandboxCliIntegration, ExecPrintsOneJsonVerdictAndExitsZero) {
  for (auto [src, want] : std::vector<std::pair<std::string, std::string>>{
           {"print('hi')\n", "passed"}, {"assert False\n", "failed"}, {"1/0\n", "error"}}) {
    auto r = sh(std::string(DSTC_BINARY) + " exec " + write("p.py", src) + " 2>/dev/null");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    auto j = parse_json(r.out, "dstc exec output");
    ASSERT_TRUE(j) << r.out;
    EXPECT_EQ((*j)["status"], want);
    for (const char* key :
         {"status", "stdout", "stderr", "stdout_truncated", "wall_ms", "cpu_ms", "peak_rss_kb"}) {
      EXPECT_TRUE(j->contains(key)) << key;
    }
  }
  auto t = sh(std::string(DSTC_BINARY) + " exec " + write("s.py", "import time\ntime.sleep(9)\n") +
              " --timeout 0.5 --memory-mb 300 --profile bigcodebench 2>/dev/null");
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_NE(t.out.find("\"status\":\"timeout\""), std::string::npos) << t.out;
  auto bad =
      sh(std::string(DSTC_BINARY) + " exec " + write("p.py", "") + " --profile nope 2>/dev/null");
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(SandboxCliIntegration, BatchKeepsInputOrderAndIds) {
  std::string jobs;
  for (int i = 0; i < 6; ++i) {
    Json j{{"id", "job" + std::to_string(i)},
           {"program", i % 2 ? "assert False\n"
                             : "import time\ntime.sleep(0.05 * " + std::to_string(6 - i) + ")\n"}};
    if (i == 5) j["timeout"] = 0.5, j["program"] = "while True: pass\n";
    jobs += j.dump() + "\n";
  }
  std::string in = write("jobs.jsonl", jobs), out = dir_ + "/verdicts.jsonl";
  auto r = sh(std::string(DSTC_BINARY) + " exec --batch " + in + " --out " + out +
              " --parallel 3 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  auto text = read_file(out);
  ASSERT_TRUE(text);
  std::vector<Json> lines;
  ASSERT_TRUE(for_each_jsonl(*text, out, [&](size_t, const Json& j) -> ::dstc::Status {
    lines.push_back(j);
    return {};
  }));
  ASSERT_EQ(lines.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(lines[i]["id"], "job" + std::to_string(i));
    EXPECT_EQ(lines[i]["status"], i == 5 ? "timeout" : i % 2 ? "failed" : "passed");
  }
}

TEST_F(SandboxCliIntegration, DoctorListsLayers) {
  auto r = sh(std::string(DSTC_BINARY) + " sandbox doctor 2>/dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  for (const char* layer : {"pid namespace", "network namespace", "seccomp filter", "cgroup memory",
                            "unprivileged uid", "whole-tree kill"}) {
    EXPECT_NE(r.out.find(layer), std::string::npos) << layer;
  }
}

}  // namespace
}  // namespace dstc::sandbox::testing
