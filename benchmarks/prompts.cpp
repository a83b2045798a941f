#include "benchmarks/prompts.h"

#include "benchmarks/sanitize.h"

namespace dstc::benchmarks {

namespace {

constexpr const char* kInstructionPrefix =
    "Please provide a self-contained Python script that solves the following problem in a "
    "markdown code block:";
constexpr const char* kResponsePrefix =
    "Below is a Python script with a self-contained function that solves the problem and "
    "passes corresponding tests:";

std::string strip(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

bool defines(const std::string& code, const std::string& name) {
  if (name.empty()) return true;
  return code.find("def " + name + "(") != std::string::npos ||
         code.find("def " + name + " (") != std::string::npos;
}

}  // namespace

std::string completion_prompt(const Task& task) { return task.prompt; }

std::vector<std::string> completion_stops_for(Benchmark b) {
  if (b == Benchmark::kMbpp || b == Benchmark::kMbppSanitized || b == Benchmark::kMbppPlus) {
    // The model writes whole functions after the docstring: stop at test or demo code.
    return {"\nassert ", "\nprint(", "\nif __name__", "\n```", "\n\"\"\""};
  }
  return completion_stops();
}

ChatPrompt instruct_prompt(const Task& task, Benchmark b) {
  ChatPrompt p;
  if (b == Benchmark::kBigCodeBench && task.split == "instruct") {
    p.user = std::string(kInstructionPrefix) + "\n" + strip(task.instruction) + "\n";
  } else {
    p.user = std::string(kInstructionPrefix) + "\n```\n" + strip(task.instruction) + "\n```\n";
  }
  p.assistant_prefix = std::string(kResponsePrefix) + "\n```python\n";
  return p;
}

std::string program_from_output(const Task& task, Benchmark b, PromptMode mode,
                                const std::string& output) {
  if (mode == PromptMode::kCompletion) {
    std::string program = task.prompt + truncate_at_stops(output, completion_stops_for(b));
    return sanitize(program, task.entry_point);
  }
  std::string code = extract_code("```python\n" + output);
  if (!defines(code, task.entry_point)) code = task.prompt + code;
  return sanitize(code, task.entry_point);
}

}  // namespace dstc::benchmarks
