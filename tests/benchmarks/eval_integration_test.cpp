// Scoring through the real sandbox on fixture tasks: right, wrong and hostile samples get
// the verdicts the reference harnesses would give, and hostile ones leave the host alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "benchmarks/evaluate.h"
#include "common/file.h"
#include "tests/benchmarks/fixtures.h"

namespace dstc::benchmarks {
namespace {

using namespace dstc::benchmarks::testing;

sandbox::Sandbox* shared_sandbox() {
  static std::unique_ptr<sandbox::Sandbox> sb = [] {
    auto r = sandbox::Sandbox::create();
    return r ? std::move(*r) : nullptr;
  }();
  return sb.get();
}

#define REQUIRE_SANDBOX()                  \
  sandbox::Sandbox* sb = shared_sandbox(); \
  if (!sb) GTEST_SKIP() << "the sandbox cannot start on this host";

const SampleResult& result_of(const EvalReport& r, const std::string& task, size_t index) {
  for (const auto& t : r.tasks) {
    if (t.task_id == task) return t.samples.at(index);
  }
  throw std::runtime_error("no task " + task);
}

TEST(EvalIntegration, HumanEvalMixedSamples) {
  REQUIRE_SANDBOX();
  auto dir = temp_dir("he_mixed");
  auto ds = load_dataset(Benchmark::kHumanEval, write_text(dir + "/he.jsonl", humaneval_jsonl()));
  ASSERT_TRUE(ds);
  const std::string p0 = ds->tasks[0].prompt;
  const std::string host_file = "/tmp/dstc_eval_hostile_" + std::to_string(::getpid());
  std::filesystem::remove(host_file);
  struct Case {
    std::string body;
    std::string status;
  };
  std::vector<Case> cases = {
      {"    return a + b\n", "pass"},
      {"    return a - b\n", "fail"},
      {"    return None\n", "fail"},
      {"    while True:\n        pass\n", "timeout"},
      {"    return a + b\nimport sys\nsys.exit(0)\n", "error"},
      {"    return a + b\nimport os\nos._exit(0)\n", "error"},
      {"    return 0\nprint('passed')\nimport os\nos.write(1, b'{\"status\": \"passed\"}\\n')\n",
       "fail"},
      {"    return a + b\nopen('" + host_file + "', 'w').write('owned')\n", "pass"},
      {"    return a + b\nimport os\nwhile True:\n    os.fork()\n", "error"},
      {"    return a + b\nraise SystemExit(0)\n", "error"},
  };
  std::vector<Sample> samples;
  for (const auto& c : cases) samples.push_back({"HumanEval/0", p0 + c.body});
  samples.push_back({"HumanEval/1", ds->tasks[1].canonical});
  EvalOptions opt;
  opt.timeout_seconds = 3;
  auto r = evaluate(*ds, samples, *sb, opt);
  ASSERT_TRUE(r) << r.error().message();
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& s = result_of(*r, "HumanEval/0", i);
    if (cases[i].status == "error") {
      EXPECT_FALSE(s.passed) << i << " " << s.detail;
      EXPECT_NE(s.status, "sandbox_error") << i << " " << s.detail;
    } else {
      EXPECT_EQ(s.status, cases[i].status) << "case " << i << ": " << s.detail;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(host_file)) << "a sample wrote to the host's /tmp";
  EXPECT_EQ(r->tasks_passed, 2);
  EXPECT_EQ(r->samples_passed, 3);
  EXPECT_EQ(r->sandbox_errors, 0);
  // pass@1 is the mean of per-task fractions: (2/10 + 1/1) / 2.
  EXPECT_NEAR(r->pass_at_k.at("pass@1"), (2.0 / 10 + 1.0) / 2, 1e-12);
  EXPECT_EQ(r->pass_at_k.count("pass@10"), 0u);  // task 1 has n = 1

  ASSERT_TRUE(write_report(*r, dir + "/out"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/results.jsonl"));
  auto summary = parse_json(*read_file(dir + "/out/summary.json"), "summary");
  ASSERT_TRUE(summary);
  EXPECT_EQ((*summary)["tasks"]["passed"], 2);
  EXPECT_NEAR((*summary)["pass@1"].template get<double>(), 0.6, 1e-12);
}

TEST(EvalIntegration, MbppStandardProgram) {
  REQUIRE_SANDBOX();
  auto dir = temp_dir("mbpp_eval");
  Json o{{"task_id", 11},
         {"text", "Write a function to square a number."},
         {"code", "import math\r\ndef sq(x):\r\n    return x * x\r\n"},
         {"test_list", {"assert sq(3) == 9", "assert sq(-2) == 4"}},
         {"test_setup_code", "import math"},
         {"challenge_test_list", Json::array()}};
  auto ds = load_dataset(Benchmark::kMbpp, write_text(dir + "/m.jsonl", o.dump() + "\n"));
  ASSERT_TRUE(ds);
  std::vector<Sample> samples = {{"Mbpp/11", ds->tasks[0].canonical},
                                 {"Mbpp/11", "def sq(x):\n    return None\n"},
                                 {"Mbpp/11", "def sq(x):\n    return abs(x) * abs(x)\n"}};
  auto r = evaluate(*ds, samples, *sb, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(result_of(*r, "Mbpp/11", 0).status, "pass") << result_of(*r, "Mbpp/11", 0).detail;
  EXPECT_EQ(result_of(*r, "Mbpp/11", 1).status, "fail");
  EXPECT_EQ(result_of(*r, "Mbpp/11", 2).status, "pass");
}

TEST(EvalIntegration, EvalPlusGroundTruthAtolAndCache) {
  REQUIRE_SANDBOX();
  auto dir = temp_dir("hep_eval");
  auto ds =
      load_dataset(Benchmark::kHumanEvalPlus, write_text(dir + "/p.jsonl", humanevalplus_jsonl()));
  ASSERT_TRUE(ds);
  const std::string m = ds->tasks[0].prompt, d = ds->tasks[1].prompt;
  std::vector<Sample> samples = {
      {"HumanEval/0", ds->tasks[0].canonical},
      {"HumanEval/0",
       m + "    return sum(x for x in xs if x == x) / len(xs) + 1e-9\n"},  // within atol
      {"HumanEval/0", m + "    return sum(x for x in xs if x == x) / len(xs) + 1e-3\n"},  // outside
      {"HumanEval/0", m + "    return None\n"},
      {"HumanEval/1", ds->tasks[1].canonical},
      {"HumanEval/1", d + "    return 2 * n if abs(n) < 10**20 else 0\n"},  // base only
      {"HumanEval/1", d + "    import time\n    time.sleep(30)\n"},
      {"HumanEval/1", d + "    return float(2 * n)\n"},
  };
  EvalOptions opt;
  opt.cache_dir = dir + "/cache";
  opt.min_time_limit = 1.0;
  auto r = evaluate(*ds, samples, *sb, opt);
  ASSERT_TRUE(r) << r.error().message();
  auto st = [&](const std::string& t, size_t i) { return result_of(*r, t, i); };
  EXPECT_EQ(st("HumanEval/0", 0).status, "pass") << st("HumanEval/0", 0).detail;
  EXPECT_EQ(st("HumanEval/0", 1).status, "pass") << st("HumanEval/0", 1).detail;
  EXPECT_EQ(st("HumanEval/0", 2).status, "fail");
  EXPECT_EQ(st("HumanEval/0", 3).status, "fail");
  EXPECT_EQ(st("HumanEval/1", 0).status, "pass") << st("HumanEval/1", 0).detail;
  EXPECT_EQ(st("HumanEval/1", 1).base_status, "pass");
  EXPECT_EQ(st("HumanEval/1", 1).plus_status, "fail");
  EXPECT_FALSE(st("HumanEval/1", 1).passed);
  EXPECT_EQ(st("HumanEval/1", 2).status, "timeout") << st("HumanEval/1", 2).detail;
  // float(2 * n): 2.0 == 2 on small base inputs, inexact on the 30-digit plus input.
  EXPECT_EQ(st("HumanEval/1", 3).base_status, "pass");
  EXPECT_EQ(st("HumanEval/1", 3).plus_status, "fail");
  EXPECT_NEAR(r->base_pass_at_k.at("pass@1"), (2.0 / 4 + 3.0 / 4) / 2, 1e-12);
  EXPECT_NEAR(r->pass_at_k.at("pass@1"), (2.0 / 4 + 1.0 / 4) / 2, 1e-12);
  const int64_t first_runs = r->programs_run;
  // Second run: expected outputs come from the cache, no canonical runs.
  auto again = evaluate(*ds, {samples[0], samples[4]}, *sb, opt);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->programs_run, 4);  // 2 samples × (base, plus)
  EXPECT_EQ(first_runs, 4 + 16);
  EXPECT_EQ(again->tasks_passed, 2);
}

TEST(EvalIntegration, MbppPlusTupleInputsAndSetOracle) {
  REQUIRE_SANDBOX();
  auto dir = temp_dir("mpp_eval");
  auto ds = load_dataset(Benchmark::kMbppPlus, write_text(dir + "/m.jsonl", mbppplus_jsonl()));
  ASSERT_TRUE(ds);
  const std::string p = ds->tasks[0].prompt;
  std::vector<Sample> samples = {
      {"Mbpp/2", ds->tasks[0].canonical},
      // Needs tuples: passes only if inputs are deserialised as EvalPlus does.
      {"Mbpp/2", p + "def similar_elements(a, b):\n    assert isinstance(a, tuple)\n"
                     "    return tuple(sorted(set(a) & set(b), reverse=True))\n"},
      {"Mbpp/2", p + "def similar_elements(a, b):\n    return list(set(a) | set(b))\n"},
  };
  auto r = evaluate(*ds, samples, *sb, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(result_of(*r, "Mbpp/2", 0).status, "pass") << result_of(*r, "Mbpp/2", 0).detail;
  EXPECT_EQ(result_of(*r, "Mbpp/2", 1).status, "pass") << result_of(*r, "Mbpp/2", 1).detail;
  EXPECT_EQ(result_of(*r, "Mbpp/2", 2).status, "fail");
}

TEST(EvalIntegration, BigCodeBenchSkipsMissingLibraries) {
  REQUIRE_SANDBOX();
  auto dir = temp_dir("bcb_eval");
  auto task = [](const std::string& id, const std::string& libs) {
    return Json{
        {"task_id", id},
        {"complete_prompt", "import os\ndef task_func(n):\n    \"\"\"Return n + 1.\"\"\"\n"},
        {"instruct_prompt", "Return n + 1."},
        {"code_prompt", "import os\ndef task_func(n):\n"},
        {"canonical_solution", "    return n + 1\n"},
        {"test",
         "import unittest\nclass TestCases(unittest.TestCase):\n"
         "    def test_one(self):\n        self.assertEqual(task_func(1), 2)\n"
         "    def test_two(self):\n        self.assertEqual(task_func(5), 6)\n"},
        {"entry_point", "task_func"},
        {"doc_struct", "{}"},
        {"libs", libs}}
        .dump();
  };
  auto ds =
      load_dataset(Benchmark::kBigCodeBench,
                   write_text(dir + "/b.jsonl",
                              task("BigCodeBench/0", "['os']") + "\n" +
                                  task("BigCodeBench/1", "['os', 'dstc_no_such_lib']") + "\n"));
  ASSERT_TRUE(ds);
  std::vector<Sample> samples = {
      {"BigCodeBench/0", ds->tasks[0].canonical},
      {"BigCodeBench/0", ds->tasks[0].prompt + "    return n + 2\n"},
      {"BigCodeBench/0", ds->tasks[0].prompt + "    return None\n"},
      {"BigCodeBench/1", ds->tasks[1].canonical},
  };
  auto r = evaluate(*ds, samples, *sb, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(result_of(*r, "BigCodeBench/0", 0).status, "pass")
      << result_of(*r, "BigCodeBench/0", 0).detail;
  EXPECT_EQ(result_of(*r, "BigCodeBench/0", 1).status, "fail");
  EXPECT_NE(result_of(*r, "BigCodeBench/0", 1).detail.find("test_one"), std::string::npos);
  EXPECT_EQ(result_of(*r, "BigCodeBench/0", 2).status, "fail");
  EXPECT_EQ(result_of(*r, "BigCodeBench/1", 0).status, "skipped");
  EXPECT_EQ(r->tasks_skipped, 1);
  EXPECT_EQ(r->tasks[1].skip_reason, "missing library: dstc_no_such_lib");
  EXPECT_NEAR(r->pass_at_k.at("pass@1"), 1.0 / 3, 1e-12);  // skipped task not in the mean
}

}  // namespace
}  // namespace dstc::benchmarks
