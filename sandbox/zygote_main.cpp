// dstc-sandbox-zygote: the helper behind sandbox::Sandbox (protocol.h).
//
// Process tree of one run:
//   zygote Z (root, embedded CPython with the profile's modules imported, own mount
//   namespace whose filesystem is read-only with a minimal /dev)
//    └─ monitor A (forked per job): reads the job, prepares the slot's cgroups, unshares
//       pid/net/mount/ipc/uts namespaces, enforces the wall clock with SIGKILL, drains
//       stdout/stderr, classifies, answers
//        └─ init B (pid 1 of the run): joins the cgroups, mounts the run's tmpfs /tmp,
//           /proc, brings up loopback, reaps orphans; when the program exits it reports
//           the status and exits, and the kernel kills everything left in the namespace
//            └─ program C: stdio pipes, rlimits (soft = hard), unprivileged uid,
//               no_new_privs, seccomp, then runs the source in the forked interpreter and
//               reports completion on fd 3 with the run's nonce.
#include <Python.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox/protocol.h"
#include "sandbox/seccomp_filter.h"

namespace {

using nlohmann::json;
namespace proto = dstc::sandbox::proto;

// Must match sandbox::Status.
enum StatusCode {
  kPassed,
  kFailed,
  kError,
  kTimeout,
  kMemory,
  kOutputLimit,
  kKilled,
  kSandboxError
};

constexpr int kResultFd = 3;  // the program's completion channel
constexpr int kSyncFd = 4;    // setup status of the program process (closed before it runs)
const char kPythonPath[] = "/usr/bin/python3";

struct Config {
  int control_fd = -1;
  bool exec_mode = false;
  std::string cgroup_parent = "dstc";
  uint32_t uid_base = 61000;
  bool allow_fork = false, allow_exec = false, allow_sockets = false;
  std::vector<std::string> preload, env;
  std::string profile_name;
};

struct HostState {
  bool root = false;
  int ns_flags = 0;
  std::string ns_missing;
  bool fs_ready = false;  // read-only root + minimal /dev in the zygote's mount namespace
  std::string fs_detail;
  std::string cg_mem, cg_pids, cg_cpu;  // this zygote's cgroup dirs ("" = unavailable)
  std::string cg_detail_mem, cg_detail_pids, cg_detail_cpu;
  bool memsw = false;
  std::vector<sock_filter> bpf;
  std::string seccomp_detail;
  std::vector<std::string> preload_failures;
  pid_t zygote_pid = 0;
};

Config g_cfg;
HostState g_host;
char g_nonce[33];       // per run, in the program's memory only (never a Python object)
std::string g_workdir;  // without a mount namespace: the run's directory under the host /tmp

// ---------------------------------------------------------------- small helpers

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= w;
  }
  return true;
}

bool write_text(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `fd`: the slot's memory.oom_control, opened before the run (the run's mounts hide it).
int64_t oom_kills(int fd) {
  if (fd < 0) return 0;
  char buf[512];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  std::istringstream in(std::string(buf, n));
  std::string key;
  int64_t value;
  while (in >> key >> value) {
    if (key == "oom_kill") return value;
  }
  return 0;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void die_setup(const std::string& msg) {
  std::string m = "E" + msg;
  (void)!write(kSyncFd, m.data(), m.size());
  _exit(127);
}

// ---------------------------------------------------------------- host detection

void detect_namespaces() {
  struct {
    int flag;
    const char* name;
  } all[] = {{CLONE_NEWPID, "pid"},
             {CLONE_NEWNET, "net"},
             {CLONE_NEWNS, "mount"},
             {CLONE_NEWIPC, "ipc"},
             {CLONE_NEWUTS, "uts"}};
  for (auto& ns : all) {
    pid_t p = fork();
    if (p == 0) _exit(unshare(ns.flag) == 0 ? 0 : 1);
    int st = 0;
    waitpid(p, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      g_host.ns_flags |= ns.flag;
    } else {
      g_host.ns_missing += std::string(ns.name) + " ";
    }
  }
}

int ms_flags_of(const char* path) {
  struct statvfs sv;
  int flags = 0;
  if (statvfs(path, &sv) != 0) return 0;
  if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

// The zygote's own mount namespace: a minimal /dev and every mount read-only, except the
// cgroup controllers (the monitors configure them; each run hides them) and /proc
// (each run mounts its own).
void setup_filesystem() {
  if (!(g_host.ns_flags & CLONE_NEWNS)) {
    g_host.fs_detail = "no mount namespace: the host filesystem is visible as is";
    return;
  }
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
    g_host.fs_detail = errno_text("unshare(CLONE_NEWNS) in the zygote");
    return;
  }
  if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755") != 0) {
    g_host.fs_detail = errno_text("mount tmpfs /dev");
    return;
  }
  struct {
    const char* name;
    int minor;
  } nodes[] = {{"/dev/null", 3},
               {"/dev/zero", 5},
               {"/dev/full", 7},
               {"/dev/random", 8},
               {"/dev/urandom", 9}};
  for (auto& n : nodes) {
    if (mknod(n.name, S_IFCHR | 0666, makedev(1, n.minor)) != 0 || chmod(n.name, 0666) != 0) {
      g_host.fs_detail = errno_text(std::string("mknod ") + n.name);
      return;
    }
  }
  mkdir("/dev/shm", 01777);
  mkdir("/dev/pts", 0755);
  (void)!symlink("/proc/self/fd", "/dev/fd");
  (void)!symlink("/proc/self/fd/0", "/dev/stdin");
  (void)!symlink("/proc/self/fd/1", "/dev/stdout");
  (void)!symlink("/proc/self/fd/2", "/dev/stderr");

  // Remount every mount read-only, deepest first is not needed for bind remounts.
  std::istringstream info(read_text("/proc/self/mountinfo"));
  std::string line;
  std::vector<std::string> points;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    points.push_back(point);
  }
  int failures = 0;
  std::string first_failure;
  for (const auto& point : points) {
    if (point == "/proc" || point.rfind("/proc/", 0) == 0) continue;
    if (point.rfind("/sys/fs/cgroup/", 0) == 0) continue;
    if (point.rfind("/dev/", 0) == 0) continue;  // hidden under the new /dev
    int flags = ms_flags_of(point.c_str()) | MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID;
    if (point != "/dev") flags |= MS_NODEV;
    if (mount(nullptr, point.c_str(), nullptr, flags, nullptr) != 0 && errno != ENOENT) {
      if (failures++ == 0) first_failure = errno_text("remount read-only " + point);
    }
  }
  if (failures > 0) {
    g_host.fs_detail = std::to_string(failures) + " mounts stay writable (" + first_failure + ")";
    return;
  }
  g_host.fs_ready = true;
  g_host.fs_detail = std::to_string(points.size()) +
                     " mounts read-only, nosuid; /dev holds null, zero, full, random, urandom";
}

// Removes cgroup dirs of zygotes that no longer run (a crashed supervisor's leftovers).
void reap_stale_cgroups(const std::string& parent) {
  DIR* d = opendir(parent.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != 'z') continue;
    pid_t pid = atoi(e->d_name + 1);
    if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) continue;
    std::string dir = parent + "/" + e->d_name;
    if (DIR* sub = opendir(dir.c_str())) {
      while (dirent* s = readdir(sub)) {
        if (s->d_name[0] == 's') rmdir((dir + "/" + s->d_name).c_str());
      }
      closedir(sub);
    }
    rmdir(dir.c_str());
  }
  closedir(d);
}

std::string setup_cgroup(const char* controller, std::string* detail) {
  std::string root = std::string("/sys/fs/cgroup/") + controller;
  if (access((root + "/cgroup.procs").c_str(), F_OK) != 0) {
    *detail = "no cgroup v1 '" + std::string(controller) + "' hierarchy at " + root;
    return "";
  }
  std::string parent = root + "/" + g_cfg.cgroup_parent;
  if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
    *detail = errno_text("mkdir " + parent);
    return "";
  }
  reap_stale_cgroups(parent);
  std::string mine = parent + "/z" + std::to_string(getpid());
  if (mkdir(mine.c_str(), 0755) != 0 && errno != EEXIST) {
    *detail = errno_text("mkdir " + mine);
    return "";
  }
  *detail = mine;
  return mine;
}

void remove_cgroups() {
  for (const std::string& dir : {g_host.cg_mem, g_host.cg_pids, g_host.cg_cpu}) {
    if (dir.empty()) continue;
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == 's') rmdir((dir + "/" + e->d_name).c_str());
      }
      closedir(d);
    }
    rmdir(dir.c_str());
  }
}

void detect_seccomp() {
  dstc::sandbox::detail::FilterSpec spec;
  spec.allow_fork = g_cfg.allow_fork;
  spec.allow_exec = g_cfg.allow_exec;
  spec.allow_sockets = g_cfg.allow_sockets;
  spec.deny_file_locks = !g_cfg.allow_fork;  // strict: no lock-based covert channel
  if (g_cfg.exec_mode && !spec.allow_exec) {
    spec.exec_path_pointer = reinterpret_cast<uint64_t>(kPythonPath);
  }
  std::string error;
  g_host.bpf = dstc::sandbox::detail::build_filter(spec, &error);
  if (g_host.bpf.empty()) {
    g_host.seccomp_detail = error;
    return;
  }
  // Prove the kernel accepts it.
  pid_t p = fork();
  if (p == 0) {
    sock_fprog prog{static_cast<unsigned short>(g_host.bpf.size()), g_host.bpf.data()};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(2);
    _exit(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : 1);
  }
  int st = 0;
  waitpid(p, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    g_host.seccomp_detail = "the kernel refused the filter (PR_SET_SECCOMP)";
    g_host.bpf.clear();
    return;
  }
  g_host.seccomp_detail = std::to_string(g_host.bpf.size()) +
                          " BPF instructions, native ABI only (i386/x32 calls kill the process)" +
                          (g_cfg.allow_fork ? "" : "; fork/exec/sockets/file locks denied");
}

// ---------------------------------------------------------------- the hello message

json layer(const std::string& name, bool active, const std::string& detail) {
  return json{{"name", name}, {"active", active}, {"detail", detail}};
}

json layers_json() {
  const int f = g_host.ns_flags;
  json l = json::array();
  auto ns = [&](int flag, const std::string& name, const std::string& what) {
    l.push_back(layer(name, f & flag,
                      (f & flag) ? what
                                 : (g_host.root ? "unshare refused by the host"
                                                : "needs root (started as uid " +
                                                      std::to_string(getuid()) + ")")));
  };
  ns(CLONE_NEWPID, "pid namespace", "the program is a child of a private pid 1");
  ns(CLONE_NEWNET, "network namespace", "loopback only, no route out");
  ns(CLONE_NEWNS, "mount namespace", "private mounts per run");
  ns(CLONE_NEWIPC, "ipc namespace", "private SysV IPC and POSIX mqueues");
  ns(CLONE_NEWUTS, "uts namespace", "hostname 'sandbox'");
  l.push_back(layer("unprivileged uid", g_host.root,
                    g_host.root ? "uid/gid " + std::to_string(g_cfg.uid_base) +
                                      "+slot, no supplementary groups, no_new_privs"
                                : "not started as root: runs keep uid " + std::to_string(getuid()) +
                                      " (no_new_privs still set)"));
  l.push_back(layer("seccomp filter", !g_host.bpf.empty(), g_host.seccomp_detail));
  l.push_back(layer("rlimits", true,
                    "soft = hard: CPU, FSIZE, NOFILE, NPROC, CORE=0, MEMLOCK, MSGQUEUE=0, "
                    "RTPRIO=0, NICE, AS where the profile sets it"));
  l.push_back(layer("cgroup memory", !g_host.cg_mem.empty(),
                    g_host.cg_mem.empty()
                        ? g_host.cg_detail_mem
                        : g_host.cg_mem + (g_host.memsw ? " (memory+swap limited)"
                                                        : " (swap accounting off: memory only)")));
  l.push_back(layer("cgroup pids", !g_host.cg_pids.empty(), g_host.cg_detail_pids));
  l.push_back(layer("cgroup cpuacct", !g_host.cg_cpu.empty(),
                    g_host.cg_cpu.empty() ? g_host.cg_detail_cpu + " (CPU time is then per "
                                                                   "process only: RLIMIT_CPU)"
                                          : g_host.cg_cpu + " (CPU limit summed over every "
                                                            "process and thread of a run)"));
  bool tmp = g_host.ns_flags & CLONE_NEWNS;
  l.push_back(layer("fresh tmpfs working dir and /tmp", tmp,
                    tmp ? "size- and inode-limited tmpfs at /tmp (cwd), also at /dev/shm and "
                          "/var/tmp"
                        : "no mount namespace: a fresh directory under the host /tmp instead"));
  l.push_back(layer("read-only filesystem", g_host.fs_ready, g_host.fs_detail));
  l.push_back(layer("empty environment + allowlist", true,
                    std::to_string(g_cfg.env.size()) + " variables from the profile"));
  l.push_back(layer("stdin /dev/null, no tty, new session", true,
                    "stdin is /dev/null or the job's bytes over a pipe; setsid()"));
  l.push_back(
      layer("wall-clock SIGKILL", true, "the monitor kills the run's init at the deadline"));
  l.push_back(layer("whole-tree kill", f & CLONE_NEWPID,
                    (f & CLONE_NEWPID)
                        ? "the run's pid-namespace init exits, the kernel kills every process"
                        : "no pid namespace: only the program's session is killed (escapes "
                          "via a new session would survive)"));
  std::string zyg = g_cfg.exec_mode
                        ? "exec path: a fresh /usr/bin/python3 -I per run"
                        : "embedded CPython " + std::string(Py_GetVersion()).substr(0, 6) +
                              ", preloaded " + std::to_string(g_cfg.preload.size()) +
                              " modules, fork per run";
  if (!g_host.preload_failures.empty()) {
    zyg += "; failed to preload:";
    for (auto& m : g_host.preload_failures) zyg += " " + m;
  }
  l.push_back(layer("zygote", !g_cfg.exec_mode, zyg));
  return l;
}

// ---------------------------------------------------------------- program process (C)

void set_limit(int resource, rlim_t value) {
  rlimit rl{value, value};
  if (setrlimit(resource, &rl) != 0) die_setup(errno_text("setrlimit " + std::to_string(resource)));
}

// Runs the source in the forked interpreter and reports on kResultFd. Never returns.
[[noreturn]] void run_embedded(const std::string& program) {
  PyOS_AfterFork_Child();
  // Tracebacks read source lines from this file (the C traceback printer reads the disk).
  const std::string main_path = (g_workdir.empty() ? "/tmp" : g_workdir) + "/main.py";
  PyObject* main_module = PyImport_AddModule("__main__");
  PyObject* globals = PyModule_GetDict(main_module);
  PyObject* file = PyUnicode_FromString(main_path.c_str());
  PyDict_SetItemString(globals, "__file__", file);
  Py_XDECREF(file);
  // linecache gets the source so tracebacks show lines without reading the file again.
  PyRun_SimpleString(
      "import sys, linecache\n"
      "sys.argv = ['/tmp/main.py']\n"
      "sys.path[0:0] = ['/tmp']\n");
  {
    PyObject* linecache = PyImport_ImportModule("linecache");
    PyObject* cache = linecache ? PyObject_GetAttrString(linecache, "cache") : nullptr;
    PyObject* lines_src = PyUnicode_DecodeUTF8(program.data(), program.size(), "replace");
    PyObject* lines = lines_src ? PyUnicode_Splitlines(lines_src, 1) : nullptr;
    if (cache && lines) {
      PyObject* entry =
          Py_BuildValue("(nOOs)", (Py_ssize_t)program.size(), Py_None, lines, main_path.c_str());
      if (entry) PyDict_SetItemString(cache, main_path.c_str(), entry);
      Py_XDECREF(entry);
    }
    Py_XDECREF(lines);
    Py_XDECREF(lines_src);
    Py_XDECREF(cache);
    Py_XDECREF(linecache);
    PyErr_Clear();
  }

  char kind = 'p';
  int exit_code = 0;  // what `python3 main.py` would have exited with
  std::string type_name, message;
  PyObject* code =
      Py_CompileStringExFlags(program.c_str(), main_path.c_str(), Py_file_input, nullptr, -1);
  PyObject* result = code ? PyEval_EvalCode(code, globals, globals) : nullptr;
  if (result == nullptr) {
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (type && PyType_Check(type)) type_name = reinterpret_cast<PyTypeObject*>(type)->tp_name;
    if (type && PyErr_GivenExceptionMatches(type, PyExc_AssertionError)) {
      kind = 'a';
    } else if (type && PyErr_GivenExceptionMatches(type, PyExc_MemoryError)) {
      kind = 'm';
    } else {
      kind = 'e';
    }
    if (value) {
      if (PyObject* s = PyObject_Str(value)) {
        if (const char* c = PyUnicode_AsUTF8(s)) message = c;
        Py_DECREF(s);
      }
      PyErr_Clear();
    }
    exit_code = 1;
    if (type && PyErr_GivenExceptionMatches(type, PyExc_SystemExit)) {
      if (PyObject* code = value ? PyObject_GetAttrString(value, "code") : nullptr) {
        if (code == Py_None) exit_code = 0;
        if (PyLong_Check(code)) exit_code = static_cast<int>(PyLong_AsLong(code)) & 0xFF;
        Py_DECREF(code);
      }
      PyErr_Clear();
      // PyErr_Print would exit the process on SystemExit; print it ourselves.
      std::string line = "SystemExit: " + message + "\n";
      PySys_WriteStderr("%s", line.c_str());
    } else if (type) {
      PyErr_Display(type, value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
  } else {
    Py_DECREF(result);
    // As at interpreter exit: wait for non-daemon threads.
    PyObject* modules = PyImport_GetModuleDict();
    if (PyObject* threading = PyDict_GetItemString(modules, "threading")) {
      if (PyObject* r = PyObject_CallMethod(threading, "_shutdown", nullptr)) Py_DECREF(r);
      PyErr_Clear();
    }
  }
  PyRun_SimpleString(
      "try:\n  sys.stdout.flush()\nexcept BaseException:\n  pass\n"
      "try:\n  sys.stderr.flush()\nexcept BaseException:\n  pass\n");
  PyErr_Clear();
  if (message.size() > 2000) message = message.substr(message.size() - 2000);
  if (type_name.size() > 200) type_name.resize(200);
  std::string record =
      std::string("DSTC") + g_nonce + " " + kind + "\n" + type_name + "\n" + message;
  (void)!write(kResultFd, record.data(), record.size());
  _exit(exit_code);
}

// Exec path: the same contract in a fresh interpreter. Weaker: the nonce is a Python
// object there, so a program that walks the interpreter's objects could find it.
const char kExecDriver[] = R"PY(
import os, sys
n = os.read(4, 64).decode(); os.close(4)
src = open('/tmp/main.py', encoding='utf-8', errors='replace').read()
sys.argv = ['/tmp/main.py']; sys.path[0:0] = ['/tmp']
g = {'__name__': '__main__', '__file__': '/tmp/main.py', '__builtins__': __builtins__}
kind, t, m, rc = 'p', '', '', 0
try:
    exec(compile(src, '/tmp/main.py', 'exec'), g)
except BaseException as e:
    kind = 'a' if isinstance(e, AssertionError) else 'm' if isinstance(e, MemoryError) else 'e'
    t = type(e).__name__
    rc = 1
    if isinstance(e, SystemExit):
        rc = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    try: m = str(e)
    except BaseException: m = ''
    if isinstance(e, SystemExit): sys.stderr.write('SystemExit: %s\n' % m)
    else:
        import traceback; traceback.print_exc()
else:
    import threading; threading._shutdown()
for s in (sys.stdout, sys.stderr):
    try: s.flush()
    except BaseException: pass
os.write(3, ('DSTC%s %s\n%s\n%s' % (n, kind, t[:200], m[-2000:])).encode('utf-8', 'replace'))
os._exit(rc & 0xFF)
)PY";

[[noreturn]] void program_process(const proto::RunRequest& req, const std::string& program,
                                  int stdin_fd, int out_w, int err_w, int res_w, int sync_w) {
  // Fixed descriptors: 0 stdin, 1 stdout, 2 stderr, 3 result, 4 setup status.
  int fds[5] = {stdin_fd, out_w, err_w, res_w, sync_w};
  int moved[5];
  for (int i = 0; i < 5; ++i) moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
  for (int i = 0; i < 5; ++i) {
    if (moved[i] < 0 || dup2(moved[i], i) < 0) _exit(126);
  }
  syscall(SYS_close_range, 5, ~0U, 0);
  fcntl(kSyncFd, F_SETFD, FD_CLOEXEC);
  if (setsid() < 0) die_setup(errno_text("setsid"));

  const std::string workdir = g_workdir.empty() ? "/tmp" : g_workdir;
  if (chdir(workdir.c_str()) != 0) die_setup(errno_text("chdir " + workdir));
  {
    int fd = open("main.py", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || !write_all(fd, program.data(), program.size())) {
      die_setup(errno_text("writing main.py"));
    }
    close(fd);
  }

  const rlim_t cpu = static_cast<rlim_t>(std::ceil(req.cpu_seconds));
  set_limit(RLIMIT_CPU, std::max<rlim_t>(cpu, 1));
  set_limit(RLIMIT_FSIZE, static_cast<rlim_t>(req.file_size_mb) << 20);
  set_limit(RLIMIT_NOFILE, static_cast<rlim_t>(req.open_files));
  set_limit(RLIMIT_CORE, 0);
  set_limit(RLIMIT_MSGQUEUE, 0);
  set_limit(RLIMIT_RTPRIO, 0);
  set_limit(RLIMIT_MEMLOCK, 64 << 10);
  set_limit(RLIMIT_STACK, 8 << 20);
  if (req.address_space_mb > 0) {
    set_limit(RLIMIT_AS, static_cast<rlim_t>(req.address_space_mb) << 20);
  }
  if (g_host.root) {
    // Per-slot uid: RLIMIT_NPROC counts this uid only. The pids cgroup is the real cap.
    set_limit(RLIMIT_NPROC, static_cast<rlim_t>(req.max_processes + 8));
    const uid_t uid = g_cfg.uid_base + req.slot;
    if (setgroups(0, nullptr) != 0) die_setup(errno_text("setgroups"));
    if (setresgid(uid, uid, uid) != 0) die_setup(errno_text("setresgid"));
    if (setresuid(uid, uid, uid) != 0) die_setup(errno_text("setresuid"));
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die_setup(errno_text("no_new_privs"));
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  if (g_cfg.exec_mode) {
    int nonce_pipe[2];
    if (pipe(nonce_pipe) != 0) die_setup(errno_text("pipe"));
    (void)!write(nonce_pipe[1], g_nonce, 32);
    close(nonce_pipe[1]);
    // fd 4 becomes the nonce; the setup status goes through the exec's CLOEXEC.
    (void)!write(kSyncFd, "R", 1);
    if (dup2(nonce_pipe[0], kSyncFd) < 0) _exit(126);
    close(nonce_pipe[0]);
  }
  if (!g_host.bpf.empty()) {
    sock_fprog prog{static_cast<unsigned short>(g_host.bpf.size()), g_host.bpf.data()};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      if (!g_cfg.exec_mode) die_setup(errno_text("seccomp"));
      _exit(126);
    }
  }
  if (g_cfg.exec_mode) {
    const char* argv[] = {"python3", "-I", "-c", kExecDriver, nullptr};
    execve(kPythonPath, const_cast<char* const*>(argv), environ);
    _exit(126);
  }
  (void)!write(kSyncFd, "R", 1);
  close(kSyncFd);
  run_embedded(program);
}

// ---------------------------------------------------------------- init process (B)

void bring_up_loopback() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
}

[[noreturn]] void init_process(const proto::RunRequest& req, const std::string& program,
                               const std::string& cg_mem, const std::string& cg_pids,
                               const std::string& cg_cpu, int stdin_fd, int out_w, int err_w,
                               int res_w, int sync_w) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto fail = [&](const std::string& msg) {
    std::string m = "E" + msg;
    (void)!write(sync_w, m.data(), m.size());
    _exit(127);
  };
  if (!cg_mem.empty() && !write_text(cg_mem + "/cgroup.procs", "0")) {
    fail(errno_text("joining " + cg_mem));
  }
  if (!cg_pids.empty() && !write_text(cg_pids + "/cgroup.procs", "0")) {
    fail(errno_text("joining " + cg_pids));
  }
  if (!cg_cpu.empty() && !write_text(cg_cpu + "/cgroup.procs", "0")) {
    fail(errno_text("joining " + cg_cpu));
  }
  const int f = g_host.ns_flags;
  if (f & CLONE_NEWNS) {
    const unsigned long nodev = MS_NOSUID | MS_NODEV;
    std::string opts = "size=" + std::to_string(req.tmpfs_mb) +
                       "m,nr_inodes=" + std::to_string(std::max<int64_t>(req.tmpfs_mb * 64, 1024)) +
                       ",mode=1777";
    if (mount("tmpfs", "/tmp", "tmpfs", nodev, opts.c_str()) != 0) {
      fail(errno_text("mount tmpfs /tmp"));
    }
    for (const char* extra : {"/dev/shm", "/var/tmp"}) {
      struct stat st;
      if (stat(extra, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (mount("/tmp", extra, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
          fail(errno_text(std::string("bind /tmp on ") + extra));
        }
      }
    }
    if ((f & CLONE_NEWPID) && mount("proc", "/proc", "proc", nodev | MS_NOEXEC, nullptr) != 0) {
      fail(errno_text("mount /proc"));
    }
    // A fresh sysfs shows this network namespace's devices only, and no cgroup tree.
    if ((f & CLONE_NEWNET) &&
        mount("sysfs", "/sys", "sysfs", MS_RDONLY | nodev | MS_NOEXEC, nullptr) != 0) {
      fail(errno_text("mount /sys"));
    }
  }
  if (f & CLONE_NEWNET) bring_up_loopback();
  if (f & CLONE_NEWUTS) sethostname("sandbox", 7);

  pid_t child = fork();
  if (child < 0) fail(errno_text("fork"));
  if (child == 0) program_process(req, program, stdin_fd, out_w, err_w, res_w, sync_w);
  close(stdin_fd);
  close(out_w);
  close(err_w);
  close(res_w);
  if (!(f & CLONE_NEWPID)) prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Reap everything; when the program itself ends, report and leave. As pid 1 of the
  // namespace, our exit makes the kernel kill whatever is left.
  for (;;) {
    int st = 0;
    pid_t p = waitpid(-1, &st, __WALL);
    if (p < 0 && errno == EINTR) continue;
    if (p == child || p < 0) {
      char msg[5] = {'S'};
      std::memcpy(msg + 1, &st, 4);
      (void)!write(sync_w, msg, 5);
      if (!(f & CLONE_NEWPID)) kill(-child, SIGKILL);  // the program's session, best effort
      _exit(0);
    }
  }
}

// ---------------------------------------------------------------- monitor (A)

struct Capture {
  int fd = -1;
  std::string data;
  bool truncated = false;
};

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

void send_response(int chan, proto::RunResponse resp, const std::string& out,
                   const std::string& err, const std::string& type, const std::string& msg,
                   const std::string& reason) {
  resp.stdout_len = out.size();
  resp.stderr_len = err.size();
  resp.error_type_len = type.size();
  resp.error_message_len = msg.size();
  resp.reason_len = reason.size();
  iovec iov[6] = {{&resp, sizeof resp},
                  {const_cast<char*>(out.data()), out.size()},
                  {const_cast<char*>(err.data()), err.size()},
                  {const_cast<char*>(type.data()), type.size()},
                  {const_cast<char*>(msg.data()), msg.size()},
                  {const_cast<char*>(reason.data()), reason.size()}};
  std::string all;
  for (auto& v : iov) all.append(static_cast<char*>(v.iov_base), v.iov_len);
  write_all(chan, all.data(), all.size());
}

[[noreturn]] void monitor(int chan) {
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != g_host.zygote_pid) _exit(1);
  prctl(PR_SET_NAME, "dstc-monitor");

  proto::RunResponse resp;
  auto sandbox_error = [&](const std::string& why) {
    resp.status = kSandboxError;
    send_response(chan, resp, "", "", "", "", why);
    _exit(0);
  };
  proto::RunRequest req;
  if (!proto::read_exact(chan, &req, sizeof req) || req.magic != proto::kMagic) {
    sandbox_error("malformed job request");
  }
  std::string program(req.program_len, '\0'), stdin_data(req.stdin_len, '\0');
  if (!proto::read_exact(chan, program.data(), program.size()) ||
      !proto::read_exact(chan, stdin_data.data(), stdin_data.size())) {
    sandbox_error("truncated job request");
  }
  if (program.find('\0') != std::string::npos) {
    resp.status = kError;
    send_response(chan, resp, "", "", "ValueError", "source code string cannot contain null bytes",
                  "");
    _exit(0);
  }

  // The slot's cgroups: created once, limits rewritten per run.
  std::string cg_mem, cg_pids, cg_cpu;
  int cpu_fd = -1;  // the slot's cpuacct.usage (ns), opened before the run hides it
  int64_t oom_before = 0;
  int oom_fd = -1;
  const std::string slot = "/s" + std::to_string(req.slot);
  if (!g_host.cg_mem.empty()) {
    cg_mem = g_host.cg_mem + slot;
    if (mkdir(cg_mem.c_str(), 0755) != 0 && errno != EEXIST)
      sandbox_error(errno_text("mkdir " + cg_mem));
    const std::string bytes = std::to_string(req.memory_mb << 20);
    // memsw must stay >= the memory limit: raise it first, lower it last.
    if (g_host.memsw) write_text(cg_mem + "/memory.memsw.limit_in_bytes", "-1");
    if (!write_text(cg_mem + "/memory.limit_in_bytes", bytes)) {
      sandbox_error(errno_text("setting " + cg_mem + "/memory.limit_in_bytes"));
    }
    if (g_host.memsw) write_text(cg_mem + "/memory.memsw.limit_in_bytes", bytes);
    write_text(cg_mem + "/memory.max_usage_in_bytes", "0");
    oom_fd = open((cg_mem + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
    oom_before = oom_kills(oom_fd);
  }
  if (!g_host.cg_pids.empty()) {
    cg_pids = g_host.cg_pids + slot;
    if (mkdir(cg_pids.c_str(), 0755) != 0 && errno != EEXIST)
      sandbox_error(errno_text("mkdir " + cg_pids));
    // +1: the run's init process.
    if (!write_text(cg_pids + "/pids.max", std::to_string(req.max_processes + 1))) {
      sandbox_error(errno_text("setting " + cg_pids + "/pids.max"));
    }
  }

  if (!g_host.cg_cpu.empty()) {
    cg_cpu = g_host.cg_cpu + slot;
    if (mkdir(cg_cpu.c_str(), 0755) != 0 && errno != EEXIST) {
      sandbox_error(errno_text("mkdir " + cg_cpu));
    }
    write_text(cg_cpu + "/cpuacct.usage", "0");
    cpu_fd = open((cg_cpu + "/cpuacct.usage").c_str(), O_RDONLY | O_CLOEXEC);
  }
  auto cgroup_cpu_us = [&]() -> int64_t {
    char b[64];
    ssize_t n = cpu_fd >= 0 ? pread(cpu_fd, b, sizeof b - 1, 0) : -1;
    if (n <= 0) return -1;
    b[n] = 0;
    return std::strtoll(b, nullptr, 10) / 1000;
  };

  uint8_t raw[16];
  if (getrandom(raw, sizeof raw, 0) != sizeof raw) sandbox_error(errno_text("getrandom"));
  for (int i = 0; i < 16; ++i) std::snprintf(g_nonce + 2 * i, 3, "%02x", raw[i]);

  int out[2], err[2], res[2], sync[2], in[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(res, O_CLOEXEC) ||
      pipe2(sync, O_CLOEXEC)) {
    sandbox_error(errno_text("pipe2"));
  }
  int stdin_fd;
  if (!stdin_data.empty()) {
    if (pipe2(in, O_CLOEXEC)) sandbox_error(errno_text("pipe2"));
    stdin_fd = in[0];
  } else {
    stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (stdin_fd < 0) sandbox_error(errno_text("open /dev/null"));
  }
  if (!(g_host.ns_flags & CLONE_NEWNS)) {
    char tmpl[] = "/tmp/dstc-run-XXXXXX";
    if (!mkdtemp(tmpl)) sandbox_error(errno_text("mkdtemp"));
    g_workdir = tmpl;
    if (g_host.root && chown(tmpl, g_cfg.uid_base + req.slot, g_cfg.uid_base + req.slot) != 0) {
      sandbox_error(errno_text("chown " + g_workdir));
    }
  }
  const int ns =
      g_host.ns_flags & (CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS);
  if (ns && unshare(ns) != 0) sandbox_error(errno_text("unshare"));

  const int64_t start = now_us();
  pid_t init = fork();
  if (init < 0) sandbox_error(errno_text("fork"));
  if (init == 0) {
    close(out[0]);
    close(err[0]);
    close(res[0]);
    close(sync[0]);
    if (in[1] >= 0) close(in[1]);
    close(chan);
    init_process(req, program, cg_mem, cg_pids, cg_cpu, stdin_fd, out[1], err[1], res[1], sync[1]);
  }
  close(stdin_fd);
  close(out[1]);
  close(err[1]);
  close(res[1]);
  close(sync[1]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, init, 0));

  Capture cap_out, cap_err, cap_res;
  cap_out.fd = out[0];
  cap_err.fd = err[0];
  cap_res.fd = res[0];
  std::string sync_data;
  int sync_fd = sync[0];
  int in_fd = in[1];
  size_t in_off = 0;
  if (in_fd >= 0) fcntl(in_fd, F_SETFL, O_NONBLOCK);
  const int64_t deadline = start + static_cast<int64_t>(req.wall_seconds * 1e6);
  bool timed_out = false, cpu_out = false, over_output = false, exited = false, killed = false;
  const int64_t cpu_limit_us = static_cast<int64_t>(req.cpu_seconds * 1e6);
  auto kill_init = [&] {
    if (!killed) {
      if (pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      } else {
        kill(init, SIGKILL);
      }
      killed = true;
    }
  };
  char buf[65536];
  for (;;) {
    std::vector<pollfd> pfds;
    auto add = [&](int fd, short ev) {
      if (fd >= 0) pfds.push_back({fd, ev, 0});
    };
    add(cap_out.fd, POLLIN);
    add(cap_err.fd, POLLIN);
    add(cap_res.fd, POLLIN);
    add(sync_fd, POLLIN);
    add(in_fd, POLLOUT);
    if (!exited) add(pidfd, POLLIN);
    add(chan, POLLRDHUP);
    bool streams_open = cap_out.fd >= 0 || cap_err.fd >= 0 || cap_res.fd >= 0 || sync_fd >= 0;
    if (pidfd < 0 && !streams_open) exited = true;  // no pidfd: EOF everywhere means the end
    if (exited && !streams_open) break;
    int64_t wait_ms = exited ? 1000 : std::max<int64_t>(0, (deadline - now_us()) / 1000 + 1);
    // With cpuacct, wake every 50 ms to enforce the CPU limit over the whole run.
    const int64_t tick = cpu_fd >= 0 ? 50 : 1000;
    int n = poll(pfds.data(), pfds.size(), static_cast<int>(std::min<int64_t>(wait_ms, tick)));
    if (n < 0 && errno != EINTR) sandbox_error(errno_text("poll"));
    if (!exited && !killed && cgroup_cpu_us() > cpu_limit_us) {
      cpu_out = true;
      kill_init();
    }
    if (!exited && now_us() >= deadline) {
      if (!killed) timed_out = true;
      kill_init();
    }
    if (n <= 0) {
      if (exited) break;  // streams idle long after exit: nothing more will come
      continue;
    }
    for (auto& p : pfds) {
      if (!p.revents) continue;
      if (p.fd == chan) {
        if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) kill_init();  // host gave up
        continue;
      }
      if (p.fd == pidfd) {
        exited = true;
        continue;
      }
      if (p.fd == in_fd) {
        ssize_t w = write(in_fd, stdin_data.data() + in_off, stdin_data.size() - in_off);
        if (w > 0) in_off += w;
        if (w < 0 && errno != EAGAIN) in_off = stdin_data.size();
        if (in_off >= stdin_data.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t r = read(p.fd, buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (p.fd == sync_fd) {
        if (r <= 0) {
          close(sync_fd);
          sync_fd = -1;
        } else {
          sync_data.append(buf, r);
        }
        continue;
      }
      Capture* c = p.fd == cap_out.fd ? &cap_out : p.fd == cap_err.fd ? &cap_err : &cap_res;
      if (r <= 0) {
        close(c->fd);
        c->fd = -1;
        continue;
      }
      const size_t cap = c == &cap_res ? 65536 : static_cast<size_t>(req.output_bytes);
      size_t room = cap > c->data.size() ? cap - c->data.size() : 0;
      c->data.append(buf, std::min<size_t>(room, r));
      if (static_cast<size_t>(r) > room) {
        c->truncated = true;
        if (c != &cap_res && !killed) {
          over_output = true;
          kill_init();
        }
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  rusage ru{};
  int init_status = 0;
  wait4(init, &init_status, 0, &ru);
  const int64_t wall = now_us() - start;
  if (g_host.ns_flags & CLONE_NEWNS) {
    umount2("/tmp", MNT_DETACH);  // free the run's tmpfs now, not when we exit
  } else if (!g_workdir.empty()) {
    // No symlink is followed (FTW_PHYS) and every process of the run is gone.
    nftw(
        g_workdir.c_str(),
        [](const char* path, const struct stat*, int, FTW*) { return remove(path) == 0 ? 0 : 0; },
        16, FTW_DEPTH | FTW_PHYS);
  }

  resp.wall_us = wall;
  resp.cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
                ru.ru_stime.tv_usec;
  // The cgroup also counts processes the kernel reaped when the namespace went down.
  if (int64_t cg = cgroup_cpu_us(); cg > resp.cpu_us) resp.cpu_us = cg;
  resp.peak_rss_kb = ru.ru_maxrss;
  resp.stdout_truncated = cap_out.truncated;
  resp.stderr_truncated = cap_err.truncated;
  const bool oom = oom_fd >= 0 && oom_kills(oom_fd) > oom_before;

  // Setup status and the program's wait status, from init and the program process.
  std::string setup_error;
  bool ready = false, have_status = false;
  int prog_status = 0;
  for (size_t i = 0; i < sync_data.size();) {
    char tag = sync_data[i];
    if (tag == 'R') {
      ready = true;
      ++i;
    } else if (tag == 'S' && i + 5 <= sync_data.size()) {
      std::memcpy(&prog_status, sync_data.data() + i + 1, 4);
      have_status = true;
      i += 5;
    } else if (tag == 'E') {
      setup_error = sync_data.substr(i + 1);
      break;
    } else {
      break;
    }
  }
  // The completion record: only our driver knows the nonce.
  char kind = 0;
  std::string type, msg;
  const std::string prefix = std::string("DSTC") + g_nonce + " ";
  if (size_t at = cap_res.data.find(prefix); at != std::string::npos) {
    std::string rec = cap_res.data.substr(at + prefix.size());
    if (!rec.empty()) {
      kind = rec[0];
      size_t nl1 = rec.find('\n');
      size_t nl2 = nl1 == std::string::npos ? nl1 : rec.find('\n', nl1 + 1);
      if (nl2 != std::string::npos) {
        type = rec.substr(nl1 + 1, nl2 - nl1 - 1);
        msg = rec.substr(nl2 + 1);
      }
    }
  }
  if (have_status) {
    resp.exit_code = WIFEXITED(prog_status) ? WEXITSTATUS(prog_status) : -1;
    resp.signal = WIFSIGNALED(prog_status) ? WTERMSIG(prog_status) : 0;
  } else if (WIFSIGNALED(init_status) && !killed) {
    resp.signal = WTERMSIG(init_status);
  }

  std::string reason;
  const double cpu_s = resp.cpu_us / 1e6;
  if (!setup_error.empty() || (!ready && !timed_out && !killed && kind == 0)) {
    resp.status = kSandboxError;
    reason = setup_error.empty() ? "the run's init ended before the program started" : setup_error;
  } else if (over_output) {
    resp.status = kOutputLimit;
    reason = "output past " + std::to_string(req.output_bytes) + " bytes";
  } else if (kind == 'p') {
    resp.status = kPassed;
  } else if (kind == 'a') {
    resp.status = kFailed;
  } else if (kind == 'm') {
    resp.status = kMemory;
    reason = "MemoryError";
  } else if (kind == 'e') {
    resp.status = kError;
  } else if (timed_out) {
    resp.status = kTimeout;
    reason = "wall time limit " + std::to_string(req.wall_seconds) + " s";
  } else if (cpu_out) {
    resp.status = kTimeout;
    reason = "CPU time limit " + std::to_string(req.cpu_seconds) + " s (all processes)";
  } else if (oom) {
    resp.status = kMemory;
    reason = "cgroup memory limit " + std::to_string(req.memory_mb) + " MB (OOM kill)";
  } else if (resp.signal == SIGXCPU ||
             (resp.signal == SIGKILL && cpu_s + 0.05 >= std::ceil(req.cpu_seconds))) {
    resp.status = kTimeout;
    reason = "CPU time limit " + std::to_string(req.cpu_seconds) + " s";
  } else if (resp.signal != 0) {
    resp.status = kKilled;
    reason = "killed by " + signal_text(resp.signal);
  } else if (killed) {
    resp.status = kSandboxError;
    reason = "the host abandoned the job";
  } else if (have_status) {
    resp.status = kError;
    type = "EarlyExit";
    reason = "the program exited with code " + std::to_string(resp.exit_code) + " before its end";
  } else {
    resp.status = kSandboxError;
    reason = "the run's init ended without reporting";
  }
  if (resp.status == kError && type.empty()) type = "Exception";
  send_response(chan, resp, cap_out.data, cap_err.data, type, msg, reason);
  _exit(0);
}

// ---------------------------------------------------------------- zygote (Z)

bool init_python() {
  PyConfig config;
  PyConfig_InitIsolatedConfig(&config);
  config.write_bytecode = 0;
  config.install_signal_handlers = 1;
  config.site_import = 1;
  config.user_site_directory = 0;
  config.parse_argv = 0;
  PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, kPythonPath);
  if (!PyStatus_Exception(status))
    status = PyConfig_SetBytesString(&config, &config.executable, kPythonPath);
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    std::fprintf(stderr, "dstc-sandbox-zygote: Python init failed: %s\n",
                 status.err_msg ? status.err_msg : "?");
    return false;
  }
  for (const auto& m : g_cfg.preload) {
    PyObject* mod = PyImport_ImportModule(m.c_str());
    if (!mod) {
      PyErr_Clear();
      g_host.preload_failures.push_back(m);
    }
    Py_XDECREF(mod);
  }
  PyRun_SimpleString("import gc; gc.collect(); gc.freeze()");  // keep forked pages shared
  return true;
}

int parse_args(int argc, char** argv) {
  std::string profile;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--control-fd") {
      g_cfg.control_fd = std::atoi(next().c_str());
    } else if (a == "--profile") {
      profile = next();
    } else if (a == "--exec") {
      g_cfg.exec_mode = true;
    } else if (a == "--cgroup-parent") {
      g_cfg.cgroup_parent = next();
    } else if (a == "--uid-base") {
      g_cfg.uid_base = static_cast<uint32_t>(std::strtoul(next().c_str(), nullptr, 10));
    } else {
      std::fprintf(stderr, "dstc-sandbox-zygote: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  json p = json::parse(profile, nullptr, false);
  if (g_cfg.control_fd < 0 || p.is_discarded() || !p.is_object()) {
    std::fprintf(stderr, "usage: dstc-sandbox-zygote --control-fd N --profile JSON [--exec]\n");
    return 2;
  }
  g_cfg.profile_name = p.value("name", "");
  g_cfg.allow_fork = p.value("allow_fork", false);
  g_cfg.allow_exec = p.value("allow_exec", false);
  g_cfg.allow_sockets = p.value("allow_sockets", false);
  g_cfg.preload = p.value("preload", std::vector<std::string>{});
  g_cfg.env = p.value("env", std::vector<std::string>{});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (int rc = parse_args(argc, argv)) return rc;
  const int control = g_cfg.control_fd;
  fcntl(control, F_SETFD, FD_CLOEXEC);
  // "dstc-z-strict", "dstc-z-bigcodeb": ps shows which profile a zygote serves.
  prctl(PR_SET_NAME, ("dstc-z-" + g_cfg.profile_name).substr(0, 15).c_str());
  g_host.zygote_pid = getpid();
  g_host.root = geteuid() == 0;
  // The environment of every run is the profile's allowlist, nothing inherited.
  clearenv();
  for (const auto& kv : g_cfg.env) putenv(strdup(kv.c_str()));

  detect_namespaces();
  detect_seccomp();
  if (g_host.root) {
    g_host.cg_mem = setup_cgroup("memory", &g_host.cg_detail_mem);
    g_host.cg_pids = setup_cgroup("pids", &g_host.cg_detail_pids);
    g_host.cg_cpu = setup_cgroup("cpuacct", &g_host.cg_detail_cpu);
    g_host.memsw = !g_host.cg_mem.empty() &&
                   access((g_host.cg_mem + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0;
  } else {
    g_host.cg_detail_mem = g_host.cg_detail_pids = g_host.cg_detail_cpu =
        "needs root to create cgroups";
  }
  setup_filesystem();
  bool python_ok = g_cfg.exec_mode || init_python();

  json hello{{"ok", python_ok},
             {"error", python_ok ? "" : "embedded Python failed to start"},
             {"layers", layers_json()}};
  std::string text = hello.dump();
  if (send(control, text.data(), text.size(), MSG_NOSIGNAL) < 0) return 1;
  if (!python_ok) return 1;

  signal(SIGCHLD, SIG_IGN);  // monitors are reaped by the kernel
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    char byte;
    char cbuf[CMSG_SPACE(sizeof(int))];
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t r = recvmsg(control, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // the host closed the socket or died
    int chan = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        std::memcpy(&chan, CMSG_DATA(c), sizeof(int));
      }
    }
    if (chan < 0) continue;
    if (!g_cfg.exec_mode) PyOS_BeforeFork();
    pid_t pid = fork();
    if (pid == 0) {
      close(control);
      monitor(chan);
    }
    if (!g_cfg.exec_mode) PyOS_AfterFork_Parent();
    close(chan);
  }
  remove_cgroups();
  return 0;
}
