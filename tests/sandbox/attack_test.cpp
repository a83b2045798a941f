// Attack cases of research/sandbox.md §4 (numbers in the test names), each asserting the
// exact verdict and that the host is intact.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "tests/sandbox/sandbox_test_util.h"

namespace dstc::sandbox::testing {
namespace {

// ---- A. CPU and time
TEST_F(SandboxIntegration, A1BusyLoopTimesOut) {
  Verdict v = run("while True:\n    pass\n", "strict", 1.0);
  EXPECT_VERDICT(v, Status::kTimeout);
  EXPECT_LT(v.wall_ms, 5000);
  expect_host_intact();
}

TEST_F(SandboxIntegration, A2SleepHitsWallClock) {
  Verdict v = run("import time\ntime.sleep(10**6)\n", "strict", 1.0);
  EXPECT_VERDICT(v, Status::kTimeout);
  EXPECT_LT(v.cpu_ms, 900);
  expect_host_intact();
}

TEST_F(SandboxIntegration, A3CpuIsAccountedAcrossThreadsAndChildren) {
  // Each child burns 0.3 s of its own CPU time (not wall time: the machine may be busy);
  // the parent only waits, so the run's CPU must include the children's.
  Verdict v =
      run("import multiprocessing, time\n"
          "def burn(_):\n"
          "    while time.process_time() < 0.3: pass\n"
          "with multiprocessing.Pool(4) as p:\n    p.map(burn, range(4), chunksize=1)\n",
          "bigcodebench", 60.0);
  EXPECT_VERDICT(v, Status::kPassed);
  EXPECT_GE(v.cpu_ms, 1150);
  // Spinning processes are stopped by the CPU or the wall limit, whichever comes first.
  Verdict s =
      run("import multiprocessing\n"
          "def spin(_):\n    while True: pass\n"
          "multiprocessing.Pool(4).map(spin, range(4))\n",
          "bigcodebench", 2.0);
  EXPECT_VERDICT(s, Status::kTimeout);
  expect_host_intact();
}

TEST_F(SandboxIntegration, A5StdinIsEmpty) {
  Verdict v = run("import sys\nassert sys.stdin.read() == ''\ninput()\n");
  EXPECT_VERDICT(v, Status::kError);
  EXPECT_EQ(v.error_type, "EOFError");
  Job job;
  job.program = "assert input() == 'hello'\nassert input() == 'world'\n";
  job.stdin_data = "hello\nworld\n";
  EXPECT_VERDICT(shared_sandbox().run(job), Status::kPassed);
}

TEST_F(SandboxIntegration, A6BlockedOnOwnPipeTimesOut) {
  Verdict v =
      run("import os, select\nr, w = os.pipe()\nselect.select([r], [], [])\n", "strict", 1.0);
  EXPECT_VERDICT(v, Status::kTimeout);
  expect_host_intact();
}

TEST_F(SandboxIntegration, A7RealtimePriorityDenied) {
  Verdict v =
      run("import os\n"
          "try:\n    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(99)); ok = True\n"
          "except PermissionError:\n    ok = False\n"
          "assert not ok\n"
          "try:\n    os.nice(-20); ok = True\n"
          "except PermissionError:\n    ok = False\n"
          "assert not ok\n");
  EXPECT_VERDICT(v, Status::kPassed);
}

TEST_F(SandboxIntegration, A8DeepRecursionIsACrashNotSandboxError) {
  // Python 3.11 calls between Python functions use heap frames: memory runs out first.
  Verdict v =
      run("import sys\nsys.setrecursionlimit(10**7)\n"
          "def f(n):\n    return f(n + 1) + 1\nf(0)\n");
  EXPECT_VERDICT(v, Status::kMemory);
  // C recursion (repr of a deeply nested list) overflows the 8 MB C stack.
  Verdict c =
      run("import sys\nsys.setrecursionlimit(10**7)\n"
          "l = []\nfor _ in range(10**6):\n    l = [l]\nrepr(l)\n");
  EXPECT_VERDICT(c, Status::kKilled);
  EXPECT_EQ(c.signal, SIGSEGV);
  struct stat st;
  EXPECT_NE(stat("core", &st), 0);
  expect_host_intact();
}

// ---- B. Memory
TEST_F(SandboxIntegration, B10HugeAllocationIsMemory) {
  Verdict v = run("x = bytearray(10**11)\n");
  EXPECT_VERDICT(v, Status::kMemory);
}

TEST_F(SandboxIntegration, B11GradualGrowthIsOomKilled) {
  Verdict v = run("l = []\nwhile True:\n    l.append(b'x' * 2**20)\n", "bigcodebench", 20.0, 200);
  EXPECT_VERDICT(v, Status::kMemory);
  expect_host_intact();
}

TEST_F(SandboxIntegration, B13OvercommitTouchIsStopped) {
  Verdict v =
      run("import mmap\n"
          "m = mmap.mmap(-1, 2**40, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | "
          "getattr(mmap, 'MAP_NORESERVE', 0x4000))\n"
          "for i in range(0, 2**40, 4096):\n    m[i] = 1\n",
          "bigcodebench", 20.0, 200);
  EXPECT_VERDICT(v, Status::kMemory);
  expect_host_intact();
}

TEST_F(SandboxIntegration, B14ShmFillIsBounded) {
  Verdict v =
      run("with open('/dev/shm/fill', 'wb') as f:\n"
          "    for _ in range(10**4):\n        f.write(b'\\0' * 2**20)\n");
  EXPECT_VERDICT(v, Status::kError);
  EXPECT_EQ(v.error_type, "OSError");
  expect_host_intact();
}

TEST_F(SandboxIntegration, B15NumpyHugeArrayIsMemoryButImportWorks) {
  Verdict v = run("import numpy as np\nnp.zeros((10**6, 10**6))\n", "bigcodebench");
  EXPECT_VERDICT(v, Status::kMemory);
  EXPECT_NE(v.error_type.find("MemoryError"), std::string::npos) << v.error_type;
  EXPECT_VERDICT(run("import numpy, pandas\nassert numpy.arange(3).sum() == 3\n", "bigcodebench"),
                 Status::kPassed);
}

// ---- C. Processes and signals
TEST_F(SandboxIntegration, C17ForkBombEndsAndLeavesNothing) {
  Verdict v =
      run("import os\n"
          "while True:\n"
          "    try:\n        os.fork()\n"
          "    except OSError:\n        pass\n",
          "bigcodebench", 2.0);
  EXPECT_VERDICT(v, Status::kTimeout);
  expect_host_intact();
  Verdict s = run("import os\nos.fork()\n", "strict");
  EXPECT_VERDICT(s, Status::kError);
  EXPECT_EQ(s.error_type, "PermissionError");
}

TEST_F(SandboxIntegration, C18ThreadBombIsCapped) {
  Verdict v =
      run("import threading, time\n"
          "while True:\n"
          "    threading.Thread(target=time.sleep, args=(1e9,), daemon=True).start()\n",
          "strict", 5.0);
  EXPECT_VERDICT(v, Status::kError);
  EXPECT_EQ(v.error_type, "RuntimeError");  // can't start new thread
  expect_host_intact();
}

TEST_F(SandboxIntegration, C22ZombieFarmDoesNotLeakAcrossRuns) {
  const char* farm =
      "import os\n"
      "for _ in range(100):\n"
      "    if os.fork() == 0:\n        os._exit(0)\n";
  EXPECT_VERDICT(run(farm, "bigcodebench"), Status::kPassed);
  EXPECT_VERDICT(run(farm, "bigcodebench"), Status::kPassed);
  expect_host_intact();
}

// Kill the zygote mid-run: the run's processes die with it and the sandbox recovers.
TEST_F(SandboxIntegration, C25KillingTheSupervisorKillsTheRun) {
  run("pass\n");  // make sure the strict zygote runs
  pid_t zygote = 0;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string pid, paren, state;
    int ppid = 0;
    stat >> pid >> paren >> state >> ppid;
    if (name == "dstc-z-strict" && ppid == getpid()) zygote = atoi(e->d_name);
  }
  closedir(d);
  ASSERT_GT(zygote, 0);
  std::thread killer([&] {
    // Wait until the run's program is alive (a process with a run uid), then kill.
    for (int i = 0; i < 1000 && leftover_processes() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kill(zygote, SIGKILL);
  });
  // A zygote serves one profile; kill the strict one while a strict job sleeps.
  auto t0 = std::chrono::steady_clock::now();
  Verdict v = run("import time\ntime.sleep(30)\n", "strict", 30.0);
  killer.join();
  EXPECT_VERDICT(v, Status::kSandboxError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  expect_host_intact();  // includes a run on the restarted zygote
}

TEST_F(SandboxIntegration, C26PtraceDenied) {
  Verdict v =
      run("import ctypes\n"
          "libc = ctypes.CDLL(None, use_errno=True)\n"
          "assert libc.ptrace(0, 0, 0, 0) == -1\n"  // PTRACE_TRACEME
          "assert ctypes.get_errno() == 1\n"
          "assert libc.process_vm_readv(1, 0, 0, 0, 0, 0) == -1\n");
  EXPECT_VERDICT(v, Status::kPassed);
}

TEST_F(SandboxIntegration, C27SetuidBinariesGiveNothing) {
  Verdict v =
      run("import subprocess, os\n"
          "for cmd in (['su', '-c', 'id -u'], ['passwd', '-S', 'root']):\n"
          "    try:\n"
          "        r = subprocess.run(cmd, capture_output=True, text=True, timeout=5)\n"
          "        assert r.returncode != 0 or r.stdout.strip() != '0', r\n"
          "    except FileNotFoundError:\n        pass\n"
          "assert os.geteuid() != 0\n",
          "bigcodebench");
  EXPECT_VERDICT(v, Status::kPassed);
}

// ---- D. Filesystem
TEST_F(SandboxIntegration, D29WritesOutsideTheWorkdirFail) {
  Verdict v = run(
      "import glob\n"
      "for path, mode in [('/etc/passwd', 'a'), (glob.glob('/usr/lib/python3*/os.py')[0], 'w'),\n"
      "                   ('/bin/bash', 'wb'), ('/root/x', 'w'), ('/x', 'w')]:\n"
      "    try:\n        open(path, mode); ok = True\n"
      "    except OSError:\n        ok = False\n"
      "    assert not ok, path\n"
      "open('here.txt', 'w').write('fine')\n");
  EXPECT_VERDICT(v, Status::kPassed);
  expect_host_intact();
}

TEST_F(SandboxIntegration, D30NoPersistenceAcrossRuns) {
  const char* write =
      "import os\n"
      "for d in ('/tmp', '/dev/shm', '/var/tmp', '.'):\n"
      "    open(os.path.join(d, 'dstc-marker'), 'w').write('1')\n";
  const char* check =
      "import os\n"
      "for d in ('/tmp', '/dev/shm', '/var/tmp', '.'):\n"
      "    assert not os.path.exists(os.path.join(d, 'dstc-marker')), d\n";
  EXPECT_VERDICT(run(write), Status::kPassed);
  EXPECT_VERDICT(run(check), Status::kPassed);
  struct stat st;
  EXPECT_NE(stat("/tmp/dstc-marker", &st), 0);
}

TEST_F(SandboxIntegration, D31SecretsAreNotReadable) {
  setenv("DSTC_TEST_SECRET", "hunter2", 1);
  Verdict v =
      run("import os\n"
          "for p in ('/etc/shadow', '/root/.ssh/id_rsa', '/proc/1/environ'):\n"
          "    try:\n        data = open(p, 'rb').read()\n"
          "    except OSError:\n        data = b''\n"
          "    assert b'hunter2' not in data and b'root:' not in data, p\n"
          "assert 'DSTC_TEST_SECRET' not in os.environ\n"
          "try:\n    assert b'hunter2' not in open('/proc/self/environ', 'rb').read()\n"
          "except PermissionError:\n    pass  # not dumpable: root-owned\n");
  EXPECT_VERDICT(v, Status::kPassed);
}

TEST_F(SandboxIntegration, D33HardlinkBaitFails) {
  Verdict v =
      run("import os\n"
          "try:\n    os.link('/etc/shadow', 'x'); ok = True\n"
          "except OSError:\n    ok = False\n"
          "assert not ok\n");
  EXPECT_VERDICT(v, Status::kPassed);
}

TEST_F(SandboxIntegration, D34DiskFillStopsAtTheFileSizeLimit) {
  Verdict v =
      run("with open('big', 'wb') as f:\n"
          "    while True:\n        f.write(b'\\0' * 2**20)\n");
  EXPECT_VERDICT(v, Status::kError);
  EXPECT_NE(v.error_message.find("File too large"), std::string::npos) << v.error_message;
  expect_host_intact();
}

TEST_F(SandboxIntegration, D35InodeExhaustion) {
  Verdict v = run("i = 0\nwhile True:\n    open('f%d' % i, 'w').close(); i += 1\n", "strict", 20.0);
  EXPECT_VERDICT(v, Status::kError);
  EXPECT_NE(v.error_message.find("No space left"), std::string::npos) << v.error_message;
}

TEST_F(SandboxIntegration, D36FdExhaustion) {
  Verdict v = run("fs = []\nwhile True:\n    fs.append(open('/dev/null'))\n");
  EXPECT_VERDICT(v, Status::kError);
  EXPECT_NE(v.error_message.find("Too many open files"), std::string::npos) << v.error_message;
  expect_host_intact();
}

TEST_F(SandboxIntegration, D37ChrootMountUnshareDenied) {
  Verdict v =
      run("import os, ctypes\n"
          "libc = ctypes.CDLL(None, use_errno=True)\n"
          "try:\n    os.chroot('/tmp'); ok = True\n"
          "except PermissionError:\n    ok = False\n"
          "assert not ok\n"
          "assert libc.unshare(0x10000000 | 0x00020000) == -1\n"  // NEWUSER | NEWNS
          "assert libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == -1\n"
          "assert libc.syscall(155, b'/', b'/tmp') == -1\n");  // pivot_root
  EXPECT_VERDICT(v, Status::kPassed);
}

TEST_F(SandboxIntegration, D38DevicesAreAbsent) {
  Verdict v =
      run("import os, stat\n"
          "for p in ('/dev/mem', '/dev/kmsg', '/dev/sda', '/dev/vda', '/dev/tty', '/dev/port'):\n"
          "    try:\n        open(p, 'rb'); ok = True\n"
          "    except OSError:\n        ok = False\n"
          "    assert not ok, p\n"
          "try:\n    os.mknod('n', 0o600 | stat.S_IFCHR, os.makedev(1, 1)); ok = True\n"
          "except OSError:\n    ok = False\n"
          "assert not ok\n"
          "assert open('/dev/null', 'rb').read() == b''\n"
          "assert len(open('/dev/urandom', 'rb').read(16)) == 16\n");
  EXPECT_VERDICT(v, Status::kPassed);
}

// ---- E. Network
TEST_F(SandboxIntegration, E41OutboundFailsFast) {
  Verdict v =
      run("import socket, time, urllib.request\n"
          "t = time.time()\n"
          "for f in (lambda: socket.create_connection(('1.1.1.1', 80), timeout=5),\n"
          "          lambda: socket.getaddrinfo('example.com', 80),\n"
          "          lambda: urllib.request.urlopen('http://example.com', timeout=5)):\n"
          "    try:\n        f(); ok = True\n"
          "    except OSError:\n        ok = False\n"
          "    assert not ok\n"
          "assert time.time() - t < 4, time.time() - t\n",
          "bigcodebench");
  EXPECT_VERDICT(v, Status::kPassed);
  Verdict s = run("import socket\nsocket.socket()\n");
  EXPECT_VERDICT(s, Status::kError);
  EXPECT_EQ(s.error_type, "PermissionError");
}

TEST_F(SandboxIntegration, E42LoopbackHttpServerWorks) {
  Verdict v =
      run("import http.server, threading, urllib.request\n"
          "class H(http.server.BaseHTTPRequestHandler):\n"
          "    def do_GET(self):\n"
          "        self.send_response(200); self.end_headers(); self.wfile.write(b'pong')\n"
          "    def log_message(self, *a): pass\n"
          "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
          "threading.Thread(target=s.serve_forever, daemon=True).start()\n"
          "url = 'http://127.0.0.1:%d/' % s.server_address[1]\n"
          "assert urllib.request.urlopen(url, timeout=5).read() == b'pong'\n"
          "s.shutdown()\n",
          "bigcodebench");
  EXPECT_VERDICT(v, Status::kPassed);
}

TEST_F(SandboxIntegration, E44RawPacketNetlinkSocketsDenied) {
  Verdict v = run(
      "import socket\n"
      "for args in ((socket.AF_PACKET, socket.SOCK_RAW, 0), (socket.AF_INET, socket.SOCK_RAW, 1),\n"
      "             (socket.AF_NETLINK, socket.SOCK_RAW, 9), (40, socket.SOCK_STREAM, 0)):\n"
      "    try:\n        socket.socket(*args); ok = True\n"
      "    except OSError:\n        ok = False\n"
      "    assert not ok, args\n",
      "bigcodebench");
  EXPECT_VERDICT(v, Status::kPassed);
}

// Also I66: the same port, the same /tmp name and the same abstract socket in parallel.
TEST_F(SandboxIntegration, E45ParallelRunsDoNotInterfere) {
  Job job;
  job.profile = "bigcodebench";
  job.program =
      "import socket, time, os\n"
      "s = socket.socket(); s.bind(('127.0.0.1', 8765)); s.listen(1)\n"
      "u = socket.socket(socket.AF_UNIX); u.bind('\\0dstc-covert')\n"
      "assert not os.path.exists('/tmp/shared-name')\n"
      "open('/tmp/shared-name', 'w').write(str(os.getpid()))\n"
      "time.sleep(0.7)\n";
  auto verdicts = shared_sandbox().run_batch({job, job, job}, 3);
  for (const auto& v : verdicts) EXPECT_VERDICT(v, Status::kPassed);
  expect_host_intact();
}

// ---- F. Syscall filter probes (bad pointers: an allowed call fails harmlessly)
TEST_F(SandboxIntegration, F48to52DangerousSyscallsBlocked) {
  Verdict v = run(
      "import ctypes\n"
      "libc = ctypes.CDLL(None, use_errno=True)\n"
      "libc.syscall.restype = ctypes.c_long\n"
      "def call(nr, *args):\n"
      "    ctypes.set_errno(0)\n"
      "    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])\n"
      "    return r, ctypes.get_errno()\n"
      "EPERM, ENOSYS = 1, 38\n"
      "# 48: TIOCSTI with high bits set, TIOCLINUX\n"
      "assert call(16, 0, 0x5412 | (0x123 << 32), 0) == (-1, EPERM)\n"
      "assert call(16, 0, 0x541C, 0) == (-1, EPERM)\n"
      "# 50: io_uring_setup; 51: clone3 -> ENOSYS\n"
      "assert call(425, 1, 0) == (-1, EPERM)\n"
      "assert call(435, 0, 0) == (-1, ENOSYS)\n"
      "# 52: bpf, perf_event_open, userfaultfd, keyctl, add_key, kexec_load, init_module,\n"
      "# open_by_handle_at, personality(READ_IMPLIES_EXEC), modify_ldt, swapon, reboot, acct\n"
      "for nr, args in [(321, (0, 0, 0)), (298, (0, 0, 0, 0, 0)), (323, (0,)), (250, (0, 0)),\n"
      "                 (248, (0, 0, 0, 0, 0)), (246, (0, 0, 0, 0)), (175, (0, 0, 0)),\n"
      "                 (304, (0, 0, 0)), (135, (0x0400000,)), (154, (0, 0, 0)), (167, (0, 0)),\n"
      "                 (169, (0, 0, 0, 0)), (163, (0,))]:\n"
      "    assert call(nr, *args) == (-1, EPERM), nr\n"
      "assert call(135, 0xffffffff)[0] != -1  # personality query stays allowed\n");
  EXPECT_VERDICT(v, Status::kPassed);
}

TEST_F(SandboxIntegration, F5xOtherAbisKillTheProcess) {
  // i386 int 0x80 (getpid) from an executable page, and an x32 syscall number.
  Verdict i386 =
      run("import ctypes, mmap\n"
          "code = bytes([0xb8, 0x14, 0, 0, 0, 0xcd, 0x80, 0xc3])\n"
          "m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
          "m.write(code)\n"
          "addr = ctypes.addressof(ctypes.c_char.from_buffer(m))\n"
          "ctypes.CFUNCTYPE(ctypes.c_int)(addr)()\n");
  EXPECT_VERDICT(i386, Status::kKilled);
  EXPECT_EQ(i386.signal, SIGSYS);
  Verdict x32 =
      run("import ctypes\n"
          "ctypes.CDLL(None).syscall(ctypes.c_long(0x40000000 | 39))\n");
  EXPECT_VERDICT(x32, Status::kKilled);
  EXPECT_EQ(x32.signal, SIGSYS);
}

TEST_F(SandboxIntegration, F53FilterCoversThreadsAndChildren) {
  Verdict v =
      run("import ctypes, os, threading, subprocess, sys\n"
          "libc = ctypes.CDLL(None, use_errno=True)\n"
          "out = []\n"
          "t = threading.Thread(target=lambda: out.append(libc.ptrace(0, 0, 0, 0)))\n"
          "t.start(); t.join()\n"
          "assert out == [-1]\n"
          "pid = os.fork()\n"
          "if pid == 0:\n"
          "    os._exit(0 if libc.ptrace(0, 0, 0, 0) == -1 else 1)\n"
          "assert os.waitpid(pid, 0)[1] == 0\n"
          "r = subprocess.run([sys.executable, '-c', 'import ctypes; "
          "assert ctypes.CDLL(None).ptrace(0, 0, 0, 0) == -1'])\n"
          "assert r.returncode == 0\n",
          "bigcodebench");
  EXPECT_VERDICT(v, Status::kPassed);
}

// ---- G. Output handling
TEST_F(SandboxIntegration, G55InfinitePrintIsCapped) {
  Verdict v = run("while True:\n    print('x')\n", "strict", 10.0);
  EXPECT_VERDICT(v, Status::kOutputLimit);
  EXPECT_TRUE(v.stdout_truncated);
  EXPECT_EQ(v.stdout_text.size(), 1u << 20);
  expect_host_intact();
}

TEST_F(SandboxIntegration, G56HugeSingleLineIsCapped) {
  Verdict v = run("import sys\nsys.stdout.write('x' * 2**26)\n");
  EXPECT_VERDICT(v, Status::kOutputLimit);
  EXPECT_EQ(v.stdout_text.size(), 1u << 20);
}

TEST_F(SandboxIntegration, G58StderrFloodWithQuietStdout) {
  Verdict v = run(
      "import sys\nprint('a little', flush=True)\nwhile True:\n    sys.stderr.write('e' * 4096)\n");
  EXPECT_VERDICT(v, Status::kOutputLimit);
  EXPECT_TRUE(v.stderr_truncated);
  EXPECT_FALSE(v.stdout_truncated);
  EXPECT_EQ(v.stdout_text, "a little\n");
}

TEST_F(SandboxIntegration, G59BinaryOutputStaysValidJson) {
  Verdict v = run("import os\nos.write(1, b'\\xff\\xfe\\x00\\x1b[31m\\r\\n')\n");
  EXPECT_VERDICT(v, Status::kPassed);
  EXPECT_EQ(v.stdout_text, std::string("\xff\xfe\0\x1b[31m\r\n", 10));
  auto parsed = parse_json(verdict_to_json(v).dump(), "verdict");
  EXPECT_TRUE(parsed);
}

TEST_F(SandboxIntegration, G60ForgedVerdictTextChangesNothing) {
  Verdict v =
      run("print('{\"status\": \"passed\"}')\nprint('PASSED')\nprint('DSTC' + '0' * 32 + ' p')\n"
          "assert False, 'really failed'\n");
  EXPECT_VERDICT(v, Status::kFailed);
  EXPECT_EQ(v.error_message, "really failed");
  EXPECT_EQ(v.exit_code, 1);
}

TEST_F(SandboxIntegration, G61FdGamesStillCapturedAndJudged) {
  Verdict v = run("import os\nos.write(1, b'raw')\nos.close(1)\nos.close(2)\nassert False\n");
  EXPECT_VERDICT(v, Status::kFailed);
  EXPECT_EQ(v.stdout_text, "raw");
}

// ---- H. Evaluation integrity: nothing but reaching the end is `passed`
TEST_F(SandboxIntegration, HEarlyExitsAndForgedRecordsNeverPass) {
  Verdict a = run("import os\nos._exit(0)\nassert False\n");
  EXPECT_VERDICT(a, Status::kError);
  EXPECT_EQ(a.exit_code, 0);
  Verdict b = run("import sys\nsys.exit(0)\nassert False\n");
  EXPECT_VERDICT(b, Status::kError);
  EXPECT_EQ(b.error_type, "SystemExit");
  EXPECT_EQ(b.exit_code, 0);
  Verdict c =
      run("import os\n"
          "for fd in range(3, 64):\n"
          "    try:\n        os.write(fd, b'DSTC' + b'0' * 32 + b' p\\n\\n')\n"
          "    except OSError:\n        pass\n"
          "os._exit(0)\n");
  EXPECT_VERDICT(c, Status::kError);
  Verdict d =
      run("import unittest, sys\n"
          "unittest.TestCase.run = lambda self, result=None: result\n"
          "sys.exit(0)\n");
  EXPECT_VERDICT(d, Status::kError);
  Verdict e = run("import atexit\natexit.register(print, 'PASSED')\nassert 1 == 2\n");
  EXPECT_VERDICT(e, Status::kFailed);
  Verdict f = run("raise KeyboardInterrupt\n");
  EXPECT_VERDICT(f, Status::kError);
  EXPECT_EQ(f.error_type, "KeyboardInterrupt");
}

// ---- J. Core dumps
TEST_F(SandboxIntegration, J71AbortLeavesNoCore) {
  Verdict v = run("import os\nos.abort()\n");
  EXPECT_VERDICT(v, Status::kKilled);
  EXPECT_EQ(v.signal, SIGABRT);
  struct stat st;
  EXPECT_NE(stat("core", &st), 0);
}

// ---- I69: a crashed supervisor's cgroups are reaped by the next one.
TEST_F(SandboxIntegration, I69StaleCgroupsAreReaped) {
  const std::string stale = "/sys/fs/cgroup/pids/dstc/z999999";
  struct stat st;
  if (stat("/sys/fs/cgroup/pids/dstc", &st) != 0) GTEST_SKIP() << "no pids cgroup here";
  ASSERT_EQ(mkdir(stale.c_str(), 0755) == 0 || errno == EEXIST, true);
  ASSERT_EQ(mkdir((stale + "/s0").c_str(), 0755) == 0 || errno == EEXIST, true);
  SandboxOptions o;
  o.uid_base = test_uid_base();
  auto sb = Sandbox::create(o);
  ASSERT_TRUE(sb);
  Job job;
  job.program = "pass\n";
  EXPECT_VERDICT((*sb)->run(job), Status::kPassed);
  EXPECT_NE(stat(stale.c_str(), &st), 0);
}

}  // namespace
}  // namespace dstc::sandbox::testing
