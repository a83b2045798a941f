// Typed records of the run store, one struct per column family. Values are
// serialised with a schema version (store/codec.h); nothing outside store/ sees how.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dstc::store {

// A programming prompt: imported once per run, not per round.
struct Problem {
  std::string task_id;             // unique, e.g. "HumanEval/0" or "toy/train/00017"
  std::string prompt;              // signature + docstring (HumanEval style) or an instruction
  std::string entry_point;         // function name tests call; may be empty
  std::string canonical_solution;  // optional; used for audits and the toy world
  std::string hidden_tests;        // optional ground-truth test code (never shown to the model)
  std::string split;               // "train", "eval", ...
};

enum class SampleKind { kCode, kTest };

// How a sample was produced (stored with every sample for provenance).
struct SamplingInfo {
  std::string model_id;  // checkpoint path or served model name (+ content hash)
  double temperature = 0.0;
  double top_p = 1.0;
  int top_k = 0;
  int max_new_tokens = 0;
  uint64_t seed = 0;
};

// One generated solution or test. `program` is what the sandbox executes (extracted
// from `raw`); responses built for training use it verbatim.
struct Sample {
  uint32_t round = 0;
  std::string task_id;
  SampleKind kind = SampleKind::kCode;
  uint32_t index = 0;
  std::string raw;      // the model's full output
  std::string program;  // extracted code
  SamplingInfo sampling;
};

// Pseudo indices of executions that are not code_j ⊕ test_k cells: code_j against the
// hidden ground-truth tests (pair audit, pass@J headroom), and the canonical solution
// against test_k (self-test validity).
inline constexpr uint32_t kHiddenTestIndex = 99999999;
inline constexpr uint32_t kCanonicalCodeIndex = 99999998;

// One verdict of the sandbox for code_j ⊕ test_k.
struct Execution {
  uint32_t round = 0;
  std::string task_id;
  uint32_t code_index = 0;
  uint32_t test_index = 0;
  std::string status;  // sandbox verdict name: passed, failed, error, timeout, ...
  double wall_ms = 0;
  double cpu_ms = 0;
  std::string detail;  // error type / message tail, if any
};

// A DPO preference pair as TRL expects it, plus where it came from.
struct Pair {
  uint32_t round = 0;
  std::string task_id;
  std::string selector;  // "dstc", "code-only", "random", ...
  uint32_t index = 0;
  std::string prompt;
  std::string chosen;
  std::string rejected;
  int32_t chosen_code = -1, chosen_test = -1;
  int32_t rejected_code = -1, rejected_test = -1;
  double chosen_score = 0, rejected_score = 0;  // e.g. fraction of tests passed
};

// A KTO example (TRL: prompt, completion, label).
struct KtoExample {
  uint32_t round = 0;
  std::string task_id;
  std::string selector;
  uint32_t index = 0;
  std::string prompt;
  std::string completion;
  bool label = false;  // true = desirable
};

// Per-task evaluation outcome on one benchmark.
struct EvalResult {
  uint32_t round = 0;
  std::string benchmark;
  std::string task_id;
  uint32_t n = 0;                     // samples evaluated
  uint32_t correct = 0;               // samples that passed
  std::vector<std::string> statuses;  // one verdict per sample
};

// A stage's unit of work ("generate", round 2, "HumanEval/3"); committed with the
// unit's records in one write batch.
struct UnitKey {
  uint32_t round = 0;
  std::string stage;
  std::string unit;
};

std::string_view sample_kind_name(SampleKind kind);

}  // namespace dstc::store
