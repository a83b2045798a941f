// Unit tests of the pieces that need no sandbox: pass@k, loaders, sanitising, prompts.
#include <gtest/gtest.h>

#include <cmath>

#include "benchmarks/dataset.h"
#include "benchmarks/evaluate.h"
#include "benchmarks/pass_at_k.h"
#include "benchmarks/programs.h"
#include "benchmarks/prompts.h"
#include "benchmarks/sanitize.h"
#include "tests/benchmarks/fixtures.h"

namespace dstc::benchmarks {
namespace {

using namespace dstc::benchmarks::testing;

// Exact binomial for small arguments.
double comb(int64_t n, int64_t k) {
  if (k < 0 || k > n) return 0;
  double r = 1;
  for (int64_t i = 1; i <= k; ++i) r = r * static_cast<double>(n - k + i) / static_cast<double>(i);
  return r;
}

TEST(PassAtK, MatchesClosedForm) {
  for (int64_t n : {1, 2, 5, 10, 20, 37}) {
    for (int64_t c = 0; c <= n; ++c) {
      for (int64_t k = 1; k <= n; ++k) {
        double expected = 1.0 - comb(n - c, k) / comb(n, k);
        EXPECT_NEAR(pass_at_k(n, c, k), expected, 1e-12) << n << " " << c << " " << k;
      }
    }
  }
  EXPECT_DOUBLE_EQ(pass_at_k(10, 3, 1), 0.3);
  EXPECT_DOUBLE_EQ(pass_at_k(5, 0, 1), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(100, 100, 10), 1.0);
  EXPECT_NEAR(pass_at_k(20, 5, 10), 1.0 - 3003.0 / 184756.0, 1e-12);
  // Large n stays finite where binomials would overflow.
  EXPECT_NEAR(pass_at_k(200, 1, 100), 0.5, 1e-12);
}

TEST(PassAtK, MeanLeavesOutKAboveN) {
  auto m = mean_pass_at_k({10, 10}, {0, 10}, {1, 10, 100});
  ASSERT_EQ(m.count("pass@1"), 1u);
  ASSERT_EQ(m.count("pass@10"), 1u);
  EXPECT_EQ(m.count("pass@100"), 0u);
  EXPECT_DOUBLE_EQ(m["pass@1"], 0.5);
  EXPECT_DOUBLE_EQ(m["pass@10"], 0.5);
  auto g = mean_pass_at_k({1, 1, 1, 1}, {1, 0, 1, 1});  // greedy: plain fraction
  EXPECT_DOUBLE_EQ(g["pass@1"], 0.75);
  EXPECT_EQ(g.size(), 1u);
}

TEST(Loaders, HumanEvalPlainAndGzip) {
  auto dir = temp_dir("he");
  for (const auto& path : {write_text(dir + "/he.jsonl", humaneval_jsonl()),
                           write_gzip(dir + "/he.jsonl.gz", humaneval_jsonl())}) {
    auto ds = load_dataset(Benchmark::kHumanEval, path);
    ASSERT_TRUE(ds) << ds.error().message();
    ASSERT_EQ(ds->tasks.size(), 2u);
    EXPECT_EQ(ds->tasks[0].task_id, "HumanEval/0");
    EXPECT_EQ(ds->tasks[0].entry_point, "add");
    EXPECT_EQ(ds->tasks[0].canonical, ds->tasks[0].prompt + "    return a + b\n");
    EXPECT_NE(ds->find("HumanEval/1"), nullptr);
    EXPECT_EQ(ds->version.size(), 16u);
  }
}

TEST(Loaders, MalformedNamesFileAndLine) {
  auto dir = temp_dir("bad");
  std::string text = humaneval_jsonl();
  auto path =
      write_text(dir + "/bad.jsonl", text + "{\"task_id\": \"HumanEval/2\", \"prompt\": \n");
  auto ds = load_dataset(Benchmark::kHumanEval, path);
  ASSERT_FALSE(ds);
  EXPECT_NE(ds.error().message().find("bad.jsonl:3"), std::string::npos) << ds.error().message();

  Json missing{{"task_id", "HumanEval/0"}, {"prompt", "x"}, {"entry_point", "f"}, {"test", "t"}};
  path = write_text(dir + "/missing.jsonl", "\n" + missing.dump() + "\n");
  ds = load_dataset(Benchmark::kHumanEval, path);
  ASSERT_FALSE(ds);
  EXPECT_NE(ds.error().message().find("missing.jsonl:2"), std::string::npos);
  EXPECT_NE(ds.error().message().find("canonical_solution"), std::string::npos);

  ds = load_dataset(Benchmark::kHumanEval, dir + "/nope.jsonl");
  ASSERT_FALSE(ds);
  EXPECT_NE(ds.error().message().find("nope.jsonl"), std::string::npos);
}

TEST(Loaders, EvalPlusKeepsRawInputs) {
  auto dir = temp_dir("hep");
  auto ds = load_dataset(Benchmark::kHumanEvalPlus,
                         write_gzip(dir + "/p.jsonl.gz", humanevalplus_jsonl()));
  ASSERT_TRUE(ds) << ds.error().message();
  ASSERT_EQ(ds->tasks.size(), 2u);
  const Task& t = ds->tasks[0];
  EXPECT_EQ(t.base_count, 2u);
  EXPECT_EQ(t.plus_count, 3u);
  EXPECT_NE(t.plus_input_json.find("NaN"), std::string::npos);
  EXPECT_NE(t.contract.find("isinstance"), std::string::npos);
  EXPECT_NE(ds->tasks[1].plus_input_json.find("123456789012345678901234567890"), std::string::npos);
  EXPECT_EQ(ds->tasks[1].plus_count, 2u);

  auto mp = load_dataset(Benchmark::kMbppPlus, write_text(dir + "/m.jsonl", mbppplus_jsonl()));
  ASSERT_TRUE(mp) << mp.error().message();
  EXPECT_EQ(mp->tasks[0].entry_point, "similar_elements");
  EXPECT_NE(mp->tasks[0].test.find("assert similar_elements"), std::string::npos);

  // A broken input array is reported with its field and line.
  std::string bad = humanevalplus_jsonl();
  bad.replace(bad.find("\"plus_input\": [[[1e-9"), 22, "\"plus_input\": [[[1e-9 ");
  bad.replace(bad.find("[[1, 2, 3, 4]]]"), 15, "[[1, 2, 3, 4]]");
  auto b = load_dataset(Benchmark::kHumanEvalPlus, write_text(dir + "/b.jsonl", bad));
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message().find("b.jsonl:1"), std::string::npos) << b.error().message();
}

TEST(Loaders, MbppSplitsAndSanitized) {
  auto dir = temp_dir("mbpp");
  std::string text;
  for (int id : {1, 11, 510, 511, 601, 974}) {
    Json o{{"task_id", id},
           {"text", "Write a function f."},
           {"code", "def f(x):\r\n    return x\r\n"},
           {"test_list", {"assert f(1) == 1"}},
           {"test_setup_code", ""},
           {"challenge_test_list", Json::array()}};
    text += o.dump() + "\n";
  }
  auto path = write_text(dir + "/mbpp.jsonl", text);
  auto test = load_dataset(Benchmark::kMbpp, path);
  ASSERT_TRUE(test) << test.error().message();
  ASSERT_EQ(test->tasks.size(), 2u);  // 11 and 510
  EXPECT_EQ(test->tasks[0].task_id, "Mbpp/11");
  EXPECT_EQ(test->tasks[0].entry_point, "f");
  EXPECT_EQ(test->tasks[0].canonical.find('\r'), std::string::npos);
  EXPECT_EQ(load_dataset(Benchmark::kMbpp, path, {"train"})->tasks.size(), 2u);
  EXPECT_EQ(load_dataset(Benchmark::kMbpp, path, {"validation"})->tasks.size(), 1u);
  EXPECT_EQ(load_dataset(Benchmark::kMbpp, path, {"prompt"})->tasks.size(), 1u);
  EXPECT_EQ(load_dataset(Benchmark::kMbpp, path, {"all"})->tasks.size(), 6u);
  auto bad = load_dataset(Benchmark::kMbpp, path, {"complete"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);

  Json arr = Json::array();
  arr.push_back({{"task_id", 12},
                 {"prompt", "Write g."},
                 {"code", "import math\ndef g(x):\n    return math.floor(x)\n"},
                 {"test_imports", {"import math"}},
                 {"test_list", {"assert g(1.5) == 1"}}});
  arr.push_back({{"task_id", 700},
                 {"prompt", "p"},
                 {"code", "def h(): pass"},
                 {"test_imports", Json::array()},
                 {"test_list", {"assert h() is None"}}});
  auto san =
      load_dataset(Benchmark::kMbppSanitized, write_text(dir + "/s.json", arr.dump()), {"all"});
  ASSERT_TRUE(san) << san.error().message();
  ASSERT_EQ(san->tasks.size(), 2u);
  EXPECT_EQ(san->tasks[0].test_setup, "import math\n");
  EXPECT_EQ(san->tasks[0].entry_point, "g");
  arr[1].erase("test_list");
  auto broken =
      load_dataset(Benchmark::kMbppSanitized, write_text(dir + "/s2.json", arr.dump()), {"all"});
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message().find("record 1"), std::string::npos);
}

TEST(Loaders, BigCodeBenchLibsAndSplits) {
  auto dir = temp_dir("bcb");
  Json o{{"task_id", "BigCodeBench/0"},
         {"complete_prompt", "import os\ndef task_func():\n    \"\"\"doc\"\"\"\n"},
         {"instruct_prompt", "Write task_func."},
         {"code_prompt", "import os\ndef task_func():\n"},
         {"canonical_solution", "    return 1\n"},
         {"test",
          "import unittest\nclass TestCases(unittest.TestCase):\n    def test_a(self):\n        "
          "self.assertEqual(task_func(), 1)\n"},
         {"entry_point", "task_func"},
         {"doc_struct", "{}"},
         {"libs", "['os', 'pandas']"}};
  auto path = write_gzip(dir + "/bcb.jsonl.gz", o.dump() + "\n");
  auto c = load_dataset(Benchmark::kBigCodeBench, path);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->tasks[0].libs, (std::vector<std::string>{"os", "pandas"}));
  EXPECT_EQ(c->tasks[0].prompt, o["complete_prompt"].get<std::string>());
  auto i = load_dataset(Benchmark::kBigCodeBench, path, {"instruct"});
  ASSERT_TRUE(i);
  EXPECT_EQ(i->tasks[0].instruction, "Write task_func.");
  EXPECT_EQ(i->tasks[0].prompt, o["code_prompt"].get<std::string>());
  EXPECT_FALSE(load_dataset(Benchmark::kBigCodeBench, path, {"test"}));
}

TEST(Loaders, SharedFilesWhenPresent) {
  if (!have_shared("HumanEval.jsonl.gz")) {
    GTEST_SKIP() << "no " << shared_benchmarks_dir() << " (benchmark data not available here)";
  }
  const std::string d = shared_benchmarks_dir() + "/";
  auto count = [&](Benchmark b, const std::string& file, const std::string& split = "") -> long {
    auto ds = load_dataset(b, d + file, {split});
    EXPECT_TRUE(ds) << (ds ? "" : ds.error().message());
    return ds ? static_cast<long>(ds->tasks.size()) : -1;
  };
  // Record counts from ../shared/benchmarks/README.md and the official MBPP splits.
  EXPECT_EQ(count(Benchmark::kHumanEval, "HumanEval.jsonl.gz"), 164);
  EXPECT_EQ(count(Benchmark::kHumanEvalPlus, "HumanEvalPlus-Mini.jsonl.gz"), 164);
  EXPECT_EQ(count(Benchmark::kMbppPlus, "MbppPlus.jsonl.gz"), 378);
  EXPECT_EQ(count(Benchmark::kMbpp, "mbpp.jsonl", "all"), 974);
  EXPECT_EQ(count(Benchmark::kMbpp, "mbpp.jsonl"), 500);
  EXPECT_EQ(count(Benchmark::kMbpp, "mbpp.jsonl", "train"), 374);
  EXPECT_EQ(count(Benchmark::kMbpp, "mbpp.jsonl", "validation"), 90);
  EXPECT_EQ(count(Benchmark::kMbppSanitized, "sanitized-mbpp.json", "all"), 427);
  EXPECT_EQ(count(Benchmark::kMbppSanitized, "sanitized-mbpp.json"), 257);
  auto bcb = load_dataset(Benchmark::kBigCodeBench, d + "BigCodeBench.jsonl.gz");
  ASSERT_TRUE(bcb) << bcb.error().message();
  EXPECT_EQ(bcb->tasks.size(), 1140u);
  EXPECT_EQ(bcb->tasks[0].libs, (std::vector<std::string>{"random", "itertools"}));
}

TEST(Sanitize, ExtractsFirstPythonFence) {
  EXPECT_EQ(extract_code("Here:\n```python\ndef f():\n    return 1\n```\nmore\n```python\nx\n```"),
            "def f():\n    return 1\n");
  EXPECT_EQ(extract_code("```\nplain\n```\n"), "plain\n");
  EXPECT_EQ(extract_code("```text\nno\n```\n```py\nyes\n```\n"), "yes\n");
  EXPECT_EQ(extract_code("no fence at all"), "no fence at all");
  EXPECT_EQ(extract_code("```python\ncut off"), "cut off\n");
}

TEST(Sanitize, KeepsImportsAndReachableDefinitions) {
  std::string code =
      "import math\nfrom typing import List\n\nLIMIT = 10\nUNUSED = 3\n\n"
      "def helper(x):\n    return math.sqrt(x) + LIMIT\n\n"
      "@staticmethod_like\ndef decorated():\n    pass\n\n"
      "def unrelated():\n    return 0\n\n"
      "def solve(xs: List[int]) -> float:\n    s = \"\"\"def fake():\n  pass\"\"\"\n"
      "    return sum(helper(x) for x in xs)\n\n"
      "print(solve([1, 4]))\nassert solve([]) == 0\n"
      "if __name__ == \"__main__\":\n    solve([1])\n";
  std::string s = sanitize(code, "solve");
  EXPECT_NE(s.find("import math"), std::string::npos);
  EXPECT_NE(s.find("from typing import List"), std::string::npos);
  EXPECT_NE(s.find("LIMIT = 10"), std::string::npos);
  EXPECT_NE(s.find("def helper"), std::string::npos);
  EXPECT_NE(s.find("def solve"), std::string::npos);
  EXPECT_NE(s.find("def fake():\n  pass\"\"\""), std::string::npos);  // string kept whole
  EXPECT_EQ(s.find("UNUSED"), std::string::npos);
  EXPECT_EQ(s.find("unrelated"), std::string::npos);
  EXPECT_EQ(s.find("decorated"), std::string::npos);
  EXPECT_EQ(s.find("print("), std::string::npos);
  EXPECT_EQ(s.find("assert solve"), std::string::npos);
  EXPECT_EQ(s.find("__main__"), std::string::npos);
  // Unknown entry point: every definition stays, demo code goes.
  std::string all = sanitize(code, "");
  EXPECT_NE(all.find("def unrelated"), std::string::npos);
  EXPECT_EQ(all.find("print("), std::string::npos);
}

TEST(Prompts, CompletionAndInstruct) {
  auto dir = temp_dir("prompts");
  auto ds = load_dataset(Benchmark::kHumanEval, write_text(dir + "/he.jsonl", humaneval_jsonl()));
  ASSERT_TRUE(ds);
  const Task& t = ds->tasks[0];
  EXPECT_EQ(completion_prompt(t), t.prompt);
  std::string prog = program_from_output(t, Benchmark::kHumanEval, PromptMode::kCompletion,
                                         "    return a + b\n\ndef unused():\n    pass\nprint(1)\n");
  EXPECT_NE(prog.find("return a + b"), std::string::npos);
  EXPECT_EQ(prog.find("unused"), std::string::npos);
  ChatPrompt chat = instruct_prompt(t, Benchmark::kHumanEval);
  EXPECT_NE(chat.user.find("Please provide a self-contained Python script"), std::string::npos);
  EXPECT_NE(chat.user.find("def add(a, b):"), std::string::npos);
  EXPECT_EQ(chat.assistant_prefix.substr(chat.assistant_prefix.size() - 10), "```python\n");
  std::string reply = "def add(a, b):\n    return a + b\n```\nThis adds.";
  std::string p2 = program_from_output(t, Benchmark::kHumanEval, PromptMode::kInstruct, reply);
  EXPECT_EQ(p2, "def add(a, b):\n    return a + b\n\n");
}

TEST(Programs, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Samples, ReadCompletionAndSolution) {
  auto dir = temp_dir("samples");
  auto ds = load_dataset(Benchmark::kHumanEval, write_text(dir + "/he.jsonl", humaneval_jsonl()));
  ASSERT_TRUE(ds);
  auto path =
      write_text(dir + "/s.jsonl",
                 "{\"task_id\": \"HumanEval/0\", \"completion\": \"    return a + b\\n\"}\n"
                 "{\"task_id\": 1, \"solution\": \"def is_even(n):\\n    return True\\n\"}\n");
  auto s = read_samples(path, *ds);
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].solution, ds->tasks[0].prompt + "    return a + b\n");
  EXPECT_EQ((*s)[1].task_id, "HumanEval/1");
  ASSERT_TRUE(write_samples(dir + "/out.jsonl", *s));
  auto back = read_samples(dir + "/out.jsonl", *ds);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[0].solution, (*s)[0].solution);
  auto bad = read_samples(
      write_text(dir + "/b.jsonl", "{\"task_id\": \"HumanEval/9\", \"solution\": \"\"}\n"), *ds);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("b.jsonl:1"), std::string::npos);
}

}  // namespace
}  // namespace dstc::benchmarks
