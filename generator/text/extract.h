// Turning model responses into programs: code from fenced blocks, plain completions cut
// at stop strings, and tests that keep their asserts / check function and drop any
// redefinition of the function under test.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dstc::generator {

// The body of the first ```python (also ```py, ```python3) block; else of the first
// fenced block of any language; else the whole response. A block left open (the
// generation hit its token limit) runs to the end of the response.
std::string extract_code(std::string_view response);

// `text` cut before the earliest occurrence of any stop string.
std::string truncate_at_stops(std::string_view text, const std::vector<std::string>& stops);

// A plain-format (completion) solution: the prompt followed by the completion cut at
// plain_code_stops() (prompts.h).
std::string plain_solution(std::string_view prompt, std::string_view completion);

struct ExtractedTests {
  // Runnable after the solution: imports, helper definitions, kept statements, the
  // asserts, and calls to test functions nothing called (check(entry), test_x()).
  std::string program;
  // Each top-level assert statement, complete (multi-line ones joined as written).
  std::vector<std::string> asserts;
  bool has_check = false;         // a `def check(...)` was kept and is called
  int test_functions = 0;         // zero-argument test_* functions kept and called
  int dropped_redefinitions = 0;  // definitions of the entry point that were removed

  // False when nothing in the program can fail: such a test must not count.
  bool has_tests() const { return !asserts.empty() || has_check || test_functions > 0; }
};

// Extracts tests for `entry_point` from a response (fenced or not). Top-level
// statements are kept except: definitions of `entry_point` (def or class, with their
// decorators), `from ... import <entry_point>`, `if __name__ == ...` blocks and
// print() calls.
ExtractedTests extract_tests(std::string_view response, std::string_view entry_point);

}  // namespace dstc::generator
