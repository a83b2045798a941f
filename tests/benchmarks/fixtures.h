// Small benchmark files the tests write themselves, in the benchmarks' own formats.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/json.h"

namespace dstc::benchmarks::testing {

inline std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("dstc_bench_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

inline std::string write_gzip(const std::string& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  return path;
}

inline std::string shared_benchmarks_dir() { return std::string(DSTC_SHARED_DIR) + "/benchmarks"; }

inline bool have_shared(const std::string& file) {
  return std::filesystem::exists(shared_benchmarks_dir() + "/" + file);
}

// Two HumanEval-format tasks.
inline std::string humaneval_jsonl() {
  Json a{{"task_id", "HumanEval/0"},
         {"prompt", "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n"},
         {"entry_point", "add"},
         {"canonical_solution", "    return a + b\n"},
         {"test",
          "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == "
          "0\n"}};
  Json b{{"task_id", "HumanEval/1"},
         {"prompt", "def is_even(n):\n    \"\"\"True when n is even.\"\"\"\n"},
         {"entry_point", "is_even"},
         {"canonical_solution", "    return n % 2 == 0\n"},
         {"test", "def check(candidate):\n    assert candidate(2)\n    assert not candidate(3)\n"}};
  return a.dump() + "\n" + b.dump() + "\n";
}

// HumanEval+ format: float outputs (atol), big integers and NaN kept raw in the inputs
// (mean skips NaN, so every expected output is a number).
inline std::string humanevalplus_jsonl() {
  std::string l1 =
      R"({"task_id": "HumanEval/0", "prompt": "def mean(xs):\n    \"\"\"Mean of xs.\"\"\"\n", )"
      R"("contract": "\n    assert isinstance(xs, list)\n", "canonical_solution": "    return sum(x for x in xs if x == x) / len(xs)\n", )"
      R"("entry_point": "mean", "base_input": [[[1.0, 2.0]], [[0.1, 0.2, 0.3]]], )"
      R"("plus_input": [[[1e-9, 3.0]], [[NaN, 1.0]], [[1, 2, 3, 4]]], "atol": 0})";
  std::string l2 =
      R"({"task_id": "HumanEval/1", "prompt": "def double(n):\n    \"\"\"2 * n.\"\"\"\n", )"
      R"("contract": "", "canonical_solution": "    return 2 * n\n", "entry_point": "double", )"
      R"("base_input": [[1], [2]], "plus_input": [[123456789012345678901234567890], [-5]], "atol": 0})";
  return l1 + "\n" + l2 + "\n";
}

// MBPP+ format; Mbpp/2 gets tuple inputs (EvalPlus's deserialisation table) and a
// set-equality oracle.
inline std::string mbppplus_jsonl() {
  Json a{
      {"task_id", "Mbpp/2"},
      {"prompt",
       "\"\"\"\nWrite a function to find the shared elements from the given two lists.\nassert "
       "set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n\"\"\"\n"},
      {"entry_point", "similar_elements"},
      {"canonical_solution",
       "\ndef similar_elements(test_tup1, test_tup2):\n  return tuple(set(test_tup1) & "
       "set(test_tup2))\n"},
      {"base_input", Json::parse("[[[3, 4, 5, 6], [5, 7, 4, 10]], [[1, 2, 3, 4], [5, 4, 3, 7]]]")},
      {"plus_input", Json::parse("[[[], []], [[1, 2, 3], [3, 2]]]")},
      {"atol", 0},
      {"contract", "\n  assert isinstance(test_tup1, tuple)\n"},
      {"assertion", "\nassert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"}};
  return a.dump() + "\n";
}

}  // namespace dstc::benchmarks::testing
