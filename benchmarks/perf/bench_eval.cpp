// bench_eval: programs/s of each benchmark's canonical run through the sandbox, next to
// the naive baseline measured in the same run: each program written to a file and run as
// `/usr/bin/python3 FILE`, one process per program, `parallel` at a time (the
// DESIGN.md §8 reference point: 93.5/s for HumanEval with 2 in parallel).
//
//   bench_eval [DATA_DIR (default ../shared/benchmarks)] [--parallel N] [--limit N]
//
// One JSON line per benchmark: programs, sandbox_per_s, naive_per_s, ratio, and how many
// programs passed each way (they must agree).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/evaluate.h"
#include "benchmarks/programs.h"
#include "common/json.h"

namespace bm = dstc::benchmarks;
namespace sb = dstc::sandbox;
namespace fs = std::filesystem;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `/usr/bin/python3 FILE` for every file, `parallel` at a time, each killed after
// `timeouts[i]` seconds. Returns how many exited 0.
size_t run_naive(const std::vector<std::string>& files, const std::vector<double>& timeouts,
                 size_t parallel) {
  struct Running {
    pid_t pid;
    double deadline;
  };
  std::vector<Running> running;
  size_t next = 0, passed = 0;
  while (next < files.size() || !running.empty()) {
    while (running.size() < parallel && next < files.size()) {
      pid_t pid = fork();
      if (pid == 0) {
        int null = ::open("/dev/null", 0);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execl("/usr/bin/python3", "python3", files[next].c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      running.push_back({pid, now() + timeouts[next]});
      ++next;
    }
    int status = 0;
    pid_t done = waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      for (size_t i = 0; i < running.size(); ++i) {
        if (running[i].pid == done) {
          running.erase(running.begin() + static_cast<long>(i));
          break;
        }
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++passed;
      continue;
    }
    const double t = now();
    for (auto& r : running) {
      if (t > r.deadline) kill(r.pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return passed;
}

struct Spec {
  bm::Benchmark benchmark;
  std::string file;
  std::string split;
};

}  // namespace

int main(int argc, char** argv) {
  // Default: ../shared/benchmarks beside the source tree this was built from.
  std::string data_dir =
      (fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared" /
       "benchmarks")
          .string();
  size_t parallel = 2, limit = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--parallel" && i + 1 < argc) {
      parallel = std::stoul(argv[++i]);
    } else if (a == "--limit" && i + 1 < argc) {
      limit = std::stoul(argv[++i]);
    } else {
      data_dir = a;
    }
  }
  auto sandbox = sb::Sandbox::create();
  if (!sandbox) {
    std::fprintf(stderr, "bench_eval: %s\n", sandbox.error().message().c_str());
    return 1;
  }
  const std::vector<Spec> specs = {
      {bm::Benchmark::kHumanEval, "HumanEval.jsonl.gz", ""},
      {bm::Benchmark::kMbppSanitized, "sanitized-mbpp.json", "all"},
      {bm::Benchmark::kHumanEvalPlus, "HumanEvalPlus-Mini.jsonl.gz", ""},
      {bm::Benchmark::kMbppPlus, "MbppPlus.jsonl.gz", ""},
      {bm::Benchmark::kBigCodeBench, "BigCodeBench.jsonl.gz", "complete"},
  };
  const std::string tmp =
      (fs::temp_directory_path() / ("bench_eval_" + std::to_string(getpid()))).string();
  bm::EvalOptions opt;
  opt.parallel = parallel;
  opt.cache_dir = (fs::temp_directory_path() / "dstc_eval_cache").string();
  for (const auto& spec : specs) {
    const std::string path = data_dir + "/" + spec.file;
    if (!fs::exists(path)) {
      std::fprintf(stderr, "bench_eval: skipping %s (no %s)\n",
                   std::string(bm::benchmark_name(spec.benchmark)).c_str(), path.c_str());
      continue;
    }
    auto ds = bm::load_dataset(spec.benchmark, path, {spec.split});
    if (!ds) {
      std::fprintf(stderr, "bench_eval: %s\n", ds.error().message().c_str());
      return 1;
    }
    std::vector<const bm::Task*> tasks;
    for (const auto& t : ds->tasks) tasks.push_back(&t);
    std::set<std::string> missing;
    if (spec.benchmark == bm::Benchmark::kBigCodeBench) {
      // Only tasks whose libraries import here; the rest would be skipped by evaluate().
      std::set<std::string> libs;
      for (const auto* t : tasks) libs.insert(t->libs.begin(), t->libs.end());
      sb::Job probe;
      probe.id = "libs";
      probe.program = bm::missing_libs_program({libs.begin(), libs.end()});
      probe.profile = "bigcodebench";
      probe.timeout_seconds = 300.0;
      auto v = (*sandbox)->run(probe);
      auto list = dstc::parse_json(v.stdout_text.substr(v.stdout_text.rfind('[')), "probe");
      if (list) {
        for (const auto& m : *list) missing.insert(m.get<std::string>());
      }
      std::vector<const bm::Task*> kept;
      for (const auto* t : tasks) {
        bool ok = true;
        for (const auto& l : t->libs) ok = ok && !missing.count(l);
        if (ok) kept.push_back(t);
      }
      tasks = kept;
    }
    if (limit > 0 && tasks.size() > limit) tasks.resize(limit);
    // The exact programs evaluate() runs for canonical solutions.
    std::vector<sb::Job> jobs;
    std::map<std::string, std::pair<bm::GroundTruth, bm::GroundTruth>> truth;
    if (bm::is_evalplus(spec.benchmark)) {
      auto gt = bm::evalplus_ground_truth(*ds, tasks, **sandbox, opt);
      if (!gt) {
        std::fprintf(stderr, "bench_eval: %s\n", gt.error().message().c_str());
        return 1;
      }
      truth = std::move(*gt);
    }
    for (const auto* t : tasks) {
      sb::Job job;
      job.id = t->task_id;
      switch (spec.benchmark) {
        case bm::Benchmark::kHumanEval:
          job.program = bm::humaneval_program(*t, t->canonical);
          job.timeout_seconds = 10;
          jobs.push_back(job);
          break;
        case bm::Benchmark::kMbpp:
        case bm::Benchmark::kMbppSanitized:
          job.program = bm::mbpp_program(*t, t->canonical);
          job.timeout_seconds = 30;
          jobs.push_back(job);
          break;
        case bm::Benchmark::kBigCodeBench:
          job.program = bm::bigcodebench_program(*t, t->canonical);
          job.profile = "bigcodebench";
          job.timeout_seconds = 120;
          jobs.push_back(job);
          break;
        default:
          for (bool plus : {false, true}) {
            const auto& g = plus ? truth[t->task_id].second : truth[t->task_id].first;
            if (!g.error.empty()) continue;
            std::vector<double> limits;
            double sum = 0;
            for (double s : g.seconds) {
              limits.push_back(std::max(opt.min_time_limit, opt.gt_time_limit_factor * s));
              sum += limits.back();
            }
            job.program =
                bm::evalplus_check_program(spec.benchmark, *t, plus, t->canonical, g.blob, limits);
            job.timeout_seconds = std::max(std::min(60.0, sum), 2.0 * g.wall_seconds) + 3.0;
            job.memory_mb = opt.evalplus_memory_mb;
            jobs.push_back(job);
          }
      }
    }
    // Sandbox: zygote forks, isolation layers on.
    double t0 = now();
    auto verdicts = (*sandbox)->run_batch(jobs, parallel);
    double sandbox_s = now() - t0;
    size_t sandbox_passed = 0;
    for (const auto& v : verdicts) sandbox_passed += v.status == sb::Status::kPassed;
    // Naive: one fresh python3 process per program file.
    fs::create_directories(tmp);
    std::vector<std::string> files;
    std::vector<double> timeouts;
    for (size_t i = 0; i < jobs.size(); ++i) {
      files.push_back(tmp + "/p" + std::to_string(i) + ".py");
      std::ofstream(files.back()) << jobs[i].program;
      timeouts.push_back(*jobs[i].timeout_seconds);
    }
    t0 = now();
    size_t naive_passed = run_naive(files, timeouts, parallel);
    double naive_s = now() - t0;
    fs::remove_all(tmp);
    const double sps = jobs.size() / sandbox_s, nps = jobs.size() / naive_s;
    dstc::Json line{{"bench", "eval"},
                    {"benchmark", std::string(bm::benchmark_name(spec.benchmark))},
                    {"tasks", tasks.size()},
                    {"programs", jobs.size()},
                    {"parallel", parallel},
                    {"sandbox_per_s", sps},
                    {"naive_python3_per_s", nps},
                    {"ratio", sps / nps},
                    {"sandbox_passed", sandbox_passed},
                    {"naive_passed", naive_passed}};
    if (!missing.empty()) line["skipped_missing_libs"] = ds->tasks.size() - tasks.size();
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
