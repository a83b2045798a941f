// Benchmark datasets read from the user's files, unchanged (DESIGN.md §4): HumanEval,
// MBPP (full and sanitized), EvalPlus HumanEval+ / MBPP+ and BigCodeBench, gzip or plain.
//
//   DSTC_TRY(auto ds, load_dataset(Benchmark::kHumanEval, "HumanEval.jsonl.gz"));
//   for (const Task& t : ds.tasks) ...
//
// Every task is normalised to one shape: `prompt` is the code a completion continues
// (so `prompt + completion` is a program), `canonical` is a whole program that solves it.
// Errors name the file and the 1-based line (or array index) of a malformed record.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace dstc::benchmarks {

enum class Benchmark {
  kHumanEval,
  kHumanEvalPlus,
  kMbpp,
  kMbppSanitized,
  kMbppPlus,
  kBigCodeBench,
};

// "humaneval", "humaneval+", "mbpp", "mbpp-sanitized", "mbpp+", "bigcodebench".
std::string_view benchmark_name(Benchmark b);
Result<Benchmark> benchmark_from_name(std::string_view name);
std::vector<std::string> benchmark_names();
bool is_evalplus(Benchmark b);  // humaneval+ and mbpp+

struct Task {
  std::string task_id;      // "HumanEval/0", "Mbpp/11" (MBPP's integer ids get the prefix)
  std::string prompt;       // completion-mode prefix; prompt + completion is the program
  std::string instruction;  // instruct-mode problem statement (wrapped by prompts.h)
  std::string entry_point;  // function under test ("" when the benchmark has none)
  std::string canonical;    // a whole program solving the task (prompt already joined)
  std::string test;         // HumanEval `check`, BigCodeBench `TestCases` source
  std::vector<std::string> test_list;  // MBPP assert lines
  std::string test_setup;              // MBPP test_setup_code / sanitized test_imports
  std::string split;                   // MBPP: prompt|test|validation|train; BCB: split
  // EvalPlus: the raw JSON text of the argument lists (kept raw because they hold
  // integers beyond 64 bits and NaN/Infinity, which only Python's json reads).
  std::string base_input_json;
  std::string plus_input_json;
  size_t base_count = 0;  // number of inputs in each
  size_t plus_count = 0;
  double atol = 0;
  std::string contract;           // EvalPlus input contract (informational; not used in scoring)
  std::vector<std::string> libs;  // BigCodeBench modules the task imports
};

struct Dataset {
  Benchmark benchmark = Benchmark::kHumanEval;
  std::string path;
  std::string split;    // MBPP: which split was kept; BigCodeBench: complete|instruct
  std::string version;  // content hash of the file (cache key for expected outputs)
  std::vector<Task> tasks;

  const Task* find(std::string_view task_id) const;
};

struct LoadOptions {
  // MBPP / MBPP sanitized: "test" (ids 11-510, the default), "train" (601-974),
  // "validation" (511-600), "prompt" (1-10) or "all". BigCodeBench: "complete" (default)
  // or "instruct". Others: must be empty or "all".
  std::string split;
};

Result<Dataset> load_dataset(Benchmark benchmark, const std::string& path,
                             const LoadOptions& options = {});

// MBPP's official split of an integer task id.
std::string mbpp_split_of(int64_t id);

// Accepts "HumanEval/3", "Mbpp/11", 11 or "11" and returns the dataset's spelling.
std::string normalize_task_id(Benchmark benchmark, const Json& id);

namespace detail {
// Splits one JSON object line into its top-level members' raw texts, so that selected
// members can be kept raw and the rest parsed with nlohmann. Errors say what is wrong.
Result<std::vector<std::pair<std::string, std::string>>> split_top_level(std::string_view line);
}  // namespace detail

}  // namespace dstc::benchmarks
