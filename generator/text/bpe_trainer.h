// A byte-level BPE trainer that writes Hugging Face tokenizer.json files.
//
// Algorithm (Sennrich et al. 2016, byte-level as in GPT-2 and HF's BpeTrainer): split
// the text into pre-tokens with a GPT-2 (or Qwen2) regex, count unique pre-tokens,
// start from the 256 byte symbols, and repeatedly merge the most frequent adjacent
// pair, updating pair counts only in the words that contain it. Ties go to the pair
// whose (left id, right id) is smallest, so the result is deterministic.
//
// Id layout: special tokens first (0..S-1), then the 256 byte symbols ordered by the
// code point of their byte-level character (as HF's trainer does), then one id per
// merge in merge order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "generator/text/tokenizer.h"

namespace dstc::generator {

enum class PretokenizerStyle {
  kGpt2,  // ByteLevel(use_regex) with GPT-2's regex: digit runs stay together
  kQwen2  // Split(Qwen2 regex) + ByteLevel: one digit per pre-token, case-insensitive
          // contractions, newlines glued to the preceding symbols
};

struct BpeTrainerOptions {
  // Total ids including special tokens and the 256 byte symbols (so >= 256 + S).
  int32_t vocab_size = 1024;
  // Added as special tokens (ids 0..S-1); their text in the input is never merged.
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
  PretokenizerStyle style = PretokenizerStyle::kGpt2;
  // A pair seen fewer times than this is never merged (training stops early).
  int64_t min_frequency = 2;
};

// Parses "gpt2" / "qwen2".
Result<PretokenizerStyle> parse_pretokenizer_style(std::string_view name);

// The Qwen2 split regex (engines.md §2.2).
inline constexpr const char* kQwen2SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class BpeTrainer {
 public:
  static Result<BpeTrainer> create(BpeTrainerOptions options);

  // Counts the pre-tokens of one document (special-token text is cut out first).
  void add_text(std::string_view text);
  size_t unique_words() const { return word_counts_.size(); }

  // Runs the merges and returns the tokenizer (eos = the first special token).
  Result<Tokenizer> train() const;
  // The tokenizer.json text train() builds.
  Result<std::string> train_json() const;

 private:
  BpeTrainerOptions options_;
  std::string split_pattern_;
  std::unordered_map<std::string, int64_t> word_counts_;
};

// A tokenizer_config.json for a trained tokenizer: eos/pad = the first special token.
Json trained_tokenizer_config(const BpeTrainerOptions& options);

}  // namespace dstc::generator
