#include "cli/pipeline_tasks.h"

namespace dstc::cli {
namespace {

PipelineTask from_toy(toy::ToyTask t) {
  PipelineTask task;
  task.task_id = t.task_id;
  task.entry_point = t.entry_point;
  task.prompt = t.prompt;
  task.code_query = toy::code_query(t);
  task.test_query = toy::test_query(t);
  task.toy = std::move(t);
  return task;
}

Result<std::vector<PipelineTask>> toy_tasks(const std::string& source, toy::Split split,
                                            int64_t count, int64_t seed, const char* key) {
  if (source != "toy") {
    return fail(ErrorCode::kInvalidArgument,
                std::string(key) + " = \"" + source +
                    "\": only the built-in toy world (\"toy\") is wired into `dstc run` so far; "
                    "score benchmark files with `dstc eval`");
  }
  if (count < 1) return fail(ErrorCode::kInvalidArgument, std::string(key) + "_count must be >= 1");
  std::vector<PipelineTask> out;
  for (auto& t :
       toy::generate_tasks(split, static_cast<size_t>(count), static_cast<uint64_t>(seed))) {
    out.push_back(from_toy(std::move(t)));
  }
  return out;
}

}  // namespace

std::string PipelineTask::code_program(std::string_view response) const {
  std::string code = toy::strip_trailing_tests(response);
  if (code.find("def " + entry_point + "(") == std::string::npos) return "";
  while (!code.empty() && (code.back() == '\n' || code.back() == ' ')) code.pop_back();
  return code + "\n";
}

std::string PipelineTask::test_program(std::string_view response) const {
  size_t pos = 0;
  while (pos < response.size()) {
    size_t end = response.find('\n', pos);
    std::string_view line = response.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (line.rfind("assert ", 0) == 0 && line.find(entry_point + "(") != std::string_view::npos) {
      return std::string(line) + "\n";
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return "";
}

std::string PipelineTask::hidden_program(std::string_view code) const {
  return toy::hidden_test_program(toy, code);
}

std::string PipelineTask::canonical_program() const { return toy.solution; }

store::Problem PipelineTask::to_problem(const std::string& split) const {
  store::Problem p;
  p.task_id = task_id;
  p.prompt = prompt;
  p.entry_point = entry_point;
  p.canonical_solution = toy.canonical_solution;
  p.hidden_tests = toy.test;
  p.split = split;
  return p;
}

Result<std::vector<PipelineTask>> training_tasks(const RunConfig& config, uint32_t round) {
  return toy_tasks(config.data.train, toy::Split::kTrain, config.data.train_count,
                   config.run.seed * 1000 + round, "data.train");
}

Result<std::vector<PipelineTask>> evaluation_tasks(const RunConfig& config) {
  // The held-out set does not depend on run.seed: every run scores the same tasks.
  return toy_tasks(config.data.eval, toy::Split::kEval, config.data.eval_count, 1, "data.eval");
}

}  // namespace dstc::cli
