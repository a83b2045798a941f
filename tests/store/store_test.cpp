// Round trips of every record type, prefix scans, stage units and the errors of
// locked, corrupt, missing and future-version stores.
#include "store/store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "store/codec.h"
#include "store/keys.h"
#include "tests/store/test_util.h"

namespace dstc::store {
namespace {

using testing::make_execution;
using testing::make_sample;
using testing::TempDir;

std::unique_ptr<Store> open_ok(const std::string& dir, StoreOptions opts = {}) {
  auto st = Store::open(dir, opts);
  EXPECT_TRUE(st.has_value()) << (st ? "" : st.error().message());
  return st ? std::move(*st) : nullptr;
}

TEST(StoreTest, EveryRecordTypeRoundTrips) {
  TempDir tmp;
  auto st = open_ok(tmp.path());
  ASSERT_TRUE(st);

  Problem p{
      "HumanEval/0", "def f(x):\n    \"\"\"doc\"\"\"\n", "f", "    return x\n", "assert f(1) == 1",
      "eval"};
  Sample s = make_sample(2, "HumanEval/0", SampleKind::kTest, 3);
  Execution e = make_execution(2, "HumanEval/0", 1, 3, false);
  Pair pr;
  pr.round = 2;
  pr.task_id = "HumanEval/0";
  pr.selector = "dstc";
  pr.index = 0;
  pr.prompt = "prompt \xE2\x9C\x93 unicode";
  pr.chosen = "code+test";
  pr.rejected = std::string("with\0nul", 8);
  pr.chosen_code = 1;
  pr.chosen_test = 2;
  pr.rejected_code = 3;
  pr.rejected_test = 4;
  pr.chosen_score = 0.75;
  pr.rejected_score = 0.25;
  KtoExample k{2, "HumanEval/0", "dstc", 1, "p", "c", true};
  EvalResult ev{2, "humaneval", "HumanEval/0", 3, 2, {"passed", "failed", "passed"}};

  WriteSet ws;
  ws.put(p);
  ws.put(s);
  ws.put(e);
  ws.put(pr);
  ws.put(k);
  ws.put(ev);
  ws.put_meta("config", "key = 1");
  ASSERT_TRUE(st->write(ws));

  auto p2 = st->problem("HumanEval/0");
  ASSERT_TRUE(p2 && *p2);
  EXPECT_EQ((*p2)->prompt, p.prompt);
  EXPECT_EQ((*p2)->canonical_solution, p.canonical_solution);
  EXPECT_EQ((*p2)->hidden_tests, p.hidden_tests);
  EXPECT_EQ((*p2)->split, "eval");

  auto samples = st->samples(2, "HumanEval/0");
  ASSERT_TRUE(samples);
  ASSERT_EQ(samples->size(), 1u);
  const Sample& s2 = samples->front();
  EXPECT_EQ(s2.kind, SampleKind::kTest);
  EXPECT_EQ(s2.index, 3u);
  EXPECT_EQ(s2.raw, s.raw);
  EXPECT_EQ(s2.program, s.program);
  EXPECT_EQ(s2.sampling.model_id, "toy@abc");
  EXPECT_DOUBLE_EQ(s2.sampling.temperature, 0.8);
  EXPECT_EQ(s2.sampling.top_k, 40);
  EXPECT_EQ(s2.sampling.seed, s.sampling.seed);

  auto execs = st->executions(2, "HumanEval/0");
  ASSERT_TRUE(execs);
  ASSERT_EQ(execs->size(), 1u);
  EXPECT_EQ(execs->front().status, "failed");
  EXPECT_EQ(execs->front().code_index, 1u);
  EXPECT_EQ(execs->front().test_index, 3u);
  EXPECT_DOUBLE_EQ(execs->front().cpu_ms, 3.25);

  auto pairs = st->pairs(2, "dstc");
  ASSERT_TRUE(pairs);
  ASSERT_EQ(pairs->size(), 1u);
  EXPECT_EQ(pairs->front().prompt, pr.prompt);
  EXPECT_EQ(pairs->front().rejected, pr.rejected);  // embedded NUL survives
  EXPECT_EQ(pairs->front().rejected_test, 4);
  EXPECT_DOUBLE_EQ(pairs->front().chosen_score, 0.75);

  auto ktos = st->kto(2, "dstc");
  ASSERT_TRUE(ktos);
  ASSERT_EQ(ktos->size(), 1u);
  EXPECT_TRUE(ktos->front().label);

  auto evals = st->evals(2, "humaneval");
  ASSERT_TRUE(evals);
  ASSERT_EQ(evals->size(), 1u);
  EXPECT_EQ(evals->front().statuses, ev.statuses);
  EXPECT_EQ(evals->front().correct, 2u);

  auto cfg = st->meta("config");
  ASSERT_TRUE(cfg && *cfg);
  EXPECT_EQ(**cfg, "key = 1");
}

TEST(StoreTest, PrefixScanReturnsExactlyOnePromptsMatrix) {
  TempDir tmp;
  auto st = open_ok(tmp.path());
  ASSERT_TRUE(st);
  // "t/1" must not see "t/10" or "t/1x"; round 1 must not see round 0 or 2.
  WriteSet ws;
  for (const std::string task : {"t/1", "t/10", "t/1x", "t/0"}) {
    for (uint32_t round : {0u, 1u, 2u}) {
      for (uint32_t j = 0; j < 3; ++j) {
        ws.put(make_sample(round, task, SampleKind::kCode, j));
        for (uint32_t k = 0; k < 12; ++k) {
          if (j == 0) ws.put(make_sample(round, task, SampleKind::kTest, k));
          ws.put(make_execution(round, task, j, k, (j + k) % 2 == 0));
        }
      }
    }
  }
  ASSERT_TRUE(st->write(ws));

  auto execs = st->executions(1, "t/1");
  ASSERT_TRUE(execs);
  ASSERT_EQ(execs->size(), 36u);
  for (size_t i = 0; i < execs->size(); ++i) {
    const auto& e = (*execs)[i];
    EXPECT_EQ(e.task_id, "t/1");
    EXPECT_EQ(e.round, 1u);
    // Ordered by (code, test) numerically although k runs past 9.
    EXPECT_EQ(e.code_index, i / 12);
    EXPECT_EQ(e.test_index, i % 12);
  }
  auto codes = st->samples(1, "t/1", SampleKind::kCode);
  auto tests = st->samples(1, "t/1", SampleKind::kTest);
  auto all = st->samples(1, "t/1");
  ASSERT_TRUE(codes && tests && all);
  EXPECT_EQ(codes->size(), 3u);
  EXPECT_EQ(tests->size(), 12u);
  EXPECT_EQ(all->size(), 15u);
  for (const auto& s : *all) EXPECT_EQ(s.task_id, "t/1");
}

TEST(StoreTest, UnitsCommitWithTheirRecordsAndPendingListsTheRest) {
  TempDir tmp;
  auto st = open_ok(tmp.path());
  ASSERT_TRUE(st);
  std::vector<std::string> units{"a", "b", "c", "d"};
  WriteSet ws;
  ws.put(make_sample(0, "b", SampleKind::kCode, 0));
  ASSERT_TRUE(st->commit({0, "generate", "b"}, ws));
  ASSERT_TRUE(st->commit({0, "generate", "d"}, WriteSet{}));
  ASSERT_TRUE(st->commit({1, "generate", "a"}, WriteSet{}));  // other round

  auto pending = st->pending_units(0, "generate", units);
  ASSERT_TRUE(pending);
  EXPECT_EQ(*pending, (std::vector<std::string>{"a", "c"}));
  auto done = st->done_units(0, "generate");
  ASSERT_TRUE(done);
  EXPECT_EQ(*done, (std::vector<std::string>{"b", "d"}));
  EXPECT_TRUE(*st->is_done({0, "generate", "b"}));
  EXPECT_FALSE(*st->is_done({0, "execute", "b"}));

  ASSERT_TRUE(st->reset_stage(0, "generate"));
  EXPECT_EQ(st->done_units(0, "generate")->size(), 0u);
  EXPECT_EQ(st->samples(0, "b")->size(), 1u);  // records stay, markers go
  EXPECT_EQ(st->done_units(1, "generate")->size(), 1u);
}

TEST(StoreTest, EraseRemovesPairsInTheSameAtomicWrite) {
  TempDir tmp;
  auto st = open_ok(tmp.path());
  ASSERT_TRUE(st);
  auto pair = [](const std::string& task, uint32_t index) {
    Pair p;
    p.task_id = task;
    p.selector = "dstc";
    p.index = index;
    p.prompt = "q";
    p.chosen = "c";
    p.rejected = "r";
    return p;
  };
  WriteSet first;
  for (const char* task : {"a", "b", "c"}) first.put(pair(task, 0));
  first.put(pair("a", 1));
  ASSERT_TRUE(st->write(first));
  ASSERT_EQ(st->pairs(0, "dstc")->size(), 4u);
  // A re-selection: erase everything stored under the name, put the new set.
  WriteSet second;
  auto stored = st->pairs(0, "dstc");
  ASSERT_TRUE(stored);
  for (const auto& p : *stored) second.erase(p);
  second.put(pair("b", 0));
  ASSERT_TRUE(st->write(second));
  auto left = st->pairs(0, "dstc");
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].task_id, "b");
  KtoExample k{0, "a", "dstc", 0, "q", "c", true};
  WriteSet third;
  third.put(k);
  ASSERT_TRUE(st->commit({0, "select", "a"}, third));
  WriteSet fourth;
  fourth.erase(k);
  ASSERT_TRUE(st->write(fourth));
  EXPECT_TRUE(st->kto(0, "dstc")->empty());
}

TEST(StoreTest, RejectsKeyComponentsWithReservedBytes) {
  TempDir tmp;
  auto st = open_ok(tmp.path());
  ASSERT_TRUE(st);
  auto r = st->commit({0, "gen",
                       std::string("a\x1f"
                                   "b")},
                      WriteSet{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("unit"), std::string::npos);
  EXPECT_FALSE(keys_valid_task_id(""));
  EXPECT_TRUE(keys_valid_task_id("HumanEval/12"));
}

TEST(StoreTest, StatsCountPerFamilyAndRound) {
  TempDir tmp;
  auto st = open_ok(tmp.path());
  ASSERT_TRUE(st);
  WriteSet ws;
  ws.put(make_sample(0, "t", SampleKind::kCode, 0));
  ws.put(make_sample(3, "t", SampleKind::kCode, 0));
  ws.put(make_sample(3, "t", SampleKind::kCode, 1));
  ASSERT_TRUE(st->write(ws));
  auto stats = st->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->counts["samples"][0], 1u);
  EXPECT_EQ(stats->counts["samples"][3], 2u);
  EXPECT_EQ(stats->counts["meta"][-1], 1u);  // the schema version stamp
}

TEST(StoreTest, CheckFindsExecutionsWithoutSamplesAndPairsWithoutProblems) {
  TempDir tmp;
  auto st = open_ok(tmp.path());
  ASSERT_TRUE(st);
  WriteSet ws;
  ws.put(Problem{"t", "p", "f", "", "", "train"});
  ws.put(make_sample(0, "t", SampleKind::kCode, 0));
  ws.put(make_sample(0, "t", SampleKind::kTest, 0));
  ws.put(make_execution(0, "t", 0, 0, true));
  ASSERT_TRUE(st->write(ws));
  auto clean = st->check();
  ASSERT_TRUE(clean);
  EXPECT_TRUE(clean->empty());

  WriteSet bad;
  bad.put(make_execution(0, "t", 0, 5, true));  // test sample 5 does not exist
  Pair orphan;
  orphan.task_id = "nowhere";
  orphan.selector = "dstc";
  bad.put(orphan);
  ASSERT_TRUE(st->write(bad));
  auto found = st->check();
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 2u);
  EXPECT_NE((*found)[0].find("missing test sample 5"), std::string::npos) << (*found)[0];
  EXPECT_NE((*found)[1].find("'nowhere'"), std::string::npos) << (*found)[1];
}

TEST(StoreTest, SecondOpenWhileHeldIsBusy) {
  TempDir tmp;
  auto first = open_ok(tmp.path());
  ASSERT_TRUE(first);
  auto second = Store::open(tmp.path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kBusy);
  EXPECT_NE(second.error().message().find("in use by another process"), std::string::npos);
  // Read-only opens (stats, export) work beside a writer.
  StoreOptions ro;
  ro.read_only = true;
  EXPECT_TRUE(Store::open(tmp.path(), ro));
}

TEST(StoreTest, MissingStoreIsNotFoundUnlessCreating) {
  TempDir tmp;
  StoreOptions opts;
  opts.create_if_missing = false;
  auto r = Store::open(tmp.sub("absent"), opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find(tmp.sub("absent")), std::string::npos);
}

TEST(StoreTest, CorruptDatabaseIsReportedAsCorrupt) {
  TempDir tmp;
  {
    auto st = open_ok(tmp.path());
    ASSERT_TRUE(st);
  }
  // Point CURRENT at garbage manifest content.
  std::string manifest;
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    if (entry.path().filename().string().rfind("MANIFEST-", 0) == 0) manifest = entry.path();
  }
  ASSERT_FALSE(manifest.empty());
  {
    std::ofstream out(manifest, std::ios::binary | std::ios::trunc);
    out << std::string(4096, '\x5a');
  }
  auto r = Store::open(tmp.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt) << r.error().message();
  EXPECT_NE(r.error().message().find("corrupt"), std::string::npos);
}

TEST(StoreTest, FutureSchemaVersionIsRefused) {
  TempDir tmp;
  {
    auto st = open_ok(tmp.path());
    ASSERT_TRUE(st);
    WriteSet ws;
    ws.put_meta("schema_version", std::to_string(kSchemaVersion + 1));
    ASSERT_TRUE(st->write(ws));
  }
  auto r = Store::open(tmp.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kVersion);
  EXPECT_NE(r.error().message().find("upgrade dstc"), std::string::npos);
}

TEST(StoreTest, FutureRecordVersionIsRefusedNamingTheRecord) {
  Sample s = make_sample(0, "t", SampleKind::kCode, 0);
  std::string value = codec::encode(s);
  value[1] = '\x7f';  // version 0x7f.. > kSchemaVersion
  Sample out;
  auto r = codec::decode(value, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kVersion);

  std::string garbage = "\xD5\x00\x01not msgpack";
  auto g = codec::decode(garbage, out);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code(), ErrorCode::kCorrupt);
  EXPECT_FALSE(codec::decode("", out));
}

}  // namespace
}  // namespace dstc::store
