// Legitimate programs keep working, HumanEval's canonical programs pass and their
// `return None` versions fail, large programs travel intact, and the exec path agrees.
#include <unistd.h>

#include "common/file.h"
#include "common/json.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace dstc::sandbox::testing {
namespace {

class SandboxPrograms : public ::testing::Test {};

TEST_F(SandboxPrograms, StdlibProgramPasses) {
  Verdict v =
      run("import collections, itertools, functools, heapq, json, re, math, fractions, datetime\n"
          "c = collections.Counter('abracadabra')\n"
          "assert c.most_common(1) == [('a', 5)]\n"
          "assert list(itertools.accumulate([1, 2, 3])) == [1, 3, 6]\n"
          "assert json.loads(json.dumps({'a': [1, 2]})) == {'a': [1, 2]}\n"
          "assert re.findall(r'\\d+', 'a1b22') == ['1', '22']\n"
          "assert math.isclose(fractions.Fraction(1, 3) * 3, 1)\n"
          "print('hello', datetime.date(2024, 1, 2).isoformat())\n");
  EXPECT_VERDICT(v, Status::kPassed);
  EXPECT_EQ(v.stdout_text, "hello 2024-01-02\n");
  EXPECT_GT(v.peak_rss_kb, 0);
}

TEST_F(SandboxPrograms, ErrorKeepsTypeAndMessageTail) {
  Verdict v = run("def f(x):\n    return x[3]\nf([1])\n");
  EXPECT_VERDICT(v, Status::kError);
  EXPECT_EQ(v.error_type, "IndexError");
  EXPECT_EQ(v.error_message, "list index out of range");
  EXPECT_NE(v.stderr_text.find("line 2, in f"), std::string::npos) << v.stderr_text;
  Verdict s = run("def f(:\n");
  EXPECT_VERDICT(s, Status::kError);
  EXPECT_EQ(s.error_type, "SyntaxError");
}

TEST_F(SandboxPrograms, LargeProgramTravelsByPipe) {
  // Larger than MAX_ARG_STRLEN (128 KiB): never passed through argv.
  std::string big = "data = '" + std::string(800 * 1024, 'x') +
                    "'\nassert len(data) == " + std::to_string(800 * 1024) + "\n";
  EXPECT_VERDICT(run(big), Status::kPassed);
}

TEST_F(SandboxPrograms, ThreadsWorkInStrict) {
  Verdict v =
      run("import threading\nout = []\n"
          "ts = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]\n"
          "[t.start() for t in ts]; [t.join() for t in ts]\nassert sorted(out) == [0, 1, 2, 3]\n");
  EXPECT_VERDICT(v, Status::kPassed);
}

TEST_F(SandboxIntegration, C19And54BigCodeBenchLibrariesAndParallelism) {
  Verdict v =
      run("import numpy as np, pandas as pd, multiprocessing, subprocess, tempfile, socket, os\n"
          "def sq(x):\n    return x * x\n"
          "assert np.arange(10).sum() == 45\n"
          "df = pd.DataFrame({'a': [1, 2, 3]})\nassert df['a'].mean() == 2\n"
          "with multiprocessing.Pool(4) as p:\n    assert p.map(sq, range(100))[99] == 9801\n"
          "r = subprocess.run(['ls', '/'], capture_output=True, text=True)\n"
          "assert r.returncode == 0 and 'usr' in r.stdout\n"
          "with tempfile.TemporaryDirectory() as d:\n"
          "    open(os.path.join(d, 'x'), 'w').write('1')\n"
          "a, b = socket.socketpair()\na.sendall(b'hi')\nassert b.recv(2) == b'hi'\n"
          "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
          "c = socket.create_connection(s.getsockname()); conn, _ = s.accept()\n"
          "c.sendall(b'ping'); assert conn.recv(4) == b'ping'\n",
          "bigcodebench");
  EXPECT_VERDICT(v, Status::kPassed);
}

// The exec path (fresh `python3 -I` per run) gives the same verdicts.
TEST_F(SandboxIntegration, ExecPathFallbackAgrees) {
  SandboxOptions o;
  o.uid_base = test_uid_base();
  o.use_zygote = false;
  auto sb = Sandbox::create(o);
  ASSERT_TRUE(sb) << sb.error().message();
  auto layers = (*sb)->layers("strict");
  ASSERT_TRUE(layers);
  for (const auto& l : *layers) {
    if (l.name == "zygote") {
      EXPECT_FALSE(l.active);
    }
    if (l.name == "seccomp filter") {
      EXPECT_TRUE(l.active) << l.detail;
    }
  }
  std::vector<std::pair<std::string, Status>> cases = {
      {"print('hi')\nassert 1 + 1 == 2\n", Status::kPassed},
      {"assert 1 == 2\n", Status::kFailed},
      {"1 / 0\n", Status::kError},
      {"import os\nos._exit(0)\n", Status::kError},
      {"import sys\nsys.exit(0)\n", Status::kError},
      {"import os\nos.fork()\n", Status::kError},
      {"while True:\n    pass\n", Status::kTimeout},
  };
  for (const auto& [src, want] : cases) {
    Job job;
    job.program = src;
    job.timeout_seconds = 2.0;
    Verdict v = (*sb)->run(job);
    EXPECT_VERDICT(v, want) << "\nprogram: " << src;
  }
  EXPECT_EQ(leftover_processes(), 0);
}

// HumanEval's programs: prompt + solution + "\n" + test + "\n" + "check(entry_point)".
std::string humaneval_program(const Json& t, const std::string& solution) {
  return t["prompt"].get<std::string>() + solution + "\n" + t["test"].get<std::string>() + "\n" +
         "check(" + t["entry_point"].get<std::string>() + ")\n";
}

// A HumanEval-shaped task written for this test, so the check runs without ../shared.
TEST_F(SandboxPrograms, HumanEvalShapedTaskPassesAndReturnNoneFails) {
  Json t{{"prompt", "def add(a: int, b: int) -> int:\n    \"\"\"Add two numbers.\"\"\"\n"},
         {"test",
          "def check(candidate):\n    assert candidate(2, 3) == 5\n"
          "    assert candidate(-1, 1) == 0\n"},
         {"entry_point", "add"}};
  EXPECT_VERDICT(run(humaneval_program(t, "    return a + b\n")), Status::kPassed);
  EXPECT_VERDICT(run(humaneval_program(t, "    return None\n")), Status::kFailed);
}

class SandboxSlow : public ::testing::Test {};

TEST_F(SandboxSlow, HumanEvalCanonicalPassAndReturnNoneFail) {
  const std::string path = std::string(DSTC_SHARED_DIR) + "/benchmarks/HumanEval.jsonl.gz";
  if (access(path.c_str(), R_OK) != 0) {
    GTEST_SKIP() << "SKIPPED: " << path << " not present (../shared/benchmarks)";
  }
  auto text = read_maybe_gzip(path);
  ASSERT_TRUE(text);
  std::vector<Json> tasks;
  ASSERT_TRUE(for_each_jsonl(*text, path, [&](size_t, const Json& t) -> ::dstc::Status {
    tasks.push_back(t);
    return {};
  }));
  ASSERT_EQ(tasks.size(), 164u);
  std::vector<Job> jobs;
  for (const auto& t : tasks) {
    Job good;
    good.id = t["task_id"].get<std::string>();
    good.program = humaneval_program(t, t["canonical_solution"].get<std::string>());
    jobs.push_back(good);
    Job none = good;
    none.id += "/none";
    none.program = humaneval_program(t, "    return None\n");
    jobs.push_back(none);
  }
  auto verdicts = shared_sandbox().run_batch(jobs, 2);
  int passed = 0, none_failed = 0;
  for (size_t i = 0; i < jobs.size(); i += 2) {
    EXPECT_VERDICT(verdicts[i], Status::kPassed) << jobs[i].id;
    EXPECT_NE(verdicts[i + 1].status, Status::kPassed) << jobs[i + 1].id;
    passed += verdicts[i].status == Status::kPassed;
    none_failed += verdicts[i + 1].status != Status::kPassed;
  }
  EXPECT_EQ(passed, 164);
  EXPECT_EQ(none_failed, 164);
  EXPECT_EQ(leftover_processes(), 0);
}

// I67: many short runs leave nothing behind in the supervisor.
TEST_F(SandboxSlow, CleanupUnderLoad) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  auto count_fds = [] {
    int n = 0;
    DIR* d = opendir("/proc/self/fd");
    while (readdir(d)) ++n;
    closedir(d);
    return n;
  };
  run("pass\n");
  const int fds_before = count_fds();
  std::vector<Job> jobs(300);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].program = "import os\nopen('/tmp/x', 'w').write('%d' % os.getpid())\n";
  }
  auto verdicts = shared_sandbox().run_batch(jobs, 4);
  for (const auto& v : verdicts) ASSERT_EQ(v.status, Status::kPassed) << v.reason;
  EXPECT_EQ(count_fds(), fds_before);
  EXPECT_EQ(leftover_processes(), 0);
  // One cgroup per slot at most, never one per run.
  int slots = 0;
  if (DIR* d = opendir("/sys/fs/cgroup/pids/dstc")) {
    while (dirent* e = readdir(d)) {
      std::string z = std::string("/sys/fs/cgroup/pids/dstc/") + e->d_name;
      if (e->d_name[0] != 'z') continue;
      if (DIR* s = opendir(z.c_str())) {
        while (dirent* x = readdir(s)) slots += x->d_name[0] == 's';
        closedir(s);
      }
    }
    closedir(d);
  }
  EXPECT_LE(slots, 64);
}

}  // namespace
}  // namespace dstc::sandbox::testing
