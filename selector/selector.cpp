// The DSTC minimax rule and its ablations (see selector.h). Every argmax/argmin breaks
// ties by the lowest index (numpy semantics, research/dstc.md §1.4 [R]).
#include "selector/selector.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/hash.h"

namespace dstc::selector {

std::string concat_code_test(std::string_view code, std::string_view test) {
  std::string out;
  out.reserve(code.size() + kCodeTestSeparator.size() + test.size());
  out.append(code).append(kCodeTestSeparator).append(test);
  return out;
}

Status Matrix::validate() const {
  const size_t J = codes.size(), K = tests.size();
  if (passed.size() != J) {
    return fail(ErrorCode::kInvalidArgument, "matrix has " + std::to_string(passed.size()) +
                                                 " rows for " + std::to_string(J) + " codes");
  }
  for (size_t j = 0; j < J; ++j) {
    if (passed[j].size() != K) {
      return fail(ErrorCode::kInvalidArgument, "matrix row " + std::to_string(j) + " has " +
                                                   std::to_string(passed[j].size()) +
                                                   " cells for " + std::to_string(K) + " tests");
    }
    for (size_t k = 0; k < K; ++k) {
      if (passed[j][k] > 1) {
        return fail(ErrorCode::kInvalidArgument, "matrix cell [" + std::to_string(j) + "][" +
                                                     std::to_string(k) + "] is not 0 or 1");
      }
    }
  }
  if (!code_valid.empty() && code_valid.size() != J) {
    return fail(ErrorCode::kInvalidArgument, "code_valid has " + std::to_string(code_valid.size()) +
                                                 " flags for " + std::to_string(J) + " codes");
  }
  if (!test_valid.empty() && test_valid.size() != K) {
    return fail(ErrorCode::kInvalidArgument, "test_valid has " + std::to_string(test_valid.size()) +
                                                 " flags for " + std::to_string(K) + " tests");
  }
  if (!code_correct.empty() && code_correct.size() != J) {
    return fail(ErrorCode::kInvalidArgument, "code_correct has " +
                                                 std::to_string(code_correct.size()) +
                                                 " flags for " + std::to_string(J) + " codes");
  }
  return {};
}

std::string_view method_name(Method method) {
  switch (method) {
    case Method::kDstc:
      return "dstc";
    case Method::kCodeOnly:
      return "code-only";
    case Method::kMaxMin:
      return "maxmin";
    case Method::kRandom:
      return "random";
    case Method::kCodeT:
      return "codet";
    case Method::kOracle:
      return "oracle";
  }
  return "?";
}

Result<Method> parse_method(std::string_view name) {
  for (Method m : kAllMethods) {
    if (method_name(m) == name) return m;
  }
  return fail(ErrorCode::kInvalidArgument,
              "unknown selector '" + std::string(name) +
                  "'; choose one of dstc, code-only, maxmin, random, codet, oracle");
}

std::string_view skip_reason_name(SkipReason reason) {
  switch (reason) {
    case SkipReason::kNone:
      return "none";
    case SkipReason::kNoValidCode:
      return "no_valid_code";
    case SkipReason::kNoValidTest:
      return "no_valid_test";
    case SkipReason::kNonePass:
      return "none_pass";
    case SkipReason::kAllPass:
      return "all_pass";
    case SkipReason::kSameCode:
      return "same_code";
    case SkipReason::kNoLowerCode:
      return "no_lower_code";
    case SkipReason::kIdentical:
      return "identical";
    case SkipReason::kNoCorrectCode:
      return "no_correct_code";
    case SkipReason::kNoWrongCode:
      return "no_wrong_code";
  }
  return "?";
}

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, same numbers on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t pick(const std::vector<size_t>& from) { return from[next() % from.size()]; }

 private:
  uint64_t state_;
};

// Row and column sums over valid codes and tests only.
struct Sums {
  std::vector<size_t> codes;    // valid code indices
  std::vector<size_t> tests;    // valid test indices
  std::vector<int> code_score;  // per code (0 for invalid)
  std::vector<int> test_score;  // per test (0 for invalid)

  explicit Sums(const Matrix& m) {
    const size_t J = m.codes.size(), K = m.tests.size();
    for (size_t j = 0; j < J; ++j)
      if (m.code_valid.empty() || m.code_valid[j]) codes.push_back(j);
    for (size_t k = 0; k < K; ++k)
      if (m.test_valid.empty() || m.test_valid[k]) tests.push_back(k);
    code_score.assign(J, 0);
    test_score.assign(K, 0);
    for (size_t j : codes) {
      for (size_t k : tests) {
        if (m.passed[j][k]) {
          ++code_score[j];
          ++test_score[k];
        }
      }
    }
  }
  int num_tests() const { return static_cast<int>(tests.size()); }
  int num_codes() const { return static_cast<int>(codes.size()); }
  double fraction(size_t j) const {
    return tests.empty() ? 0.0 : static_cast<double>(code_score[j]) / tests.size();
  }
};

// First index in `candidates` (ascending) where key is strictly best; kNone if empty.
template <typename Key, typename Better>
size_t arg_best(const std::vector<size_t>& candidates, Key key, Better better) {
  size_t best = kNone;
  for (size_t i : candidates) {
    if (best == kNone || better(key(i), key(best))) best = i;
  }
  return best;
}
template <typename Key>
size_t arg_max(const std::vector<size_t>& c, Key key) {
  return arg_best(c, key, [](auto a, auto b) { return a > b; });
}
template <typename Key>
size_t arg_min(const std::vector<size_t>& c, Key key) {
  return arg_best(c, key, [](auto a, auto b) { return a < b; });
}

std::vector<size_t> tests_where(const Matrix& m, const Sums& s, size_t j, uint8_t value) {
  std::vector<size_t> out;
  for (size_t k : s.tests)
    if (m.passed[j][k] == value) out.push_back(k);
  return out;
}

Selection skip(SkipReason reason) { return Selection{std::nullopt, reason}; }

// Builds the pair for (j1, k1) ≻ (j0, k0); `concat` = false gives code-only responses.
Selection make_pair(const Matrix& m, const Sums& s, size_t j1, size_t k1, size_t j0, size_t k0,
                    bool concat, const SelectorOptions& options) {
  if (j0 == j1 && (options.skip_same_code || !concat)) return skip(SkipReason::kSameCode);
  Pair p;
  p.prompt = m.prompt;
  if (concat) {
    p.chosen = concat_code_test(m.codes[j1], m.tests[k1]);
    p.rejected = concat_code_test(m.codes[j0], m.tests[k0]);
  } else {
    p.chosen = m.codes[j1];
    p.rejected = m.codes[j0];
  }
  if (p.chosen == p.rejected) return skip(SkipReason::kIdentical);
  p.chosen_code = j1;
  p.chosen_test = k1;
  p.rejected_code = j0;
  p.rejected_test = k0;
  p.chosen_score = s.fraction(j1);
  p.rejected_score = s.fraction(j0);
  p.same_code = j0 == j1;
  return Selection{std::move(p), SkipReason::kNone};
}

// DESIGN.md §5: j1 = argmax row sum; k1 = among tests j1 passes, min column sum;
// k0 = among tests some code fails, max column sum; j0 = among codes failing k0, min row sum.
Selection select_minimax(const Matrix& m, const Sums& s, bool concat,
                         const SelectorOptions& options) {
  auto code_score = [&](size_t j) { return s.code_score[j]; };
  auto test_score = [&](size_t k) { return s.test_score[k]; };
  size_t j1 = arg_max(s.codes, code_score);
  size_t k1 = arg_min(tests_where(m, s, j1, 1), test_score);
  std::vector<size_t> failed_by_some;
  for (size_t k : s.tests)
    if (s.test_score[k] < s.num_codes()) failed_by_some.push_back(k);
  size_t k0 = arg_max(failed_by_some, test_score);
  std::vector<size_t> failing_k0;
  for (size_t j : s.codes)
    if (!m.passed[j][k0]) failing_k0.push_back(j);
  size_t j0 = arg_min(failing_k0, code_score);
  return make_pair(m, s, j1, k1, j0, k0, concat, options);
}

// Max/min pass count without the minimax test choice: the first test j1 passes and the
// first test j0 fails.
Selection select_maxmin(const Matrix& m, const Sums& s, const SelectorOptions& options) {
  auto code_score = [&](size_t j) { return s.code_score[j]; };
  size_t j1 = arg_max(s.codes, code_score);
  size_t j0 = arg_min(s.codes, code_score);
  if (s.code_score[j0] >= s.code_score[j1]) return skip(SkipReason::kNoLowerCode);
  size_t k1 = tests_where(m, s, j1, 1).front();
  size_t k0 = tests_where(m, s, j0, 0).front();
  return make_pair(m, s, j1, k1, j0, k0, true, options);
}

// Random pair: a random code that passes something, against a random code that passes
// strictly fewer tests; a random passed / failed test for each.
Selection select_random(const Matrix& m, const Sums& s, const SelectorOptions& options) {
  Rng rng(options.seed ^ fnv1a64(m.prompt));
  std::vector<size_t> passing;
  for (size_t j : s.codes)
    if (s.code_score[j] > 0) passing.push_back(j);
  size_t j1 = rng.pick(passing);
  std::vector<size_t> lower;
  for (size_t j : s.codes)
    if (s.code_score[j] < s.code_score[j1]) lower.push_back(j);
  if (lower.empty()) return skip(SkipReason::kNoLowerCode);
  size_t j0 = rng.pick(lower);
  size_t k1 = rng.pick(tests_where(m, s, j1, 1));
  size_t k0 = rng.pick(tests_where(m, s, j0, 0));
  return make_pair(m, s, j1, k1, j0, k0, true, options);
}

// CodeT (Chen et al. 2022): codes that pass exactly the same set of tests form a consensus
// set; a code's dual-agreement score is |set| × |tests the set passes|. Chosen = highest
// score, rejected = lowest score among codes failing at least one test; tests chosen as in
// the minimax rule so both cells keep their labels.
Selection select_codet(const Matrix& m, const Sums& s, const SelectorOptions& options) {
  std::vector<long> agreement(m.codes.size(), 0);
  for (size_t j : s.codes) {
    long same = 0;
    for (size_t i : s.codes) {
      bool equal = true;
      for (size_t k : s.tests) {
        if (m.passed[i][k] != m.passed[j][k]) {
          equal = false;
          break;
        }
      }
      same += equal;
    }
    agreement[j] = same * s.code_score[j];
  }
  auto score = [&](size_t j) { return agreement[j]; };
  auto test_score = [&](size_t k) { return s.test_score[k]; };
  size_t j1 = arg_max(s.codes, score);
  std::vector<size_t> failing;
  for (size_t j : s.codes)
    if (s.code_score[j] < s.num_tests()) failing.push_back(j);
  size_t j0 = arg_min(failing, score);
  if (agreement[j0] >= agreement[j1]) return skip(SkipReason::kNoLowerCode);
  size_t k1 = arg_min(tests_where(m, s, j1, 1), test_score);
  size_t k0 = arg_max(tests_where(m, s, j0, 0), test_score);
  return make_pair(m, s, j1, k1, j0, k0, true, options);
}

// Ground truth: first correct code ≻ first wrong code, code-only responses.
Selection select_oracle(const Matrix& m, const Sums& s, const SelectorOptions& options) {
  if (m.code_correct.empty()) return skip(SkipReason::kNoCorrectCode);
  size_t j1 = kNone, j0 = kNone;
  for (size_t j : s.codes) {
    if (m.code_correct[j] && j1 == kNone) j1 = j;
    if (!m.code_correct[j] && j0 == kNone) j0 = j;
  }
  if (j1 == kNone) return skip(SkipReason::kNoCorrectCode);
  if (j0 == kNone) return skip(SkipReason::kNoWrongCode);
  Selection sel = make_pair(m, s, j1, kNoTest, j0, kNoTest, false, options);
  return sel;
}

}  // namespace

Selection select(const Matrix& m, const SelectorOptions& options) {
  if (auto st = m.validate(); !st) throw std::invalid_argument(st.error().message());
  Sums s(m);
  if (s.codes.empty()) return skip(SkipReason::kNoValidCode);
  if (options.method == Method::kOracle) return select_oracle(m, s, options);
  if (s.tests.empty()) return skip(SkipReason::kNoValidTest);
  bool any_pass = false, all_pass = true;
  for (size_t j : s.codes) {
    any_pass |= s.code_score[j] > 0;
    all_pass &= s.code_score[j] == s.num_tests();
  }
  if (!any_pass) return skip(SkipReason::kNonePass);
  if (all_pass) return skip(SkipReason::kAllPass);
  switch (options.method) {
    case Method::kDstc:
      return select_minimax(m, s, true, options);
    case Method::kCodeOnly:
      return select_minimax(m, s, false, options);
    case Method::kMaxMin:
      return select_maxmin(m, s, options);
    case Method::kRandom:
      return select_random(m, s, options);
    case Method::kCodeT:
      return select_codet(m, s, options);
    case Method::kOracle:
      break;
  }
  throw std::logic_error("unreachable selector method");
}

void SelectionStats::add(const Selection& selection) {
  ++prompts;
  if (selection.pair) {
    ++pairs;
    same_code_kept += selection.pair->same_code;
  } else {
    ++skips[static_cast<size_t>(selection.skip)];
  }
}

Json SelectionStats::to_json() const {
  Json skip_counts = Json::object();
  for (size_t r = 1; r < kNumSkipReasons; ++r)
    skip_counts[std::string(skip_reason_name(static_cast<SkipReason>(r)))] = skips[r];
  return Json{{"prompts", prompts},
              {"pairs", pairs},
              {"same_code_kept", same_code_kept},
              {"skips", skip_counts}};
}

std::array<KtoExample, 2> kto_examples(const Pair& pair) {
  return {KtoExample{pair.prompt, pair.chosen, true},
          KtoExample{pair.prompt, pair.rejected, false}};
}

int goal_score(double pass_fraction) {
  double f = std::clamp(pass_fraction, 0.0, 1.0);
  return static_cast<int>(std::lround(1.0 + 9.0 * f));
}

std::string goal_prefix(int goal) {
  return "Target score (1-10, tests passed): " + std::to_string(goal) + ".\n\n";
}

std::vector<Pair> reward_augment(const Pair& pair) {
  const int g_w = goal_score(pair.chosen_score), g_l = goal_score(pair.rejected_score);
  std::vector<Pair> out;
  Pair kept = pair;
  kept.prompt = goal_prefix(g_w) + pair.prompt;
  out.push_back(std::move(kept));
  if (g_l == g_w) return out;  // a flipped pair would contradict the first one
  Pair flipped = pair;
  flipped.prompt = goal_prefix(g_l) + pair.prompt;
  std::swap(flipped.chosen, flipped.rejected);
  std::swap(flipped.chosen_code, flipped.rejected_code);
  std::swap(flipped.chosen_test, flipped.rejected_test);
  std::swap(flipped.chosen_score, flipped.rejected_score);
  out.push_back(std::move(flipped));
  return out;
}

void PairAudit::add(const Pair& pair, const std::vector<uint8_t>& code_correct) {
  if (code_correct.empty()) return;
  const bool c = code_correct.at(pair.chosen_code) != 0;
  const bool r = code_correct.at(pair.rejected_code) != 0;
  ++pairs;
  chosen_correct += c;
  rejected_correct += r;
  both_right += c && !r;
}

static double rate(size_t n, size_t d) { return d ? static_cast<double>(n) / d : 0.0; }
double PairAudit::chosen_correct_rate() const { return rate(chosen_correct, pairs); }
double PairAudit::rejected_wrong_rate() const { return rate(pairs - rejected_correct, pairs); }
double PairAudit::agreement_rate() const { return rate(both_right, pairs); }

Json PairAudit::to_json() const {
  return Json{{"pairs", pairs},
              {"chosen_correct", chosen_correct_rate()},
              {"rejected_wrong", rejected_wrong_rate()},
              {"label_agrees", agreement_rate()}};
}

Json dpo_record(const Pair& pair) {
  return Json{{"prompt", pair.prompt}, {"chosen", pair.chosen}, {"rejected", pair.rejected}};
}

Json kto_record(const KtoExample& example) {
  return Json{
      {"prompt", example.prompt}, {"completion", example.completion}, {"label", example.label}};
}

}  // namespace dstc::selector
