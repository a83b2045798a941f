// Shared helpers of the sandbox service tests: fake executors, a gate, process census.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "sandbox/sandbox.h"
#include "sandbox_service/metrics.h"
#include "sandbox_service/server.h"

namespace dstc::sandbox_service::testing {

// Echo executor: "passed" with the program as stdout; the job id copied.
inline sandbox::Verdict echo_verdict(const sandbox::Job& job) {
  sandbox::Verdict v;
  v.id = job.id;
  v.status = VerdictStatus::kPassed;
  v.stdout_text = job.program;
  v.exit_code = 0;
  return v;
}

// Blocks every job until open() is called.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Polls `pred` every 5 ms for up to 30 s; a condition that never comes true fails
// the caller's assertion on the returned value, never a timing assertion.
template <typename Pred>
bool eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

inline size_t open_fd_count() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Pids of every live descendant of this process.
inline std::set<int> descendants() {
  std::map<int, int> parent;
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream f(e.path() / "stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    // pid (comm) state ppid ...; comm may hold spaces and parentheses.
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state;
    int ppid;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (state == 'Z' || state == 'X') continue;  // reaped soon; not a leak by itself
    parent[std::stoi(name)] = ppid;
  }
  std::set<int> out;
  bool grew = true;
  int self = getpid();
  while (grew) {
    grew = false;
    for (auto& [pid, pp] : parent) {
      if ((pp == self || out.count(pp)) && !out.count(pid)) {
        out.insert(pid);
        grew = true;
      }
    }
  }
  return out;
}

// Directories the sandbox may create per run: /tmp/dstc-run-* (hosts without a mount
// namespace) and cgroup directories under its zygotes' cgroups.
inline size_t sandbox_dir_count(const std::set<int>& pids) {
  size_t n = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator("/tmp", ec)) {
    if (e.path().filename().string().rfind("dstc-run-", 0) == 0) ++n;
  }
  for (const char* controller : {"memory", "pids"}) {
    for (int pid : pids) {
      std::filesystem::path dir = std::filesystem::path("/sys/fs/cgroup") / controller / "dstc" /
                                  ("z" + std::to_string(pid));
      if (!std::filesystem::exists(dir, ec)) continue;
      for (auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
        if (e.is_directory(ec)) ++n;
      }
    }
  }
  return n;
}

}  // namespace dstc::sandbox_service::testing
