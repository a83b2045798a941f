// Turning model output into a program, as EvalPlus's `sanitize` does: take the first
// fenced code block, then keep the imports and the top-level definitions the entry point
// needs (functions, classes, constants), dropping prints, asserts, demos and
// `if __name__ == "__main__":` blocks. Line-based (top-level statements found by
// indentation, bracket depth and string state), no Python parser.
//
// generator/text has no extraction module yet; this is the benchmark-specific one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dstc::benchmarks {

// The body of the first ``` fenced block (any language tag; a "python"/"py" block wins
// over an earlier block of another language). Without a fence: the text itself. An
// unterminated fence (generation cut by length) yields everything after it.
std::string extract_code(std::string_view text);

// Keeps imports and the top-level definitions reachable from `entry_point` by name. With
// an empty or undefined entry point every definition is kept (only demo code is dropped).
std::string sanitize(std::string_view code, std::string_view entry_point);

// Cuts a completion at the earliest stop string (completion mode of base models).
std::string truncate_at_stops(std::string_view completion, const std::vector<std::string>& stops);

// The stop strings human-eval-style completion uses for a function body.
const std::vector<std::string>& completion_stops();

}  // namespace dstc::benchmarks
