// The prompts a run works on, whatever their source, in the form the stages need:
// what the model is asked for a code and for a test, how its responses become programs,
// and the program that scores a code against the hidden tests.
//
// Sources (data.train / data.eval, paths relative to the config file's folder):
//   "toy"              the built-in toy world (benchmarks/toy), fresh prompts every round;
//   a prompts file     (data.train) JSONL(.gz), one record per line:
//                        {"task_id": "p/0", "prompt": "def f(x):\n    \"\"\"...\"\"\"\n",
//                         "entry_point": "f", "canonical_solution": "    return x\n",
//                         "test": "def check(candidate):\n    assert candidate(1) == 1\n"}
//                      `prompt` is required; `task_id` defaults to "<file name>/<line>",
//                      `entry_point` to the prompt's last top-level `def`.
//                      `canonical_solution` (the body after the prompt, HumanEval style)
//                      and `test` (a HumanEval `check(candidate)` function) are optional:
//                      when present they are the ground truth of the pair audit, of the
//                      oracle selector and of self-test validity; without them those
//                      figures stay empty. HumanEval's own file is such a file;
//   a benchmark file   (data.eval) HumanEval or MBPP (full or sanitized) as published,
//                      read by benchmarks/dataset.h and scored by benchmarks/programs.h
//                      (data.eval_benchmark names the benchmark, or "auto": from the file
//                      name). EvalPlus and BigCodeBench need `dstc eval`.
//
// How a prompt is put to the model (model.prompt_format):
//   toy     the toy model's tags: prompt + "# code\n" / "# test\n"; a test is one line;
//   plain   completion: the prompt itself (the model continues the body) and the prompt
//           with a stub body and "# Tests for f" (generator/text/prompts.h);
//   chatml, llama3, deepseek-coder: the instructions of generator/text/prompts.h through
//           that chat template; answers are read from their ```python blocks;
//   auto    toy for the toy world, else the checkpoint's chat template
//           (tokenizer_config.json), plain when it has none.
// Evaluation on a benchmark file asks what `dstc eval` asks (benchmarks/prompts.h:
// completion prompt for plain, EvalPlus's instruct prompt for chat formats).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "benchmarks/dataset.h"
#include "benchmarks/toy/toy_world.h"
#include "cli/run_config.h"
#include "common/error.h"
#include "generator/text/chat_template.h"
#include "store/records.h"

namespace dstc::cli {

enum class PromptStyle { kToy, kPlain, kChat };

struct PipelineTask {
  std::string task_id;
  std::string entry_point;
  std::string prompt;                   // the problem statement as stored (HumanEval style)
  std::string code_query;               // the exact text the model continues to write a solution
  std::string test_query;               // the exact text the model continues to write a test
  std::vector<std::string> code_stops;  // stop strings of code_query's samples
  std::vector<std::string> test_stops;  // and of test_query's
  double hidden_timeout = 0;            // seconds for hidden_program; 0 = execute.timeout

  PromptStyle style = PromptStyle::kToy;
  generator::ChatFormat chat = generator::ChatFormat::kPlain;  // kChat: which template
  // The ground truth behind the task, one of: a toy task; a benchmark task (HumanEval
  // shape for prompt files, whose `test` and `canonical` may be empty); neither.
  std::shared_ptr<const toy::ToyTask> toy;
  std::shared_ptr<const benchmarks::Task> bench;
  benchmarks::Benchmark benchmark = benchmarks::Benchmark::kHumanEval;
  bool benchmark_eval = false;  // a data.eval benchmark task: asked and scored as `dstc eval` does

  // The code part of a code response ("" = invalid: no definition of the entry point).
  std::string code_program(std::string_view response) const;
  // The test part of a test response ("" = invalid: nothing in it can fail).
  std::string test_program(std::string_view response) const;
  // An evaluation response as the program that scores it against the hidden tests.
  std::string score_program(std::string_view response) const;
  // code scored against the hidden tests; exit 0 = correct. "" without hidden tests.
  std::string hidden_program(std::string_view code) const;
  // The canonical solution, to measure self-test validity ("" when there is none).
  std::string canonical_program() const;
  bool has_hidden_tests() const;
  store::Problem to_problem(const std::string& split) const;
};

// Training prompts of one round (data.train; the toy world: fresh prompts every round; a
// file: the round's window of train_count prompts, wrapping) and the held-out tasks (the
// same for every run and round: the first eval_count of data.eval).
Result<std::vector<PipelineTask>> training_tasks(const RunConfig& config, uint32_t round);
Result<std::vector<PipelineTask>> evaluation_tasks(const RunConfig& config);

// The benchmark name evaluation results are stored under: "toy-eval" for the toy world,
// else the benchmark's ("humaneval", "mbpp", "mbpp-sanitized").
Result<std::string> evaluation_benchmark(const RunConfig& config);

// Reads a JSONL(.gz) prompts file (format above) into HumanEval-shaped tasks. Errors name
// the file, the line and the field.
Result<std::vector<benchmarks::Task>> load_prompt_file(const std::string& path);

}  // namespace dstc::cli
