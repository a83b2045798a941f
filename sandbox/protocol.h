// Wire format between the host library (sandbox.cpp) and the zygote helper
// (zygote_main.cpp). Internal to sandbox/.
//
// Start-up: the host launches `dstc-sandbox-zygote --control-fd N --profile JSON [--exec]`.
// The zygote answers on the control socket (SOCK_SEQPACKET) with one message: a JSON
// object {"ok": bool, "error": str, "layers": [{"name","active","detail"}]}.
// Per run: the host makes a socketpair (the job channel) and sends one end to the zygote
// over the control socket (one byte + SCM_RIGHTS). The zygote forks a monitor that reads a
// RunRequest (+ program + stdin bytes) from the channel, runs the job and writes a
// RunResponse (+ its byte fields) back; then the channel closes.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace dstc::sandbox::proto {

inline constexpr uint32_t kMagic = 0x44535443;  // "DSTC"

struct RunRequest {
  uint32_t magic = kMagic;
  uint32_t slot = 0;  // selects the run's uid and cgroup
  uint64_t program_len = 0;
  uint64_t stdin_len = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  int64_t memory_mb = 0;
  int64_t address_space_mb = 0;
  int64_t max_processes = 0;
  int64_t output_bytes = 0;
  int64_t file_size_mb = 0;
  int64_t tmpfs_mb = 0;
  int64_t open_files = 0;
};

struct RunResponse {
  uint32_t magic = kMagic;
  int32_t status = 0;  // sandbox::Status as int
  int32_t exit_code = -1;
  int32_t signal = 0;
  int64_t wall_us = 0;
  int64_t cpu_us = 0;
  int64_t peak_rss_kb = 0;
  uint8_t stdout_truncated = 0;
  uint8_t stderr_truncated = 0;
  uint8_t pad[6] = {};
  // Byte fields that follow, in this order.
  uint64_t stdout_len = 0;
  uint64_t stderr_len = 0;
  uint64_t error_type_len = 0;
  uint64_t error_message_len = 0;
  uint64_t reason_len = 0;
};

// Reads exactly n bytes from fd, retrying on EINTR; false on EOF or error. Both ends of
// the supervisor <-> zygote channel use it.
inline bool read_exact(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

}  // namespace dstc::sandbox::proto
