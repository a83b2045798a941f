// The toy world: procedurally generated Python function tasks in HumanEval format, small
// enough for a ~1–3M-parameter model to reach partial competence on 2 CPU cores.
//
// Designed so that a weak model can test itself (research/toy_pilot.md: its tests were
// 2–20% valid because it cannot compute expected values):
//   * every docstring carries worked examples (`>>> f(2)` / `17`, as HumanEval's do), so a
//     test can restate one verbatim — always valid — or vary it;
//   * a test is one line, one assert: `assert f(2) == 17`;
//   * a third of the templates return booleans or small counts, where a varied test is
//     often right even without exact computation; the others need real work (headroom);
//   * function names are fixed per template, short and distinct (the pilot's model
//     garbled copied names in 25% of tests).
// Hidden tests use inputs that differ from the docstring examples. Splits are disjoint by
// prompt: a prompt's split is a hash of its text, and a split only keeps its own prompts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace dstc::toy {

enum class Split {
  kPretrain,  // SFT: prompt + solution, prompt + example tests
  kTrain,     // DSTC training prompts (the model writes codes and tests)
  kEval,      // held-out; hidden tests only for scoring
};
std::string_view split_name(Split split);  // "pretrain", "train", "eval"
Result<Split> parse_split(std::string_view name);

// A Python value of the toy world: int, bool, str (letters and a few punctuation marks,
// so repr never escapes) or list of ints.
struct Value {
  enum class Kind { kInt, kBool, kStr, kList };
  Kind kind = Kind::kInt;
  int64_t i = 0;  // kInt, and kBool as 0/1
  std::string s;
  std::vector<int64_t> list;

  static Value of_int(int64_t v);
  static Value of_bool(bool v);
  static Value of_str(std::string v);
  static Value of_list(std::vector<int64_t> v);
  std::string repr() const;  // Python repr: -3, True, 'ab', [1, 2]
  bool operator==(const Value&) const = default;
};

// One input/output pair, also as Python source: args "[1, 2], 3" and output "[4, 5]".
struct Example {
  std::vector<Value> inputs;
  Value result;
  std::string args;    // comma-joined reprs of inputs
  std::string output;  // result.repr()
};

struct ToyTask {
  std::string task_id;        // "Toy/eval/<seed>/<index>"
  std::string template_name;  // = entry_point
  std::string category;       // arithmetic | conditional | string | list
  std::string entry_point;
  std::vector<int64_t> params;     // the template's parameters (constants in the statement)
  std::string prompt;              // signature + docstring with examples, ends "    \"\"\"\n"
  std::string canonical_solution;  // body only: prompt + canonical_solution is the function
  std::string solution;            // the whole function without docstring (SFT code response)
  std::string buggy_solution;      // the template's typical slip (see bug_bodies); "" if none
  std::string test;                // HumanEval `def check(candidate): assert ...` (hidden)
  std::vector<Example> examples;   // the docstring's worked examples
  std::vector<Example> hidden;     // the inputs/outputs of `test`; never in `examples`
  std::vector<Example> extra;      // more correct cases, disjoint from both (SFT varied tests)
};

struct ToyOptions {
  int min_examples = 2;  // worked examples per docstring (uniform in [min, max])
  int max_examples = 2;
  int hidden_tests = 5;
  // Varied SFT test targets per task. With 2 examples and 1 varied test, 2 of 3 SFT test
  // targets restate a docstring example (always valid once copied right): the pilot's
  // model restated far less often than its targets did, so restating is weighted up.
  int extra_tests = 1;
};

// All template names, in generation order (task i uses template i mod size).
// Templates with a typical slip (ToyTask::buggy_solution non-empty) are listed by
// templates_with_bugs().
const std::vector<std::string>& template_names();
std::vector<std::string> templates_with_bugs();

// `count` tasks of `split`, deterministic in (split, count, seed, options); templates
// appear round-robin so each is equally represented (counts differ by at most one).
// Prompts never repeat within a call unless a template runs out of distinct prompts.
std::vector<ToyTask> generate_tasks(Split split, size_t count, uint64_t seed,
                                    const ToyOptions& options = {});

// The split a prompt belongs to (a hash of its text): generate_tasks only emits tasks
// whose prompt maps to the requested split, so splits never share a prompt.
Split split_of_prompt(std::string_view template_name, std::string_view prompt);

// ---- text formats of the toy model (SFT targets and sampling prompts) ----------------
// Code:  code_query(t)  = prompt + "# code\n", response = whole function (t.solution).
// Test:  test_query(t)  = prompt + "# test\n", response = one line "assert f(args) == out\n".
// A code response runs on its own, so code ⊕ test (selector::concat_code_test) is the
// executed program and the DSTC response at the same time.
inline constexpr std::string_view kCodeTag = "# code\n";
inline constexpr std::string_view kTestTag = "# test\n";
std::string code_query(const ToyTask& task);
std::string test_query(const ToyTask& task);
std::string test_response(std::string_view entry_point, const Example& example);
// SFT test targets for one task: one per docstring example (restated verbatim) followed by
// one per extra case (varied input, correct output).
std::vector<std::string> sft_test_responses(const ToyTask& task);

// A generated code response may go on with tests after the function (DPO trains on
// code ⊕ test); scoring keeps only the text before the first top-level `assert` line.
std::string strip_trailing_tests(std::string_view response);

// Program that scores `code` (a whole function) against the hidden tests:
// code + "\n\n" + test + "\n\ncheck(entry_point)\n". Exit 0 = correct.
std::string hidden_test_program(const ToyTask& task, std::string_view code);

// ---- JSONL export (HumanEval field names plus toy extras) ----------------------------
// {task_id, prompt, entry_point, canonical_solution, test, solution, template, category,
//  examples: [{args, output}], example_tests: ["assert f(..) == .."]}
Json task_to_json(const ToyTask& task);

// ---- the C++ evaluator (same results as the Python canonical solutions; the tests check it)
// Result of template `template_name` with `params` on `inputs`; throws std::invalid_argument
// for an unknown template. A wrong solution is modelled as other params.
Value evaluate(std::string_view template_name, const std::vector<int64_t>& params,
               const std::vector<Value>& inputs);
// One input drawn the way the template draws example and hidden inputs.
std::vector<Value> draw_input(std::string_view template_name, const std::vector<int64_t>& params,
                              uint64_t seed);
// `args` as Python source: comma-joined reprs.
std::string args_source(const std::vector<Value>& inputs);

// ---- measurements that need no Python ------------------------------------------------
// Per template and overall: prompt and solution length, fraction of boolean outputs, and
// self-test validity of three test policies the canonical evaluator can score exactly:
//   restate  — repeat a docstring example (validity 1 by construction),
//   lazy     — a new input with a docstring example's output (a model that copies the
//              output but cannot compute: chance validity),
//   mutant_caught_by_examples / _by_hidden — the task with one parameter off by one (a
//              plausible wrong solution), when some example or hidden case shows it wrong:
//              how often the docstring examples / the hidden tests alone catch it, i.e. how
//              much restated tests can discriminate.
Json measure_tasks(const std::vector<ToyTask>& tasks, uint64_t seed);

}  // namespace dstc::toy
