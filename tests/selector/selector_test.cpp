// Selector: hand-made cases for every rule and ablation, and property tests over
// thousands of seeded random matrices.
#include "selector/selector.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace dstc::selector {
namespace {

// A matrix with codes "c0".."c{J-1}" and tests "t0".."t{K-1}" from rows of '0'/'1'.
Matrix make(const std::vector<std::string>& rows, const std::string& prompt = "p") {
  Matrix m;
  m.prompt = prompt;
  const size_t K = rows.empty() ? 0 : rows[0].size();
  for (size_t j = 0; j < rows.size(); ++j) m.codes.push_back("c" + std::to_string(j));
  for (size_t k = 0; k < K; ++k) m.tests.push_back("t" + std::to_string(k));
  for (const auto& r : rows) {
    std::vector<uint8_t> row;
    for (char c : r) row.push_back(c == '1');
    m.passed.push_back(row);
  }
  return m;
}

SelectorOptions with(Method method) {
  SelectorOptions o;
  o.method = method;
  return o;
}

TEST(Concat, IsCodeBlankLineTest) {
  EXPECT_EQ(concat_code_test("def f():\n    return 1\n", "assert f() == 1"),
            "def f():\n    return 1\n\n\nassert f() == 1");
  EXPECT_EQ(concat_code_test("a", "b"), std::string("a") + std::string(kCodeTestSeparator) + "b");
}

TEST(Dstc, FollowsTheMinimaxRule) {
  // Row sums: c0=2, c1=3, c2=1, c3=3. Column sums: t0=4, t1=3, t2=1, t3=1.
  //        t0 t1 t2 t3
  Matrix m = make({"1100",    // c0
                   "1110",    // c1  <- chosen code (max 3, lowest index)
                   "1000",    // c2
                   "1101"});  // c3
  Selection s = select(m);
  ASSERT_TRUE(s.pair) << skip_reason_name(s.skip);
  const Pair& p = *s.pair;
  EXPECT_EQ(p.chosen_code, 1u);
  EXPECT_EQ(p.chosen_test, 2u);    // passed by c1, fewest codes (1)
  EXPECT_EQ(p.rejected_test, 1u);  // failed by someone, most codes pass (3)
  EXPECT_EQ(p.rejected_code, 2u);  // the only code failing t1
  EXPECT_EQ(p.chosen, "c1\n\nt2");
  EXPECT_EQ(p.rejected, "c2\n\nt1");
  EXPECT_EQ(p.prompt, "p");
  EXPECT_DOUBLE_EQ(p.chosen_score, 0.75);
  EXPECT_DOUBLE_EQ(p.rejected_score, 0.25);
  EXPECT_FALSE(p.same_code);
}

TEST(Dstc, TiesGoToTheLowestIndex) {
  Matrix m = make({"10", "01", "10", "01"});  // every code 1, every test 2
  Selection s = select(m);
  ASSERT_TRUE(s.pair);
  EXPECT_EQ(s.pair->chosen_code, 0u);
  EXPECT_EQ(s.pair->chosen_test, 0u);
  EXPECT_EQ(s.pair->rejected_test, 0u);
  EXPECT_EQ(s.pair->rejected_code, 1u);  // first code failing t0
}

TEST(Dstc, SkipsAllZeroAndAllPass) {
  EXPECT_EQ(select(make({"000", "000"})).skip, SkipReason::kNonePass);
  EXPECT_EQ(select(make({"111", "111"})).skip, SkipReason::kAllPass);
  EXPECT_FALSE(select(make({"111", "111"})).pair);
}

TEST(Dstc, SkipsWithoutValidCodesOrTests) {
  EXPECT_EQ(select(make({})).skip, SkipReason::kNoValidCode);
  Matrix no_tests = make({"", ""});
  EXPECT_EQ(select(no_tests).skip, SkipReason::kNoValidTest);
  Matrix m = make({"10", "01"});
  m.code_valid = {0, 0};
  EXPECT_EQ(select(m).skip, SkipReason::kNoValidCode);
  m.code_valid = {};
  m.test_valid = {0, 0};
  EXPECT_EQ(select(m).skip, SkipReason::kNoValidTest);
}

TEST(Dstc, InvalidRowsAndColumnsAreIgnored) {
  // c0 would win on raw sums, but it is invalid; t2 invalid makes c1/c2 differ on t0/t1.
  Matrix m = make({"111", "101", "001"});
  m.code_valid = {0, 1, 1};
  m.test_valid = {1, 1, 0};
  Selection s = select(m);
  ASSERT_TRUE(s.pair);
  EXPECT_EQ(s.pair->chosen_code, 1u);
  EXPECT_EQ(s.pair->chosen_test, 0u);
  EXPECT_EQ(s.pair->rejected_test, 0u);  // t0: passed by 1 of 2 valid codes
  EXPECT_EQ(s.pair->rejected_code, 2u);
  EXPECT_DOUBLE_EQ(s.pair->chosen_score, 0.5);
  EXPECT_DOUBLE_EQ(s.pair->rejected_score, 0.0);
}

TEST(Dstc, SameCodeIsKeptOrSkippedByOption) {
  // Row sums 2,2,2 -> j1 = c0; k1: c0 passes t0 (column sum 1) and t1 (3) -> t0.
  // Tests failed by some code: t0 (1), t2 (2) -> k0 = t2; codes failing t2: c0 -> j0 = j1.
  Matrix m = make({"110", "011", "011"});
  Selection kept = select(m);
  ASSERT_TRUE(kept.pair);
  EXPECT_TRUE(kept.pair->same_code);
  EXPECT_EQ(kept.pair->chosen, "c0\n\nt0");
  EXPECT_EQ(kept.pair->rejected, "c0\n\nt2");
  SelectorOptions skip_same;
  skip_same.skip_same_code = true;
  EXPECT_EQ(select(m, skip_same).skip, SkipReason::kSameCode);
  // Code-only responses of the same code would be identical: always skipped.
  EXPECT_EQ(select(m, with(Method::kCodeOnly)).skip, SkipReason::kSameCode);
}

TEST(Dstc, IdenticalResponsesAreSkipped) {
  Matrix m = make({"10", "01"});
  m.codes = {"same", "same"};
  m.tests = {"t", "t"};  // flaky execution: the same program passed and failed
  EXPECT_EQ(select(m).skip, SkipReason::kIdentical);
}

TEST(CodeOnly, UsesTheDstcCodesWithoutTests) {
  Matrix m = make({"1100", "1110", "1000", "1101"});
  Selection s = select(m, with(Method::kCodeOnly));
  ASSERT_TRUE(s.pair);
  EXPECT_EQ(s.pair->chosen, "c1");
  EXPECT_EQ(s.pair->rejected, "c2");
}

TEST(MaxMin, TakesMaxAndMinRowsAndFirstTests) {
  Matrix m = make({"0110", "0111", "0001", "1100"});
  // Row sums 2,3,1,2 -> j1 = c1, j0 = c2; first test c1 passes = t1; first c2 fails = t0.
  Selection s = select(m, with(Method::kMaxMin));
  ASSERT_TRUE(s.pair);
  EXPECT_EQ(s.pair->chosen, "c1\n\nt1");
  EXPECT_EQ(s.pair->rejected, "c2\n\nt0");
  // Every code passes the same number of tests: no lower code.
  EXPECT_EQ(select(make({"10", "01"}), with(Method::kMaxMin)).skip, SkipReason::kNoLowerCode);
}

TEST(Random, IsSeededAndRespectsTheLabels) {
  Matrix m = make({"1100", "1110", "1000", "1101", "0000"});
  SelectorOptions o = with(Method::kRandom);
  o.seed = 7;
  Selection a = select(m, o), b = select(m, o);
  ASSERT_TRUE(a.pair);
  EXPECT_EQ(a.pair->chosen, b.pair->chosen);
  EXPECT_EQ(a.pair->rejected, b.pair->rejected);
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    o.seed = seed;
    Selection s = select(m, o);
    ASSERT_TRUE(s.pair);
    EXPECT_EQ(m.passed[s.pair->chosen_code][s.pair->chosen_test], 1);
    EXPECT_EQ(m.passed[s.pair->rejected_code][s.pair->rejected_test], 0);
    seen.insert(s.pair->chosen + "|" + s.pair->rejected);
  }
  EXPECT_GT(seen.size(), 5u);  // the draw does depend on the seed
  EXPECT_EQ(select(make({"10", "01"}), o).skip, SkipReason::kNoLowerCode);
}

TEST(CodeT, PrefersTheLargerConsensusSet) {
  // c0 passes all 3 tests alone (agreement 1*3 = 3); c1..c3 agree on t0,t1 (3*2 = 6).
  // c4 passes only t2 (1*1 = 1).
  Matrix m = make({"111", "110", "110", "110", "001"});
  Selection s = select(m, with(Method::kCodeT));
  ASSERT_TRUE(s.pair);
  EXPECT_EQ(s.pair->chosen_code, 1u);
  EXPECT_EQ(s.pair->rejected_code, 4u);
  // Tests as in the minimax rule: c1 passes t0 (4) and t1 (4) -> t0; c4 fails t0, t1 -> t0.
  EXPECT_EQ(s.pair->chosen_test, 0u);
  EXPECT_EQ(s.pair->rejected_test, 0u);
  // DSTC on the same matrix picks the code that passes everything.
  EXPECT_EQ(select(m).pair->chosen_code, 0u);
}

TEST(CodeT, NeedsAStrictlyLowerAgreement) {
  // c0 alone passes t0 and t1 (1*2 = 2); c1 and c2 agree on t1 only (2*1 = 2): a tie, and
  // the only codes failing a test score no lower than the chosen one.
  Matrix m = make({"11", "01", "01"});
  EXPECT_EQ(select(m, with(Method::kCodeT)).skip, SkipReason::kNoLowerCode);
  EXPECT_TRUE(select(m).pair);  // DSTC still pairs c0 with a code failing t0
}

TEST(Oracle, UsesGroundTruth) {
  Matrix m = make({"10", "01", "11"});
  EXPECT_EQ(select(m, with(Method::kOracle)).skip, SkipReason::kNoCorrectCode);
  m.code_correct = {0, 1, 1};
  Selection s = select(m, with(Method::kOracle));
  ASSERT_TRUE(s.pair);
  EXPECT_EQ(s.pair->chosen, "c1");
  EXPECT_EQ(s.pair->rejected, "c0");
  EXPECT_EQ(s.pair->chosen_test, kNoTest);
  m.code_correct = {1, 1, 1};
  EXPECT_EQ(select(m, with(Method::kOracle)).skip, SkipReason::kNoWrongCode);
}

TEST(Methods, NamesRoundTrip) {
  for (Method m : kAllMethods) {
    auto parsed = parse_method(method_name(m));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, m);
  }
  auto bad = parse_method("minimax");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("minimax"), std::string::npos);
}

TEST(Matrix, ValidateNamesTheProblem) {
  Matrix m = make({"10", "01"});
  EXPECT_TRUE(m.validate());
  m.passed[1].push_back(1);
  ASSERT_FALSE(m.validate());
  EXPECT_NE(m.validate().error().message().find("row 1"), std::string::npos);
  EXPECT_THROW(select(m), std::invalid_argument);
  m = make({"10"});
  m.passed[0][1] = 2;
  EXPECT_FALSE(m.validate());
  m = make({"10"});
  m.code_correct = {1, 0};
  EXPECT_FALSE(m.validate());
}

TEST(Kto, ChosenDesirableRejectedUndesirable) {
  Pair p;
  p.prompt = "x";
  p.chosen = "good";
  p.rejected = "bad";
  auto ex = kto_examples(p);
  EXPECT_EQ(ex[0].completion, "good");
  EXPECT_TRUE(ex[0].label);
  EXPECT_EQ(ex[1].completion, "bad");
  EXPECT_FALSE(ex[1].label);
  EXPECT_EQ(kto_record(ex[1]).dump(), R"({"completion":"bad","label":false,"prompt":"x"})");
  EXPECT_EQ(dpo_record(p).dump(), R"({"chosen":"good","prompt":"x","rejected":"bad"})");
}

TEST(RewardAugment, SecondPairIsFlippedCorrectly) {
  Pair p;
  p.prompt = "x";
  p.chosen = "GOOD";
  p.rejected = "BAD";
  p.chosen_code = 1;
  p.rejected_code = 2;
  p.chosen_test = 3;
  p.rejected_test = 4;
  p.chosen_score = 1.0;
  p.rejected_score = 0.25;
  auto out = reward_augment(p);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(goal_score(1.0), 10);
  EXPECT_EQ(goal_score(0.25), 3);  // round(1 + 2.25)
  EXPECT_EQ(goal_score(0.0), 1);
  EXPECT_EQ(out[0].prompt, goal_prefix(10) + "x");
  EXPECT_EQ(out[0].chosen, "GOOD");
  EXPECT_EQ(out[0].rejected, "BAD");
  // The flip the released nosys code forgot: the responses themselves are swapped, and
  // the prompt carries the prefix exactly once.
  EXPECT_EQ(out[1].prompt, goal_prefix(3) + "x");
  EXPECT_EQ(out[1].chosen, "BAD");
  EXPECT_EQ(out[1].rejected, "GOOD");
  EXPECT_EQ(out[1].chosen_code, 2u);
  EXPECT_EQ(out[1].rejected_code, 1u);
  EXPECT_EQ(out[1].chosen_test, 4u);
  EXPECT_DOUBLE_EQ(out[1].chosen_score, 0.25);
  EXPECT_NE(goal_prefix(3), goal_prefix(10));
}

TEST(RewardAugment, EqualGoalsGiveOnePair) {
  Pair p;
  p.prompt = "x";
  p.chosen = "c0\n\nt0";
  p.rejected = "c0\n\nt2";
  p.chosen_score = p.rejected_score = 0.5;
  auto out = reward_augment(p);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].chosen, p.chosen);
}

TEST(PairAudit, CountsAgreementWithGroundTruth) {
  PairAudit audit;
  Pair p;
  p.chosen_code = 0;
  p.rejected_code = 1;
  audit.add(p, {1, 0});  // right
  audit.add(p, {1, 1});  // rejected actually correct
  audit.add(p, {0, 0});  // chosen actually wrong
  audit.add(p, {});      // no ground truth: not counted
  EXPECT_EQ(audit.pairs, 3u);
  EXPECT_DOUBLE_EQ(audit.chosen_correct_rate(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(audit.rejected_wrong_rate(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(audit.agreement_rate(), 1.0 / 3);
  EXPECT_EQ(audit.to_json()["pairs"], 3);
}

TEST(Stats, CountsEverySkipReason) {
  SelectionStats stats;
  stats.add(select(make({"000"})));
  stats.add(select(make({"111"})));
  stats.add(select(make({"10", "01"})));
  EXPECT_EQ(stats.prompts, 3u);
  EXPECT_EQ(stats.pairs, 1u);
  EXPECT_EQ(stats.skipped(SkipReason::kNonePass), 1u);
  EXPECT_EQ(stats.skipped(SkipReason::kAllPass), 1u);
  Json j = stats.to_json();
  EXPECT_EQ(j["skips"]["none_pass"], 1);
  EXPECT_EQ(j["skips"]["same_code"], 0);  // zero columns are written too
  EXPECT_EQ(j["skips"].size(), kNumSkipReasons - 1);
}

// ---- property tests -------------------------------------------------------------------

Matrix random_matrix(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> dim(0, 8);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Matrix m;
  const size_t J = dim(rng), K = dim(rng);
  const double density = unit(rng);
  m.prompt = "prompt " + std::to_string(rng());
  for (size_t j = 0; j < J; ++j) m.codes.push_back("code" + std::to_string(j));
  for (size_t k = 0; k < K; ++k) m.tests.push_back("test" + std::to_string(k));
  m.passed.assign(J, std::vector<uint8_t>(K, 0));
  for (auto& row : m.passed)
    for (auto& cell : row) cell = unit(rng) < density;
  if (unit(rng) < 0.2) {
    for (size_t j = 0; j < J; ++j) m.code_valid.push_back(unit(rng) < 0.8);
  }
  if (unit(rng) < 0.2) {
    for (size_t k = 0; k < K; ++k) m.test_valid.push_back(unit(rng) < 0.8);
  }
  m.code_correct.resize(J);
  for (auto& c : m.code_correct) c = unit(rng) < 0.5;
  return m;
}

int row_sum(const Matrix& m, size_t j) {
  int s = 0;
  for (size_t k = 0; k < m.tests.size(); ++k)
    if (m.test_valid.empty() || m.test_valid[k]) s += m.passed[j][k];
  return s;
}

TEST(SelectorProperties, HoldOnRandomMatrices) {
  std::mt19937_64 rng(12345);
  std::array<size_t, kAllMethods.size()> pairs_per_method{};
  for (int trial = 0; trial < 5000; ++trial) {
    Matrix m = random_matrix(rng);
    for (size_t mi = 0; mi < kAllMethods.size(); ++mi) {
      SelectorOptions o;
      o.method = kAllMethods[mi];
      o.seed = trial;
      o.skip_same_code = trial % 2;
      Selection s = select(m, o);
      Selection again = select(m, o);
      SCOPED_TRACE(std::string(method_name(o.method)) + " trial " + std::to_string(trial));
      // Every skip has a reason, and a pair has none.
      ASSERT_EQ(s.pair.has_value(), s.skip == SkipReason::kNone);
      ASSERT_EQ(again.skip, s.skip);
      if (!s.pair) continue;
      ++pairs_per_method[mi];
      const Pair& p = *s.pair;
      // Deterministic.
      ASSERT_EQ(again.pair->chosen, p.chosen);
      ASSERT_EQ(again.pair->rejected, p.rejected);
      ASSERT_NE(p.chosen, p.rejected);
      ASSERT_EQ(p.prompt, m.prompt);
      if (o.method == Method::kOracle) {
        ASSERT_TRUE(m.code_correct[p.chosen_code]);
        ASSERT_FALSE(m.code_correct[p.rejected_code]);
        continue;
      }
      // Chosen cell ran clean, rejected cell failed; only valid rows/columns are used.
      ASSERT_EQ(m.passed[p.chosen_code][p.chosen_test], 1);
      ASSERT_EQ(m.passed[p.rejected_code][p.rejected_test], 0);
      for (size_t idx : {p.chosen_code, p.rejected_code})
        ASSERT_TRUE(m.code_valid.empty() || m.code_valid[idx]);
      for (size_t idx : {p.chosen_test, p.rejected_test})
        ASSERT_TRUE(m.test_valid.empty() || m.test_valid[idx]);
      if (o.method != Method::kCodeT) {
        ASSERT_GE(row_sum(m, p.chosen_code), row_sum(m, p.rejected_code));
      }
      if (o.method == Method::kMaxMin || o.method == Method::kRandom) {
        ASSERT_GT(row_sum(m, p.chosen_code), row_sum(m, p.rejected_code));
      }
      if (o.method == Method::kCodeOnly) {
        ASSERT_EQ(p.chosen, m.codes[p.chosen_code]);
        ASSERT_EQ(p.rejected, m.codes[p.rejected_code]);
      } else {
        // Responses are exactly the executed programs.
        ASSERT_EQ(p.chosen, concat_code_test(m.codes[p.chosen_code], m.tests[p.chosen_test]));
        ASSERT_EQ(p.rejected, concat_code_test(m.codes[p.rejected_code], m.tests[p.rejected_test]));
      }
      if (o.skip_same_code) {
        ASSERT_FALSE(p.same_code);
      }
      ASSERT_EQ(p.same_code, p.chosen_code == p.rejected_code);
    }
  }
  // The generator is not degenerate: every method made many pairs.
  for (size_t n : pairs_per_method) EXPECT_GT(n, 500u);
}

TEST(SelectorProperties, DstcMakesAPairIffTheMatrixIsMixed) {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 3000; ++trial) {
    Matrix m = random_matrix(rng);
    m.code_valid.clear();
    m.test_valid.clear();
    Selection s = select(m);
    int ones = 0, cells = 0;
    for (auto& row : m.passed)
      for (auto c : row) ones += c, ++cells;
    if (m.codes.empty()) {
      EXPECT_EQ(s.skip, SkipReason::kNoValidCode);
    } else if (m.tests.empty()) {
      EXPECT_EQ(s.skip, SkipReason::kNoValidTest);
    } else if (ones == 0) {
      EXPECT_EQ(s.skip, SkipReason::kNonePass);
    } else if (ones == cells) {
      EXPECT_EQ(s.skip, SkipReason::kAllPass);
    } else {
      EXPECT_TRUE(s.pair) << skip_reason_name(s.skip);  // codes and tests are distinct
    }
  }
}

}  // namespace
}  // namespace dstc::selector
