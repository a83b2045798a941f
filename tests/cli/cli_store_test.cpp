// The `dstc` binary's global contract and `dstc store`: help, exit codes, import,
// stats, check and TRL export.
#include <gtest/gtest.h>

#include <fstream>

#include "common/json.h"
#include "store/store.h"
#include "tests/cli/cli_test_util.h"
#include "tests/store/test_util.h"

namespace dstc::cli {
namespace {

using store::testing::TempDir;
using testing::run_dstc;

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(CliIntegration, HelpVersionAndUsageErrors) {
  auto help = run_dstc("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--run-dir"), std::string::npos);
  EXPECT_NE(help.out.find("--log-level"), std::string::npos);

  auto version = run_dstc("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("dstc 0."), std::string::npos);

  auto store_help = run_dstc("store --help");
  EXPECT_EQ(store_help.exit_code, 0);
  for (const char* sub : {"stats", "check", "export", "import"}) {
    EXPECT_NE(store_help.out.find(sub), std::string::npos) << sub;
  }

  EXPECT_EQ(run_dstc("no-such-command").exit_code, 2);
  EXPECT_EQ(run_dstc("store").exit_code, 2);
  EXPECT_EQ(run_dstc("store export").exit_code, 2);  // --out is required
  auto level = run_dstc("--log-level loud store stats");
  EXPECT_EQ(level.exit_code, 2);
  EXPECT_NE(level.err.find("unknown log level 'loud'"), std::string::npos);
}

TEST(CliIntegration, StoreImportStatsCheckExport) {
  TempDir tmp;
  std::string run = tmp.sub("run");
  std::string problems = tmp.sub("problems.jsonl");
  write_text(problems,
             "{\"task_id\": \"HumanEval/0\", \"prompt\": \"def f(x):\\n\", \"entry_point\": \"f\","
             " \"canonical_solution\": \"    return x\\n\", \"test\": \"assert f(1) == 1\"}\n"
             "{\"task_id\": 7, \"text\": \"Write a function.\", \"code\": \"def g(): pass\"}\n");

  auto missing = run_dstc("--run-dir " + run + " store stats");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no run store in " + run + "/store"), std::string::npos)
      << missing.err;

  auto imported = run_dstc("--run-dir " + run + " store import --problems " + problems);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.err.find("imported 2 problems"), std::string::npos);

  auto stats = run_dstc("--run-dir " + run + " store stats --json");
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  auto stats_json = parse_json(stats.out, "stats");
  ASSERT_TRUE(stats_json);
  EXPECT_EQ((*stats_json)["problems"]["all"], 2);

  // Pairs written through the library, exported through the CLI.
  {
    auto st = store::Store::open(run + "/store");
    ASSERT_TRUE(st);
    store::WriteSet ws;
    for (uint32_t i = 0; i < 3; ++i) {
      store::Pair p;
      p.round = 1;
      p.task_id = "HumanEval/0";
      p.selector = "dstc";
      p.index = i;
      p.prompt = "P" + std::to_string(i);
      p.chosen = "C\n\"quoted\"";
      p.rejected = "R";
      ws.put(p);
      ws.put(store::KtoExample{1, "HumanEval/0", "dstc", i, "P", "C", i % 2 == 0});
    }
    ASSERT_TRUE((*st)->commit({1, "select", "HumanEval/0"}, ws));
  }
  std::string dpo = tmp.sub("dpo.jsonl");
  auto exported = run_dstc("--run-dir " + run + " store export --round 1 --out " + dpo);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::ifstream in(dpo);
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    auto row = parse_json(line, "dpo");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->size(), 3u);
    EXPECT_EQ((*row)["prompt"], "P" + std::to_string(rows));
    EXPECT_EQ((*row)["chosen"], "C\n\"quoted\"");
    EXPECT_EQ((*row)["rejected"], "R");
    ++rows;
  }
  EXPECT_EQ(rows, 3);

  std::string kto = tmp.sub("kto.jsonl");
  ASSERT_EQ(
      run_dstc("--run-dir " + run + " store export --round 1 --format kto --out " + kto).exit_code,
      0);
  std::ifstream kin(kto);
  ASSERT_TRUE(std::getline(kin, line));
  auto first = parse_json(line, "kto");
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["label"], true);
  EXPECT_EQ((*first)["completion"], "C");

  auto check = run_dstc("--run-dir " + run + " store check");
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST(CliIntegration, ImportErrorsNameFileAndLine) {
  TempDir tmp;
  std::string bad = tmp.sub("bad.jsonl");
  write_text(bad, "{\"task_id\": \"a\", \"prompt\": \"p\"}\n{\"task_id\": \"b\"}\n");
  auto r = run_dstc("--run-dir " + tmp.sub("run") + " store import --problems " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad + ":2: missing field 'prompt'"), std::string::npos) << r.err;
  // Nothing half-imported: the first row is not in the store either.
  EXPECT_FALSE(std::filesystem::exists(tmp.sub("run") + "/store/CURRENT"));
}

TEST(CliIntegration, LockedStoreIsReportedByTheCli) {
  TempDir tmp;
  std::string run = tmp.sub("run");
  auto st = store::Store::open(run + "/store");
  ASSERT_TRUE(st);
  std::string problems = tmp.sub("p.jsonl");
  write_text(problems, "{\"task_id\": \"a\", \"prompt\": \"p\"}\n");
  auto r = run_dstc("--run-dir " + run + " store import --problems " + problems);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("in use by another process"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dstc::cli
