// What the model is asked, in the two modes EvalPlus and BigCodeBench use:
//  - completion (base models): the task's code prefix; the model continues it and the
//    output is cut at the benchmark's stop strings;
//  - instruct (chat models): an instruction wrapping the task, sent through the model's
//    chat template, with the assistant turn pre-filled so the answer starts in a fence.
#pragma once

#include <string>
#include <vector>

#include "benchmarks/dataset.h"

namespace dstc::benchmarks {

enum class PromptMode { kCompletion, kInstruct };

struct ChatPrompt {
  std::string user;              // the instruction and the task
  std::string assistant_prefix;  // how the reply begins (ends with "```python\n")
};

// The text a base model continues.
std::string completion_prompt(const Task& task);

// Stop strings for completion mode of `benchmark`.
std::vector<std::string> completion_stops_for(Benchmark benchmark);

// EvalPlus's instruct wording ("Please provide a self-contained Python script that solves
// the following problem in a markdown code block:"); BigCodeBench's instruct split sends
// its natural-language prompt the same way.
ChatPrompt instruct_prompt(const Task& task, Benchmark benchmark);

// Turns raw model output into a whole program for `task`:
//  completion: prompt + output cut at the stop strings, then sanitised;
//  instruct: the first fenced block of assistant_prefix + output, sanitised (a reply
//  that only writes a function body is joined to the task's prompt).
std::string program_from_output(const Task& task, Benchmark benchmark, PromptMode mode,
                                const std::string& output);

}  // namespace dstc::benchmarks
