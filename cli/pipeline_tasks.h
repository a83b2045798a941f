// The prompts a run works on, whatever their source, in the form the stages need:
// what the model is asked for a code and for a test, how its responses become programs,
// and the program that scores a code against the hidden tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "benchmarks/toy/toy_world.h"
#include "cli/run_config.h"
#include "common/error.h"
#include "store/records.h"

namespace dstc::cli {

struct PipelineTask {
  std::string task_id;
  std::string entry_point;
  std::string prompt;      // the problem statement as stored (HumanEval style)
  std::string code_query;  // the exact text the model continues to write a solution
  std::string test_query;  // the exact text the model continues to write a test
  toy::ToyTask toy;        // the toy task behind it

  // The code part of a code response ("" = invalid: no definition of the entry point).
  std::string code_program(std::string_view response) const;
  // The test part of a test response: its first assert line ("" = invalid).
  std::string test_program(std::string_view response) const;
  // code scored against the hidden tests; exit 0 = correct.
  std::string hidden_program(std::string_view code) const;
  // The canonical solution, to measure self-test validity.
  std::string canonical_program() const;
  store::Problem to_problem(const std::string& split) const;
};

// Training prompts of one round (fresh prompts every round) and the held-out tasks
// (the same for every run and round) of a config (data.train / data.eval).
Result<std::vector<PipelineTask>> training_tasks(const RunConfig& config, uint32_t round);
Result<std::vector<PipelineTask>> evaluation_tasks(const RunConfig& config);

}  // namespace dstc::cli
