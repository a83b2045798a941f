// Execution matrix -> preference data. Pure functions: no store, no files, no clock.
//
// For one prompt the model wrote J codes and K tests; the sandbox ran code_j ⊕ test_k
// (concat_code_test, below) for every (j, k) and recorded R[j][k] = 1 when the program ran
// to completion. The DSTC rule (Liu et al. 2024, arXiv 2411.13611; DESIGN.md §5 and
// research/dstc.md §1.4) turns R into one (chosen, rejected) pair whose labels are true by
// construction: chosen = code_j1 ⊕ test_k1 ran clean, rejected = code_j0 ⊕ test_k0 failed.
// Ablations run on the same matrix so they can be compared side by side.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace dstc::selector {

// The separator between a code and a test in the executed program. The execute stage
// MUST build programs with concat_code_test so that chosen/rejected responses are
// byte-identical to what ran.
inline constexpr std::string_view kCodeTestSeparator = "\n\n";

// code + kCodeTestSeparator + test: the program the sandbox runs for cell (j, k), and the
// response string of a concatenated pair.
std::string concat_code_test(std::string_view code, std::string_view test);

// One prompt's execution results.
struct Matrix {
  std::string prompt;
  std::vector<std::string> codes;  // J
  std::vector<std::string> tests;  // K
  // passed[j][k] ∈ {0, 1}: code_j ⊕ test_k ran to completion. J rows of K entries.
  std::vector<std::vector<uint8_t>> passed;
  // Optional: codes/tests that failed extraction or parsing. Empty = all valid. Invalid
  // rows/columns are ignored by every rule (their cells do not count in any sum).
  std::vector<uint8_t> code_valid;
  std::vector<uint8_t> test_valid;
  // Optional ground truth (hidden tests passed), one flag per code; used only by the
  // oracle selector and the pair audit. Empty = unknown.
  std::vector<uint8_t> code_correct;

  // A J×K matrix of the given shape is well-formed: sizes agree and cells are 0/1.
  Status validate() const;
};

enum class Method {
  kDstc,      // minimax rule of DESIGN.md §5, responses code ⊕ test
  kCodeOnly,  // same codes as kDstc, responses are the codes alone (no concatenation)
  kMaxMin,    // max/min pass count; tests: first passed by j1, first failed by j0
  kRandom,    // seeded: random code that passes something vs a random code passing fewer
  kCodeT,     // CodeT dual agreement (Chen et al. 2022, arXiv 2207.10397) for codes
  kOracle,    // ground truth (Matrix::code_correct): ceiling for comparison, code-only
};
inline constexpr std::array<Method, 6> kAllMethods = {Method::kDstc,   Method::kCodeOnly,
                                                      Method::kMaxMin, Method::kRandom,
                                                      Method::kCodeT,  Method::kOracle};

// "dstc", "code-only", "maxmin", "random", "codet", "oracle".
std::string_view method_name(Method method);
Result<Method> parse_method(std::string_view name);  // kInvalidArgument names the choices

enum class SkipReason {
  kNone,           // a pair was made
  kNoValidCode,    // J = 0 or every code invalid
  kNoValidTest,    // K = 0 or every test invalid
  kNonePass,       // no valid cell is 1 (no chosen test exists)
  kAllPass,        // every valid code passes every valid test (no rejected test exists)
  kSameCode,       // j0 == j1 and SelectorOptions::skip_same_code (always for code-only)
  kNoLowerCode,    // maxmin/random/codet: no code scores strictly below the chosen one
  kIdentical,      // chosen and rejected responses are the same string
  kNoCorrectCode,  // oracle: no code passes the ground truth (or it is unknown)
  kNoWrongCode,    // oracle: every code passes the ground truth
};
inline constexpr size_t kNumSkipReasons = 10;
std::string_view skip_reason_name(SkipReason reason);  // "none_pass", "same_code", ...

struct SelectorOptions {
  Method method = Method::kDstc;
  // DSTC: skip the prompt when the rejected code is the chosen code (the pair then differs
  // only in its test). Kept by default: both responses still ran as labelled.
  bool skip_same_code = false;
  // kRandom only. Mixed with the prompt text, so a prompt's draw does not depend on the
  // order in which matrices are processed.
  uint64_t seed = 0;
};

// Test index of a pair whose response holds no test (oracle).
inline constexpr size_t kNoTest = static_cast<size_t>(-1);

// One preference pair. Indices point into Matrix::codes / Matrix::tests.
struct Pair {
  std::string prompt;
  std::string chosen;    // concat_code_test(code_j1, test_k1), or code_j1 for code-only
  std::string rejected;  // concat_code_test(code_j0, test_k0), or code_j0 for code-only
  size_t chosen_code = 0, chosen_test = 0, rejected_code = 0, rejected_test = 0;
  // Fraction of valid tests passed by the chosen / rejected code (reward relabeling uses it).
  double chosen_score = 0.0, rejected_score = 0.0;
  bool same_code = false;  // chosen_code == rejected_code
};

struct Selection {
  std::optional<Pair> pair;
  SkipReason skip = SkipReason::kNone;  // kNone iff pair has a value
};

// Applies `options.method` to one matrix. The matrix must be valid (Matrix::validate);
// a malformed one is a programming error and throws std::invalid_argument.
Selection select(const Matrix& matrix, const SelectorOptions& options = {});

// Counts over many prompts.
struct SelectionStats {
  size_t prompts = 0;
  size_t pairs = 0;
  size_t same_code_kept = 0;  // pairs with j0 == j1
  std::array<size_t, kNumSkipReasons> skips{};

  void add(const Selection& selection);
  size_t skipped(SkipReason reason) const { return skips[static_cast<size_t>(reason)]; }
  // {"prompts":..,"pairs":..,"same_code_kept":..,"skips":{"none_pass":..,...}}; zero
  // counts are written too so reports have stable columns.
  Json to_json() const;
};

// KTO (Ethayarajh et al. 2024): chosen → desirable (label true), rejected → undesirable.
struct KtoExample {
  std::string prompt;
  std::string completion;
  bool label = false;
};
std::array<KtoExample, 2> kto_examples(const Pair& pair);

// Reward-augmented relabeling (Zhang et al. 2024, arXiv 2410.08067; research/losses.md §5).
// The score is the fraction of tests passed, mapped to the paper's 1–10 goal scale as
// round(1 + 9 * fraction). Each pair becomes two goal-conditioned pairs:
//   goal = score(chosen):   prompt' = goal_prefix(g) + prompt, chosen ≻ rejected (unchanged)
//   goal = score(rejected): prompt' = goal_prefix(g) + prompt, rejected ≻ chosen (flipped:
//     both responses AND their indices/scores are swapped — the released nosys code forgot
//     to swap the responses).
// When both goals are equal, the flipped pair would contradict the first with the same
// prompt, so only the unchanged pair is returned.
int goal_score(double pass_fraction);  // 1..10
// Byte-identical at training and generation time (generate with goal 10).
std::string goal_prefix(int goal);
std::vector<Pair> reward_augment(const Pair& pair);

// Pair audit against ground truth: how often the chosen code is correct and the rejected
// code is wrong. Pairs whose matrix has no ground truth are not counted.
struct PairAudit {
  size_t pairs = 0;
  size_t chosen_correct = 0;
  size_t rejected_correct = 0;
  size_t both_right = 0;  // chosen correct and rejected wrong: the label agrees with truth

  void add(const Pair& pair, const std::vector<uint8_t>& code_correct);
  double chosen_correct_rate() const;
  double rejected_wrong_rate() const;
  double agreement_rate() const;  // both_right / pairs
  Json to_json() const;
};

// DPO / KTO records in TRL's JSONL field names (DESIGN.md §4).
Json dpo_record(const Pair& pair);           // {"prompt","chosen","rejected"}
Json kto_record(const KtoExample& example);  // {"prompt","completion","label"}

}  // namespace dstc::selector
