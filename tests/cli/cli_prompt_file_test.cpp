// `dstc run` on a JSONL prompts file and a HumanEval-format benchmark file
// (tests/cli/data/prompts_file.toml; toy-world tasks in those formats, so the shipped toy
// model writes real code for them): two rounds in a few seconds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "common/json.h"
#include "store/store.h"
#include "tests/cli/cli_test_util.h"
#include "tests/store/test_util.h"

namespace dstc::cli {
namespace {

using testing::run_dstc;

const std::string kData = std::string(DSTC_SOURCE_DIR) + "/tests/cli/data";

TEST(PromptFileRunIntegration, TwoRoundsOnAPromptsFileScoredOnABenchmarkFile) {
  if (!std::filesystem::exists(std::string(DSTC_SOURCE_DIR) + "/models/toy/model.safetensors")) {
    GTEST_SKIP() << "models/toy is missing; rebuild it with scripts/make-toy-model.sh";
  }
  store::testing::TempDir tmp;
  std::string run_dir = tmp.sub("run");
  // From another directory: the config's relative paths resolve against its own folder.
  auto r = run_dstc("--log-level warn --run-dir " + run_dir + " run --rounds 2 --config " + kData +
                        "/prompts_file.toml",
                    tmp.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("humaneval"), std::string::npos) << r.out;

  auto text = read_file(run_dir + "/summary.json");
  ASSERT_TRUE(text);
  auto summary = parse_json(*text, "summary.json");
  ASSERT_TRUE(summary);
  EXPECT_EQ((*summary)["benchmark"], "humaneval");
  EXPECT_EQ((*summary)["eval_tasks"], 6);
  // The toy model solves most of these toy tasks (templates without a typical slip, so
  // its greedy answer is usually right) in HumanEval form: scoring through
  // benchmarks/programs.h works end to end.
  EXPECT_GT((*summary)["base_pass@1"].get<double>(), 0.3);
  ASSERT_EQ((*summary)["rounds"].size(), 2u);
  EXPECT_EQ((*summary)["rounds"][0]["prompts"], 6);

  store::StoreOptions ro;
  ro.read_only = true;
  auto st = store::Store::open(run_dir + "/store", ro);
  ASSERT_TRUE(st);
  auto problems = (*st)->check();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty());
  for (uint32_t round : {0u, 1u, 2u}) {
    auto evals = (*st)->evals(round, "humaneval");
    ASSERT_TRUE(evals);
    EXPECT_EQ(evals->size(), 6u) << "round " << round;
  }
  // Round 1 wraps around the 8-prompt file: tiny/6 and line 8 (no task_id, no tests).
  auto p8 = (*st)->problem("tiny_prompts.jsonl/8");
  ASSERT_TRUE(p8);
  ASSERT_TRUE(p8->has_value());
  EXPECT_EQ((*p8)->split, "train");
  auto p0 = (*st)->problem("tiny/0");
  ASSERT_TRUE(p0 && p0->has_value());
  EXPECT_EQ((*p0)->canonical_solution, "    return x * 4 + 7\n");
  // Prompts with ground truth get hidden-test and canonical runs; those without get none.
  auto count_truth = [&](uint32_t round, const std::string& id) {
    size_t n = 0;
    auto execs = (*st)->executions(round, id);
    EXPECT_TRUE(execs);
    for (const auto& e : execs.value()) {
      n += e.test_index == store::kHiddenTestIndex || e.code_index == store::kCanonicalCodeIndex;
    }
    return n;
  };
  EXPECT_GT(count_truth(0, "tiny/0"), 0u);
  EXPECT_EQ(count_truth(1, "tiny/6"), 0u);
  EXPECT_EQ(count_truth(1, "tiny_prompts.jsonl/8"), 0u);
  auto samples = (*st)->samples(1, "tiny_prompts.jsonl/8");
  ASSERT_TRUE(samples);
  EXPECT_EQ(samples->size(), 8u);
}

TEST(PromptFileRunIntegration, MalformedPromptsFileFailsNamingLineAndField) {
  store::testing::TempDir tmp;
  std::ofstream(tmp.sub("bad.jsonl")) << R"({"task_id": "a", "prompt": "def f(x):\n    pass\n"})"
                                      << "\n"
                                      << R"({"task_id": "b", "entry_point": "g"})"
                                      << "\n";
  std::ofstream(tmp.sub("bad.toml")) << "[model]\npath = \"" << DSTC_SOURCE_DIR
                                     << "/models/toy\"\n[data]\ntrain = \"bad.jsonl\"\n";
  auto r = run_dstc("--run-dir " + tmp.sub("run") + " run --config " + tmp.sub("bad.toml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(tmp.sub("bad.jsonl") + ":2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("field 'prompt'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.sub("run/store"))) << "a failed start leaves no run";
}

}  // namespace
}  // namespace dstc::cli
