// DSTC's two prompts per task (research/dstc.md §2): one asks for a solution, the other
// for tests, and both name the same entry point and signature so that code ⊕ test can
// be executed together. Tests are asked for without showing any candidate code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "generator/text/chat_template.h"

namespace dstc::generator {

struct CodeTask {
  std::string task_id;
  std::string prompt;       // HumanEval style: imports, signature and docstring
  std::string entry_point;  // empty: inferred from the prompt
};

// The name of the function a HumanEval-style prompt asks for: the last top-level
// `def NAME(` in it. kInvalidArgument when the prompt has no function.
Result<std::string> infer_entry_point(std::string_view prompt);

// The signature line of `entry_point` in `prompt` ("def f(x: int) -> int:"), or a
// generic "def NAME(...)" when the prompt does not define it.
std::string entry_signature(std::string_view prompt, std::string_view entry_point);

struct PromptOptions {
  int num_tests = 5;   // how many asserts the test prompt asks for (chat formats)
  std::string system;  // optional system message for chat formats
};

// Messages for the code prompt. Chat formats: an instruction naming the entry point
// and signature, asking for one ```python block without tests. Plain: the task prompt
// itself, so that the model continues the function body (HumanEval completion).
// Fails when the entry point is neither given nor inferable.
Result<std::vector<ChatMessage>> code_prompt(const CodeTask& task, ChatFormat format,
                                             const PromptOptions& options = {});

// Messages for the test prompt. Chat formats: an instruction naming the same entry
// point and signature, asking for `assert NAME(...) == ...` lines in one ```python
// block, without redefining the function. Plain: the task prompt with a stub body
// followed by kPlainTestHeader, after which the model writes assert lines.
Result<std::vector<ChatMessage>> test_prompt(const CodeTask& task, ChatFormat format,
                                             const PromptOptions& options = {});

// The line that starts the test section of a plain-format test prompt; {entry} is
// replaced by the entry point. The full plain test prompt is:
//   <prompt, ending in a newline>    pass\n\n\n# Tests for <entry>\n
inline constexpr const char* kPlainTestHeader = "# Tests for {entry}\n";

// Stop strings for plain-format code completions (HumanEval's): the function body
// ends at the next top-level statement.
const std::vector<std::string>& plain_code_stops();

}  // namespace dstc::generator
