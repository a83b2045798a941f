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

}  // namespace
}  // namespace dstc::cli
