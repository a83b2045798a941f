// Shared fixture for the sandbox tests: one Sandbox per test process, with a uid range of
// its own so concurrent test processes never see each other's runs.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "sandbox/sandbox.h"

namespace dstc::sandbox::testing {

inline uint32_t test_uid_base() { return 70000 + static_cast<uint32_t>(getpid() % 4000) * 64; }

inline Sandbox& shared_sandbox() {
  static std::unique_ptr<Sandbox> sb = [] {
    SandboxOptions o;
    o.uid_base = test_uid_base();
    o.max_slots = 8;
    auto r = Sandbox::create(o);
    if (!r) {
      ADD_FAILURE() << r.error().message();
      std::abort();
    }
    return std::move(*r);
  }();
  return *sb;
}

inline Verdict run(const std::string& program, const std::string& profile = "strict",
                   std::optional<double> timeout = std::nullopt,
                   std::optional<int64_t> memory_mb = std::nullopt) {
  Job job;
  job.program = program;
  job.profile = profile;
  job.timeout_seconds = timeout;
  job.memory_mb = memory_mb;
  return shared_sandbox().run(job);
}

// Processes owned by this test process's run uids (none may survive a run).
inline int leftover_processes() {
  int count = 0;
  const uint32_t lo = test_uid_base(), hi = lo + 64;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        std::istringstream f(line.substr(4));
        uint32_t uid;
        f >> uid;
        if (uid >= lo && uid < hi) ++count;
        break;
      }
    }
  }
  closedir(d);
  return count;
}

inline bool is_root() { return geteuid() == 0; }

// The host is intact: no process of the run left, the canary untouched, and the
// sandbox still answers.
inline void expect_host_intact() {
  EXPECT_EQ(leftover_processes(), 0);
  // A file on the host the runs must not be able to change; removed at exit.
  struct Canary {
    std::string path = "/tmp/dstc-sandbox-canary-" + std::to_string(getpid());
    Canary() { std::ofstream(path) << "canary"; }
    ~Canary() { unlink(path.c_str()); }
  };
  static const Canary canary_file;
  const std::string& canary = canary_file.path;
  std::ifstream in(canary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "canary");
  Verdict v = run("assert sum(range(10)) == 45\n");
  EXPECT_EQ(v.status, Status::kPassed) << v.reason << v.stderr_text;
}

// Tests that need the isolation layers (root). One fixture shared by every file.
class SandboxIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "isolation tests need root (CI runs them as root)";
  }
};

#define EXPECT_VERDICT(v, want)                                                            \
  EXPECT_EQ((v).status, (want)) << "got " << status_name((v).status) << ": " << (v).reason \
                                << " | " << (v).error_type << ": " << (v).error_message    \
                                << "\nstderr: " << (v).stderr_text.substr(0, 2000)

}  // namespace dstc::sandbox::testing
