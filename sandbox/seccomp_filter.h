// The run's seccomp policy, compiled once per zygote with libseccomp and exported as a
// classic BPF program so each run installs it with one prctl. Internal to sandbox/.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dstc::sandbox::detail {

struct FilterSpec {
  bool allow_fork = false;
  bool allow_exec = false;
  bool allow_sockets = false;
  bool deny_file_locks = false;  // flock/fcntl locks: a covert channel on shared inodes
  // Exec path with a profile that denies exec: allow execve only with this exact
  // filename pointer (the helper's own copy of the interpreter path).
  uint64_t exec_path_pointer = 0;
};

// Deny-list on top of default-allow, for the native ABI only; any other ABI (i386
// `int 0x80`, x32) kills the process. Returns an empty program and sets *error on failure.
std::vector<sock_filter> build_filter(const FilterSpec& spec, std::string* error);

}  // namespace dstc::sandbox::detail
