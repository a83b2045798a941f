// Training data: TRL JSONL files or the run store in, token sequences with an exact
// completion mask out. No LibTorch here.
//
// Tokenisation (research/losses.md §1.5, §6.3). The prompt and the completion are
// tokenised SEPARATELY and concatenated: ids = encode(prompt, specials) ++
// encode(completion, no specials) ++ [EOS]. The completion mask is therefore exact by
// construction. TRL instead tokenises prompt+completion and slices at len(prompt ids),
// which shifts the mask when a BPE merge crosses the boundary (it only warns); we count
// such boundaries (`boundary_merges`) and log them, but never shift the mask. Special
// tokens written inside a completion are encoded as text (parse_special = false), since
// completions are model samples.
//
// Truncation (documented policy):
//   - examples whose prompt has more than `max_prompt_length` tokens, or leaves no room
//     for one completion token within `max_length`, are SKIPPED and counted
//     (`skipped_long_prompt`); prompts are never cut, since that silently changes the task;
//   - completions are cut at the end to fit `max_length` (TRL's keep_start); the EOS is
//     then lost, and the example is counted in `truncated_completions`;
//   - empty completions (and pairs whose chosen equals rejected) are skipped and counted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace dstc::trainer {

// One DPO-style pair (TRL {prompt, chosen, rejected}); `reference_response` is SELM's
// greedy sample of the reference model (optional field of the same name).
struct PairText {
  std::string prompt, chosen, rejected, reference_response;
  std::string source;  // "file.jsonl:12" or "run/round 0/task"
};

// One KTO example (TRL {prompt, completion, label}).
struct KtoText {
  std::string prompt, completion;
  bool desirable = false;
  std::string source;
};

enum class DataFormat { kPairs, kKto };

// Reads TRL JSONL. Errors name the file, line and field: "pairs.jsonl:3: missing field
// 'chosen'". Extra fields are ignored.
Result<std::vector<PairText>> read_pairs_jsonl(const std::string& path);
Result<std::vector<KtoText>> read_kto_jsonl(const std::string& path);
// The format of a JSONL file, from the fields of its first object.
Result<DataFormat> detect_jsonl_format(const std::string& path);

// Reads a run store's pairs / KTO examples of `round` (−1: the latest round that has
// any) and `selector` (e.g. "dstc").
Result<std::vector<PairText>> read_store_pairs(const std::string& run_dir, int64_t round,
                                               const std::string& selector);
Result<std::vector<KtoText>> read_store_kto(const std::string& run_dir, int64_t round,
                                            const std::string& selector);

// Paired → unpaired as TRL's unpair_preference_dataset: chosen → desirable, rejected →
// undesirable. Shuffle AFTER this (research/losses.md §2.3: TRL's batched unpairing leaves
// single-class micro-batches otherwise).
std::vector<KtoText> unpair(const std::vector<PairText>& pairs);

// Portable seeded Fisher–Yates (splitmix64), identical on every platform.
void seeded_permutation(std::vector<size_t>& order, uint64_t seed);
template <typename T>
void seeded_shuffle(std::vector<T>& items, uint64_t seed) {
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  seeded_permutation(order, seed);
  std::vector<T> out;
  out.reserve(items.size());
  for (size_t i : order) out.push_back(std::move(items[i]));
  items = std::move(out);
}

// ids = prompt ids ++ completion ids; completion tokens are ids[prompt_len:].
struct Sequence {
  std::vector<int32_t> ids;
  int64_t prompt_len = 0;
  int64_t completion_len() const { return static_cast<int64_t>(ids.size()) - prompt_len; }
};

struct TokenizedPair {
  Sequence chosen, rejected;
  Sequence reference_response;  // SELM only; empty ids when absent
  std::string source;
};

struct TokenizedKto {
  Sequence seq;
  bool desirable = false;
  std::string source;
};

struct TokenizeOptions {
  int64_t max_length = 1024;        // prompt + completion + EOS (TRL's max_length)
  int64_t max_prompt_length = 512;  // longer prompts are skipped, never cut
  bool append_eos = true;
};

// The tokenizer as the data path sees it (generator::Tokenizer in production, a toy
// byte tokenizer in tests). `prompt` selects add_special/parse_special as documented above.
struct TextEncoder {
  std::function<std::vector<int32_t>(std::string_view text, bool prompt)> encode;
  int32_t eos_id = -1;
};

struct DataStats {
  size_t read = 0;
  size_t kept = 0;
  size_t skipped_empty_completion = 0;
  size_t skipped_long_prompt = 0;
  size_t skipped_identical = 0;
  size_t truncated_completions = 0;
  size_t boundary_merges = 0;  // encode(p + c) != encode(p) ++ encode(c); informational
  std::string summary() const;
};

// Tokenises one (prompt, completion); nullopt-like failure reasons go to `stats`.
// Returns false when the example is skipped.
bool tokenize_one(const TextEncoder& enc, const TokenizeOptions& options, std::string_view prompt,
                  std::string_view completion, Sequence& out, DataStats& stats);

std::vector<TokenizedPair> tokenize_pairs(const TextEncoder& enc, const TokenizeOptions& options,
                                          const std::vector<PairText>& pairs, DataStats& stats);
std::vector<TokenizedKto> tokenize_kto(const TextEncoder& enc, const TokenizeOptions& options,
                                       const std::vector<KtoText>& examples, DataStats& stats);

// KTO's mismatched sequence: prompt of `a` with the completion of `b`, re-truncated to
// `max_length` (TRL: completions rotated by +1 inside each micro-batch).
Sequence mismatched(const Sequence& a, const Sequence& b, int64_t max_length);

}  // namespace dstc::trainer
