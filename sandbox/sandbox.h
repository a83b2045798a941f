// Isolated, fast execution of untrusted Python programs (DESIGN.md §6, issue 3).
//
// A Sandbox owns one pre-initialised zygote per profile: a helper process that embeds
// CPython, imports the profile's modules once, and forks for every run. Each run gets
// fresh pid/net/mount/ipc/uts namespaces, an unprivileged uid, a seccomp filter, rlimits,
// cgroup memory/pids limits, a fresh size-limited working directory and /tmp, an empty
// environment, stdin from the job (or /dev/null) and a new session. Time is enforced from
// outside with SIGKILL, and killing the run's pid-namespace init kills everything it
// started. Layers the host does not permit are listed by `layers()` and logged loudly.
//
//   DSTC_TRY(auto sandbox, Sandbox::create());
//   Verdict v = sandbox->run({.program = "assert 1 + 1 == 2\n"});
//   // v.status == Status::kPassed
//
// `passed` is decided by the embedded driver after the program's module code returned
// without an uncaught exception, and reported over a pipe with a per-run nonce the
// program never sees at the Python level: os._exit(0), sys.exit(0), printed markers or a
// patched unittest never produce it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace dstc::sandbox {

// The outcome of one run. (Inside namespace dstc::sandbox this name hides dstc::Status;
// write ::dstc::Status there for the error-carrying type.)
enum class Status {
  kPassed,        // the program's code ran to its end without an uncaught exception
  kFailed,        // AssertionError escaped
  kError,         // another exception escaped, or the program exited before its end
  kTimeout,       // wall-clock or CPU limit reached; killed with SIGKILL
  kMemory,        // memory limit (cgroup OOM kill or MemoryError)
  kOutputLimit,   // stdout/stderr went past the output limit
  kKilled,        // a signal ended the program (SIGSEGV, SIGABRT, SIGXFSZ, ...)
  kSandboxError,  // our fault: the sandbox could not run the job (reason says why)
};

std::string_view status_name(Status s);  // "passed", "failed", ..., "sandbox_error"
Result<Status> status_from_name(std::string_view name);

// Resource limits of one run. Zero means "the profile's value" when used as an override.
struct Limits {
  double wall_seconds = 10.0;      // from outside, SIGKILL
  double cpu_seconds = 10.0;       // summed over threads and children (cgroup/rusage)
  int64_t memory_mb = 512;         // cgroup memory limit of the whole run (OOM kill → memory)
  int64_t address_space_mb = 0;    // RLIMIT_AS per process; 0 = no RLIMIT_AS
  int64_t max_processes = 1;       // pids cap (processes + threads) of the run
  int64_t output_bytes = 1 << 20;  // captured bytes per stream; more → output_limit
  int64_t file_size_mb = 16;       // RLIMIT_FSIZE
  int64_t tmpfs_mb = 64;           // size of the run's working directory and of /tmp
  int64_t open_files = 256;        // RLIMIT_NOFILE
};

// A policy, as data. Built-ins: "strict" (self-generated tests: no fork/exec, no sockets,
// small memory) and "bigcodebench" (threads, subprocess and multiprocessing under a pids
// cap, loopback sockets, larger memory, the libraries BigCodeBench imports preloaded).
struct Profile {
  std::string name;
  Limits limits;
  bool allow_fork = false;           // clone/fork/vfork (threads are always allowed)
  bool allow_exec = false;           // execve/execveat
  bool allow_sockets = false;        // AF_UNIX and AF_INET/AF_INET6 (loopback-only netns)
  std::vector<std::string> preload;  // modules the zygote imports once
  std::vector<std::string> env;      // the whole environment of a run, "KEY=VALUE"
};

Result<Profile> builtin_profile(std::string_view name);
std::vector<std::string> builtin_profile_names();
Json profile_to_json(const Profile& p);

// One program to run. The source travels over a pipe, never argv, so any size works.
struct Job {
  std::string id;          // opaque; copied into the verdict
  std::string program;     // Python source
  std::string stdin_data;  // empty = stdin is /dev/null
  std::string profile = "strict";
  std::optional<double> timeout_seconds;  // overrides wall and CPU limit
  std::optional<int64_t> memory_mb;       // overrides the memory limit
};

struct Verdict {
  std::string id;
  Status status = Status::kSandboxError;
  std::string stdout_text;  // captured bytes, at most output_bytes (raw, may be non-UTF-8)
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::string error_type;     // exception type for failed/error ("AssertionError", "SystemExit")
  std::string error_message;  // tail of the exception message / traceback
  std::string reason;         // why: limit hit, signal name, sandbox_error cause
  int exit_code = -1;         // of the program process; -1 if killed by a signal
  int signal = 0;             // terminating signal, 0 if none
  int64_t wall_ms = 0;
  int64_t cpu_ms = 0;
  int64_t peak_rss_kb = 0;
};

// The exact JSON forms the CLI, the HTTP service and the evaluation harness use.
// Verdict: {"status","stdout","stderr","stdout_truncated","stderr_truncated","wall_ms",
//   "cpu_ms","peak_rss_kb","exit_code","signal","error_type","error_message","reason"}
//   plus "id" when non-empty. Non-UTF-8 bytes in output are replaced by U+FFFD.
// Job: {"id"?, "program", "stdin"?, "profile"?, "timeout"?, "memory_mb"?}
Json verdict_to_json(const Verdict& v);
Result<Verdict> verdict_from_json(const Json& j);
Json job_to_json(const Job& job);
Result<Job> job_from_json(const Json& j);

// One isolation layer and whether it is active on this host.
struct Layer {
  std::string name;  // "pid namespace", "seccomp", "cgroup memory", ...
  bool active = false;
  std::string detail;  // what is enforced, or why it is missing
};

struct SandboxOptions {
  // Must exist; the helper embeds and execs this interpreter (/usr/bin/python3 only, for
  // now: the embedded libpython is the system one).
  std::string python = "/usr/bin/python3";
  // The helper executable (dstc-sandbox-zygote). Empty: $DSTC_SANDBOX_HELPER, then next
  // to the running executable, then the path it was built at.
  std::string helper;
  bool use_zygote = true;              // false: every run execs a fresh `python -I` (fallback)
  std::string cgroup_parent = "dstc";  // under /sys/fs/cgroup/{memory,pids}/
  uint32_t uid_base = 61000;           // run uid = uid_base + slot when started as root
  size_t max_slots = 64;               // concurrent runs per Sandbox (each has its uid/cgroup)
};

class Sandbox {
 public:
  // Starts nothing yet; zygotes start on first use of a profile. Fails when the helper
  // cannot be found or the host offers no way to run Python at all.
  static Result<std::unique_ptr<Sandbox>> create(SandboxOptions options = {});
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Runs one job. Thread-safe; never throws; problems of ours become kSandboxError.
  Verdict run(const Job& job);

  // Runs jobs on `parallel` threads (0 = all cores); verdicts in input order.
  // `on_done(i)` is called (from worker threads) after job i finished.
  std::vector<Verdict> run_batch(const std::vector<Job>& jobs, size_t parallel = 0,
                                 const std::function<void(size_t)>& on_done = {});

  // The isolation layers of `profile`'s zygote, as detected at its start (starts it).
  Result<std::vector<Layer>> layers(const std::string& profile = "strict");

  const SandboxOptions& options() const;

  struct Impl;

 private:
  explicit Sandbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `dstc sandbox doctor`: the layers detected at start-up, each confirmed by probe
// programs run inside the sandbox (a layer whose probe disagrees is reported inactive).
Result<std::vector<Layer>> doctor(Sandbox& sandbox);

}  // namespace dstc::sandbox
