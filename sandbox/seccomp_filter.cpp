// Follows the hardening list of research/sandbox.md §3.5 (nsjail / bubblewrap / isolate):
// deny what can escape or observe other runs, ENOSYS for clone3 so glibc falls back to
// clone (whose flags seccomp can inspect), MASKED_EQ for ioctl numbers (CVE-2019-10063).
#include "sandbox/seccomp_filter.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dstc::sandbox::detail {
namespace {

struct Ctx {
  scmp_filter_ctx ctx;
  std::string* error;
  bool ok = true;
  void rule(uint32_t action, const char* name, std::vector<scmp_arg_cmp> args = {}) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;  // not a syscall on this architecture
    int rc = seccomp_rule_add_array(ctx, action, nr, args.size(), args.data());
    if (rc != 0 && ok) {
      ok = false;
      *error = std::string("seccomp rule for ") + name + ": " + std::strerror(-rc);
    }
  }
};

}  // namespace

std::vector<sock_filter> build_filter(const FilterSpec& spec, std::string* error) {
  Ctx c{seccomp_init(SCMP_ACT_ALLOW), error};
  if (!c.ctx) {
    *error = "seccomp_init failed";
    return {};
  }
  // Only the native ABI is in the filter; everything else is a bad architecture.
  seccomp_attr_set(c.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);

  for (const char* name : {"ptrace",
                           "process_vm_readv",
                           "process_vm_writev",
                           "kcmp",
                           "pidfd_getfd",
                           "bpf",
                           "perf_event_open",
                           "userfaultfd",
                           "keyctl",
                           "add_key",
                           "request_key",
                           "kexec_load",
                           "kexec_file_load",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "open_by_handle_at",
                           "name_to_handle_at",
                           "swapon",
                           "swapoff",
                           "reboot",
                           "acct",
                           "quotactl",
                           "quotactl_fd",
                           "mount",
                           "umount2",
                           "pivot_root",
                           "chroot",
                           "unshare",
                           "setns",
                           "fsopen",
                           "fsmount",
                           "fsconfig",
                           "fspick",
                           "open_tree",
                           "move_mount",
                           "mount_setattr",
                           "io_uring_setup",
                           "io_uring_enter",
                           "io_uring_register",
                           "modify_ldt",
                           "iopl",
                           "ioperm",
                           "syslog",
                           "uselib",
                           "vhangup",
                           "lookup_dcookie",
                           "fanotify_init",
                           "settimeofday",
                           "clock_settime",
                           "clock_adjtime",
                           "adjtimex",
                           "sethostname",
                           "setdomainname",
                           "nfsservctl",
                           "_sysctl",
                           "ustat",
                           "sysfs",
                           "create_module",
                           "get_kernel_syms",
                           "query_module",
                           "mbind",
                           "migrate_pages",
                           "move_pages",
                           "set_mempolicy",
                           "vmsplice",
                           "memfd_secret"}) {
    c.rule(eperm, name);
  }
  // clone3 keeps its flags in memory where seccomp cannot look: make glibc use clone.
  c.rule(SCMP_ACT_ERRNO(ENOSYS), "clone3");
  // New namespaces through clone's flags (arg 0 on x86-64).
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                        CLONE_NEWNET, CLONE_NEWCGROUP}) {
    c.rule(eperm, "clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)});
  }
  if (!spec.allow_fork) {
    // Threads (CLONE_THREAD) stay allowed; new processes do not.
    c.rule(eperm, "clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)});
    c.rule(eperm, "fork");
    c.rule(eperm, "vfork");
  }
  if (!spec.allow_exec) {
    if (spec.exec_path_pointer != 0) {
      c.rule(eperm, "execve", {SCMP_A0(SCMP_CMP_NE, spec.exec_path_pointer)});
    } else {
      c.rule(eperm, "execve");
    }
    c.rule(eperm, "execveat");
  }
  // Terminal injection (CVE-2017-5226, CVE-2019-10063): compare the low 32 bits only.
  c.rule(eperm, "ioctl", {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, TIOCSTI)});
  c.rule(eperm, "ioctl", {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, TIOCLINUX)});
  // personality: queries only (the "read implies exec" persona and friends are denied).
  c.rule(eperm, "personality", {SCMP_A0(SCMP_CMP_NE, 0xFFFFFFFFu)});
  // Device nodes.
  c.rule(eperm, "mknod", {SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, S_IFCHR)});
  c.rule(eperm, "mknod", {SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, S_IFBLK)});
  c.rule(eperm, "mknodat", {SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, S_IFCHR)});
  c.rule(eperm, "mknodat", {SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, S_IFBLK)});
  if (spec.deny_file_locks) {
    c.rule(eperm, "flock");
    for (int cmd : {F_SETLK, F_SETLKW, F_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_OFD_GETLK, F_SETLEASE,
                    F_NOTIFY}) {
      c.rule(eperm, "fcntl", {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, (uint64_t)cmd)});
    }
  }
  if (!spec.allow_sockets) {
    c.rule(eperm, "socket");
    c.rule(eperm, "socketpair");
  } else {
    // Families: unix, inet, inet6 and netlink-route (glibc's getaddrinfo uses it).
    for (uint64_t family = 0; family < 64; ++family) {
      if (family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK) {
        continue;
      }
      c.rule(eperm, "socket", {SCMP_A0(SCMP_CMP_EQ, family)});
    }
    c.rule(eperm, "socket", {SCMP_A0(SCMP_CMP_GE, 64)});
    c.rule(eperm, "socket", {SCMP_A0(SCMP_CMP_EQ, AF_NETLINK), SCMP_A2(SCMP_CMP_NE, 0)});
  }
  if (!c.ok) {
    seccomp_release(c.ctx);
    return {};
  }

  // Export the compiled program through a memfd and read it back.
  int fd = memfd_create("dstc-seccomp", MFD_CLOEXEC);
  std::vector<sock_filter> program;
  if (fd < 0) {
    *error = std::string("memfd_create: ") + std::strerror(errno);
  } else if (int rc = seccomp_export_bpf(c.ctx, fd); rc != 0) {
    *error = std::string("seccomp_export_bpf: ") + std::strerror(-rc);
  } else {
    off_t size = lseek(fd, 0, SEEK_END);
    program.resize(size / sizeof(sock_filter));
    if (pread(fd, program.data(), size, 0) != size) {
      *error = "reading the exported seccomp program failed";
      program.clear();
    }
  }
  if (fd >= 0) close(fd);
  seccomp_release(c.ctx);
  return program;
}

}  // namespace dstc::sandbox::detail
