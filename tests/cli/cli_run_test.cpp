// `dstc run` end to end on configs/smoke.toml (the shipped toy model, a few prompts):
// the round completes, writes its summary and report, refuses to overwrite a run, and
// resumes only with the same config.
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

const std::string kSmoke = std::string(DSTC_SOURCE_DIR) + "/configs/smoke.toml";

TEST(RunIntegration, SmokeRoundCompletesAndResumesOnlyWithTheSameConfig) {
  if (!std::filesystem::exists(std::string(DSTC_SOURCE_DIR) + "/models/toy/model.safetensors")) {
    GTEST_SKIP() << "models/toy is missing; rebuild it with scripts/make-toy-model.sh";
  }
  store::testing::TempDir tmp;
  std::string run_dir = tmp.sub("run");
  auto first = run_dstc("--log-level warn --run-dir " + run_dir + " run --config " + kSmoke);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("held-out pass@1"), std::string::npos);

  auto text = read_file(run_dir + "/summary.json");
  ASSERT_TRUE(text);
  auto summary = parse_json(*text, "summary.json");
  ASSERT_TRUE(summary);
  for (const char* key : {"base_pass@1", "final_pass@1"}) {
    ASSERT_TRUE(summary->contains(key)) << key;
    double v = (*summary)[key].get<double>();
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
  }
  ASSERT_EQ((*summary)["rounds"].size(), 1u);
  const Json& round = (*summary)["rounds"][0];
  EXPECT_EQ(round["selectors"]["dstc"]["selection"]["prompts"], 32);
  EXPECT_TRUE(std::filesystem::exists(run_dir + "/report.md"));
  EXPECT_TRUE(std::filesystem::exists(run_dir + "/round-0/model/model.safetensors") ||
              round["train"].contains("skipped"));
  // The compare variants of configs/smoke.toml trained on the same matrices and were scored.
  for (const char* variant : {"oracle", "dstc:kto"}) {
    ASSERT_TRUE(round["compare"].contains(variant)) << round.dump();
    double after = round["compare"][variant]["pass@1_after"].get<double>();
    EXPECT_GE(after, 0.0);
    EXPECT_LE(after, 1.0);
    EXPECT_EQ(round["compare"][variant]["train"]["selector"],
              std::string(variant).substr(0, std::string(variant).find(':')));
  }
  EXPECT_EQ(round["compare"]["dstc:kto"]["train"]["loss"], "kto");

  {
    store::StoreOptions ro;
    ro.read_only = true;
    auto st = store::Store::open(run_dir + "/store", ro);
    ASSERT_TRUE(st);
    auto stats = (*st)->stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->counts["samples"][0], 32u * (4 + 4));
    EXPECT_EQ(stats->counts["evals"][0], 48u);
    EXPECT_EQ(stats->counts["evals"][1], 48u * 3);  // the final model and two variants
    auto problems = (*st)->check();
    ASSERT_TRUE(problems);
    EXPECT_TRUE(problems->empty());
    // Every DSTC pair's chosen cell passed and its rejected cell failed.
    auto pairs = (*st)->pairs(0, "dstc");
    ASSERT_TRUE(pairs);
    for (const auto& p : *pairs) {
      auto execs = (*st)->executions(0, p.task_id);
      ASSERT_TRUE(execs);
      for (const auto& e : *execs) {
        if (static_cast<int32_t>(e.code_index) == p.chosen_code &&
            static_cast<int32_t>(e.test_index) == p.chosen_test) {
          EXPECT_EQ(e.status, "passed");
        }
        if (static_cast<int32_t>(e.code_index) == p.rejected_code &&
            static_cast<int32_t>(e.test_index) == p.rejected_test) {
          EXPECT_NE(e.status, "passed");
        }
      }
    }
  }

  // `dstc select` over the stored matrices reproduces the run's own selection of the same
  // selector (deterministic in matrices, seed and config); relabeling adds flipped pairs.
  {
    auto sel = run_dstc("--log-level warn --run-dir " + run_dir + " select --selector random");
    ASSERT_EQ(sel.exit_code, 0) << sel.err;
    auto j = parse_json(sel.out, "select output");
    ASSERT_TRUE(j) << sel.out;
    EXPECT_EQ((*j)["selection"], round["selectors"]["random"]["selection"]);
    EXPECT_EQ((*j)["audit"], round["selectors"]["random"]["audit"]);
    auto ra = run_dstc("--log-level warn --run-dir " + run_dir +
                       " select --selector dstc --relabel reward-augmented");
    ASSERT_EQ(ra.exit_code, 0) << ra.err;
    auto k = parse_json(ra.out, "select output");
    ASSERT_TRUE(k) << ra.out;
    EXPECT_EQ((*k)["selector"], "dstc+reward-augmented");
    store::StoreOptions ro;
    ro.read_only = true;
    auto st = store::Store::open(run_dir + "/store", ro);
    ASSERT_TRUE(st);
    auto plain = (*st)->pairs(0, "dstc");
    auto augmented = (*st)->pairs(0, "dstc+reward-augmented");
    ASSERT_TRUE(plain && augmented);
    // Each pair becomes two unless both scores round to the same goal (selector.h).
    EXPECT_GT(augmented->size(), plain->size());
    EXPECT_LE(augmented->size(), 2 * plain->size());
    // Without a flag the run's own skip policy applies (smoke: skip same-code prompts), so
    // the run's selection comes back; --keep-same-code keeps those prompts instead.
    auto own = run_dstc("--log-level warn --run-dir " + run_dir + " select --selector dstc");
    ASSERT_EQ(own.exit_code, 0) << own.err;
    auto o = parse_json(own.out, "select output");
    ASSERT_TRUE(o) << own.out;
    EXPECT_EQ((*o)["selection"], round["selectors"]["dstc"]["selection"]);
    auto keep = run_dstc("--log-level warn --run-dir " + run_dir +
                         " select --selector dstc --keep-same-code");
    ASSERT_EQ(keep.exit_code, 0) << keep.err;
    auto kept = parse_json(keep.out, "select output");
    ASSERT_TRUE(kept) << keep.out;
    EXPECT_EQ((*kept)["selection"]["same_code_kept"],
              round["selectors"]["dstc"]["selection"]["skips"]["same_code"]);
    auto unknown = run_dstc("--run-dir " + tmp.sub("nothing") + " select");
    EXPECT_NE(unknown.exit_code, 0);
    EXPECT_NE(unknown.err.find("no run store"), std::string::npos) << unknown.err;
  }
  // `dstc report` rebuilds the report from summary.json.
  {
    std::filesystem::remove(run_dir + "/report.md");
    auto rep = run_dstc("--run-dir " + run_dir + " report");
    ASSERT_EQ(rep.exit_code, 0) << rep.err;
    auto md = read_file(run_dir + "/report.md");
    ASSERT_TRUE(md);
    EXPECT_NE(md->find("Same matrices"), std::string::npos);
    EXPECT_NE(md->find("oracle"), std::string::npos);
  }

  auto again = run_dstc("--run-dir " + run_dir + " run --config " + kSmoke);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;

  std::string changed = tmp.sub("changed.toml");
  std::ofstream(changed) << *read_file(kSmoke) << "\n[execute]\ntimeout = 7.0\n";
  auto refused = run_dstc("--run-dir " + run_dir + " run --resume --config " + changed);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("execute.timeout"), std::string::npos) << refused.err;

  auto resumed =
      run_dstc("--log-level warn --run-dir " + run_dir + " run --resume --config " + kSmoke);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  auto text2 = read_file(run_dir + "/summary.json");
  ASSERT_TRUE(text2);
  auto summary2 = parse_json(*text2, "summary.json");
  ASSERT_TRUE(summary2);
  EXPECT_EQ((*summary2)["final_pass@1"], (*summary)["final_pass@1"]);
}

// `dstc generate`: J codes and K tests per prompt of a file into a run's store; a second
// call finds every prompt done and changes nothing.
TEST(GenerateIntegration, SamplesEveryPromptOnceAndResumes) {
  if (!std::filesystem::exists(std::string(DSTC_SOURCE_DIR) + "/models/toy/model.safetensors")) {
    GTEST_SKIP() << "models/toy is missing; rebuild it with scripts/make-toy-model.sh";
  }
  store::testing::TempDir tmp;
  std::string run_dir = tmp.sub("gen");
  std::string args = "--log-level warn --run-dir " + run_dir + " generate --run gen --model " +
                     std::string(DSTC_SOURCE_DIR) + "/models/toy --prompts " +
                     std::string(DSTC_SOURCE_DIR) +
                     "/tests/cli/data/tiny_prompts.jsonl --codes 2 --tests 3 --max-new-tokens 48";
  auto first = run_dstc(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto count = [&]() -> size_t {
    store::StoreOptions ro;
    ro.read_only = true;
    auto st = store::Store::open(run_dir + "/store", ro);
    EXPECT_TRUE(st);
    if (!st) return 0;
    auto stats = (*st)->stats();
    return stats ? stats->counts["samples"][0] : 0;
  };
  EXPECT_EQ(count(), 8u * (2 + 3));  // 8 prompts in the file
  auto second = run_dstc(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(count(), 8u * (2 + 3));
  // Other sampling options on the same run are a different recipe: refused.
  auto changed = run_dstc(args + " --temperature 0.2");
  EXPECT_NE(changed.exit_code, 0);
  EXPECT_NE(changed.err.find("generate.temperature"), std::string::npos) << changed.err;
  auto missing =
      run_dstc("--run-dir " + run_dir + " generate --run gen --model " +
               std::string(DSTC_SOURCE_DIR) + "/models/toy --prompts /nonexistent.jsonl");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("/nonexistent.jsonl"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace dstc::cli
