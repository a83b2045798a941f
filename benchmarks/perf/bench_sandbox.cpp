// bench_sandbox: HumanEval's 164 canonical programs × 5 (820 runs, parallelism 2) through
// the sandbox with every layer on, and through a naive `python3 FILE` per run, in the same
// process. Prints one JSON line per configuration and a summary with the ratio and
// whether the verdicts agree.
//   bench_sandbox [--data HumanEval.jsonl.gz] [--repeat 5] [--parallel 2] [--exec-path]
#include <unistd.h>

#include <atomic>
#include <boost/process.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/json.h"
#include "common/thread_pool.h"
#include "sandbox/sandbox.h"

namespace bp = boost::process;
using namespace dstc;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The naive baseline: one fresh interpreter per program, passed iff it exits 0.
bool run_naive(const std::string& python, const std::string& dir, size_t i,
               const std::string& program) {
  const std::string path = dir + "/p" + std::to_string(i) + ".py";
  if (!write_file_atomic(path, program)) return false;
  std::error_code ec;
  bp::child c(python, path, bp::std_out > bp::null, bp::std_err > bp::null, bp::std_in < bp::null,
              bp::start_dir(dir), ec);
  if (ec) return false;
  c.wait(ec);  // (Boost 1.74's wait_for can spin forever; the programs all terminate)
  std::filesystem::remove(path, ec);
  return c.exit_code() == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data;
  int repeat = 5;
  size_t parallel = 2;
  bool exec_path = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) {
      data = argv[++i];
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else if (a == "--parallel" && i + 1 < argc) {
      parallel = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--exec-path") {
      exec_path = true;
    } else {
      std::fprintf(stderr,
                   "usage: bench_sandbox [--data HumanEval.jsonl.gz] [--repeat N] "
                   "[--parallel N] [--exec-path]\n");
      return 2;
    }
  }
  if (data.empty()) {
    for (const char* c :
         {"../shared/benchmarks/HumanEval.jsonl.gz", "../../shared/benchmarks/HumanEval.jsonl.gz",
          "/work/shared/benchmarks/HumanEval.jsonl.gz"}) {
      if (access(c, R_OK) == 0) {
        data = c;
        break;
      }
    }
  }
  auto text = read_maybe_gzip(data);
  if (data.empty() || !text) {
    std::fprintf(stderr, "bench_sandbox: HumanEval.jsonl.gz not found; pass --data PATH\n");
    return 2;
  }
  std::vector<std::string> programs;
  auto st = for_each_jsonl(*text, data, [&](size_t, const Json& t) -> Status {
    programs.push_back(t["prompt"].get<std::string>() + t["canonical_solution"].get<std::string>() +
                       "\n" + t["test"].get<std::string>() + "\n" + "check(" +
                       t["entry_point"].get<std::string>() + ")\n");
    return {};
  });
  if (!st) {
    std::fprintf(stderr, "bench_sandbox: %s\n", st.error().message().c_str());
    return 1;
  }
  std::vector<sandbox::Job> jobs;
  for (int r = 0; r < repeat; ++r) {
    for (size_t i = 0; i < programs.size(); ++i) {
      sandbox::Job job;
      job.id = std::to_string(i);
      job.program = programs[i];
      jobs.push_back(std::move(job));
    }
  }

  sandbox::SandboxOptions options;
  options.use_zygote = !exec_path;
  auto sb = sandbox::Sandbox::create(options);
  if (!sb) {
    std::fprintf(stderr, "bench_sandbox: %s\n", sb.error().message().c_str());
    return 1;
  }
  auto layers = (*sb)->layers("strict");
  size_t active = 0, total = 0;
  if (layers) {
    for (auto& l : *layers) active += l.active, total += 1;
  }
  // Warm-up: start the zygote outside the timed region (a one-time cost per process).
  (*sb)->run(jobs[0]);

  auto t0 = std::chrono::steady_clock::now();
  auto verdicts = (*sb)->run_batch(jobs, parallel);
  const double sandbox_s = seconds_since(t0);
  std::fprintf(stderr, "bench_sandbox: sandbox %zu runs in %.1f s; naive next\n", jobs.size(),
               sandbox_s);
  size_t sandbox_passed = 0;
  for (auto& v : verdicts) sandbox_passed += v.status == sandbox::Status::kPassed;

  char tmpl[] = "/tmp/bench-sandbox-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::vector<char> naive(jobs.size());
  t0 = std::chrono::steady_clock::now();
  {
    ThreadPool pool(parallel);
    pool.parallel_for(jobs.size(), [&](size_t i) {
      naive[i] = run_naive("/usr/bin/python3", dir, i, jobs[i].program);
    });
  }
  const double naive_s = seconds_since(t0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  size_t naive_passed = 0, agree = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    naive_passed += naive[i];
    agree += (verdicts[i].status == sandbox::Status::kPassed) == static_cast<bool>(naive[i]);
  }
  const double sandbox_rate = jobs.size() / sandbox_s, naive_rate = jobs.size() / naive_s;
  Json a{{"bench", "sandbox"},
         {"config", exec_path ? "sandbox_exec_path" : "sandbox_zygote"},
         {"runs", jobs.size()},
         {"parallel", parallel},
         {"seconds", sandbox_s},
         {"programs_per_s", sandbox_rate},
         {"passed", sandbox_passed},
         {"layers_active", std::to_string(active) + "/" + std::to_string(total)}};
  Json b{{"bench", "sandbox"},    {"config", "naive_python3_per_run"},
         {"runs", jobs.size()},   {"parallel", parallel},
         {"seconds", naive_s},    {"programs_per_s", naive_rate},
         {"passed", naive_passed}};
  Json s{{"bench", "sandbox"},
         {"config", "summary"},
         {"ratio_vs_naive", sandbox_rate / naive_rate},
         {"verdicts_identical", agree == jobs.size()},
         {"agreeing", agree},
         {"runs", jobs.size()}};
  std::printf("%s\n%s\n%s\n", a.dump().c_str(), b.dump().c_str(), s.dump().c_str());
  return 0;
}
