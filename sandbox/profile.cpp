// The built-in policies as data (DESIGN.md §6). Values follow research/sandbox.md §3:
// memory by cgroup with RLIMIT_AS only where numpy's virtual reservations allow it,
// processes by a pids cap, time from outside.
#include <algorithm>

#include "sandbox/sandbox.h"

namespace dstc::sandbox {
namespace {

std::vector<std::string> base_env() {
  // The whole environment of a run: nothing of the host's is inherited.
  return {"PATH=/usr/local/bin:/usr/bin:/bin",
          "HOME=/tmp",
          "TMPDIR=/tmp",
          "LANG=C.UTF-8",
          "LC_ALL=C.UTF-8",
          "TZ=UTC",
          "PYTHONHASHSEED=0",
          "PYTHONDONTWRITEBYTECODE=1",
          "PYTHONIOENCODING=utf-8",
          "OMP_NUM_THREADS=1",
          "OPENBLAS_NUM_THREADS=1",
          "MKL_NUM_THREADS=1",
          "MPLBACKEND=Agg",
          "TF_CPP_MIN_LOG_LEVEL=3"};
}

Profile strict_profile() {
  Profile p;
  p.name = "strict";
  p.limits.wall_seconds = 10;
  p.limits.cpu_seconds = 10;
  p.limits.memory_mb = 512;
  p.limits.address_space_mb = 1024;
  p.limits.max_processes = 8;  // threads only: fork/exec are denied by seccomp
  p.limits.output_bytes = 1 << 20;
  p.limits.file_size_mb = 16;
  p.limits.tmpfs_mb = 64;
  p.limits.open_files = 128;
  p.allow_fork = false;
  p.allow_exec = false;
  p.allow_sockets = false;
  // Modules self-generated tests and HumanEval/MBPP programs import; importing them once
  // in the zygote makes every run's import a dictionary lookup.
  p.preload = {"math",      "re",         "string",   "collections", "itertools",
               "functools", "heapq",      "bisect",   "typing",      "random",
               "hashlib",   "json",       "copy",     "operator",    "fractions",
               "decimal",   "statistics", "datetime", "unittest",    "traceback",
               "threading", "io",         "textwrap", "sys",         "os"};
  p.env = base_env();
  return p;
}

Profile bigcodebench_profile() {
  Profile p;
  p.name = "bigcodebench";
  p.limits.wall_seconds = 30;
  p.limits.cpu_seconds = 60;
  p.limits.memory_mb = 4096;
  p.limits.address_space_mb = 0;  // numpy/BLAS reserve large virtual areas
  p.limits.max_processes = 128;
  p.limits.output_bytes = 1 << 20;
  p.limits.file_size_mb = 256;
  p.limits.tmpfs_mb = 512;
  p.limits.open_files = 1024;
  p.allow_fork = true;
  p.allow_exec = true;
  p.allow_sockets = true;  // loopback only: the run's network namespace has nothing else
  p.preload = strict_profile().preload;
  for (const char* m : {"numpy", "pandas", "subprocess", "multiprocessing", "multiprocessing.pool",
                        "socket", "http.server", "urllib.request", "sqlite3", "csv", "shutil",
                        "tempfile", "glob", "pathlib"}) {
    p.preload.push_back(m);
  }
  p.env = base_env();
  return p;
}

}  // namespace

std::vector<std::string> builtin_profile_names() { return {"strict", "bigcodebench"}; }

Result<Profile> builtin_profile(std::string_view name) {
  if (name == "strict") return strict_profile();
  if (name == "bigcodebench") return bigcodebench_profile();
  return fail(ErrorCode::kInvalidArgument,
              "unknown sandbox profile '" + std::string(name) + "' (use strict or bigcodebench)");
}

Json profile_to_json(const Profile& p) {
  const Limits& l = p.limits;
  return Json{{"name", p.name},
              {"wall_seconds", l.wall_seconds},
              {"cpu_seconds", l.cpu_seconds},
              {"memory_mb", l.memory_mb},
              {"address_space_mb", l.address_space_mb},
              {"max_processes", l.max_processes},
              {"output_bytes", l.output_bytes},
              {"file_size_mb", l.file_size_mb},
              {"tmpfs_mb", l.tmpfs_mb},
              {"open_files", l.open_files},
              {"allow_fork", p.allow_fork},
              {"allow_exec", p.allow_exec},
              {"allow_sockets", p.allow_sockets},
              {"preload", p.preload},
              {"env", p.env}};
}

}  // namespace dstc::sandbox
