#include "generator/text/bpe_trainer.h"

#include <algorithm>
#include <queue>

#include "generator/text/regex.h"
#include "generator/text/unicode.h"

namespace dstc::generator {

namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t pair_left(uint64_t k) { return static_cast<int32_t>(k >> 32); }
int32_t pair_right(uint64_t k) { return static_cast<int32_t>(k & 0xFFFFFFFFu); }

// Splits `text` around occurrences of the special tokens (longest first at a position).
std::vector<std::string_view> cut_specials(std::string_view text,
                                           const std::vector<std::string>& specials) {
  std::vector<std::string_view> parts;
  size_t start = 0, i = 0;
  while (i < text.size()) {
    size_t len = 0;
    for (const auto& s : specials) {
      if (s.size() > len && text.compare(i, s.size(), s) == 0) len = s.size();
    }
    if (len == 0) {
      ++i;
      continue;
    }
    if (i > start) parts.push_back(text.substr(start, i - start));
    i += len;
    start = i;
  }
  if (start < text.size()) parts.push_back(text.substr(start));
  return parts;
}

}  // namespace

Result<PretokenizerStyle> parse_pretokenizer_style(std::string_view name) {
  if (name == "gpt2") return PretokenizerStyle::kGpt2;
  if (name == "qwen2") return PretokenizerStyle::kQwen2;
  return fail(ErrorCode::kInvalidArgument,
              "unknown pre-tokenizer style '" + std::string(name) + "' (expected gpt2 or qwen2)");
}

Result<BpeTrainer> BpeTrainer::create(BpeTrainerOptions options) {
  const int32_t min_size = 256 + static_cast<int32_t>(options.special_tokens.size());
  if (options.vocab_size < min_size) {
    return fail(ErrorCode::kInvalidArgument, "vocab size " + std::to_string(options.vocab_size) +
                                                 " is below " + std::to_string(min_size) +
                                                 " (256 byte symbols + the special tokens)");
  }
  for (const auto& s : options.special_tokens) {
    if (s.empty()) return fail(ErrorCode::kInvalidArgument, "empty special token");
    if (!is_valid_utf8(s)) return fail(ErrorCode::kInvalidArgument, "special token is not UTF-8");
  }
  if (options.min_frequency < 1) options.min_frequency = 1;
  BpeTrainer t;
  t.split_pattern_ =
      options.style == PretokenizerStyle::kGpt2 ? kGpt2SplitPattern : kQwen2SplitPattern;
  t.options_ = std::move(options);
  return t;
}

void BpeTrainer::add_text(std::string_view text) {
  // Compiled once per thread and pattern; the trainer itself stays copyable.
  thread_local std::string compiled_for;
  thread_local UnicodeRegex regex;
  if (compiled_for != split_pattern_) {
    regex = *UnicodeRegex::compile(split_pattern_);  // constant patterns: cannot fail
    compiled_for = split_pattern_;
  }
  std::string clean = sanitize_utf8(text);
  for (std::string_view part : cut_specials(clean, options_.special_tokens)) {
    for (auto [b, e] : regex.find_all(part)) ++word_counts_[std::string(part.substr(b, e - b))];
  }
}

Result<std::string> BpeTrainer::train_json() const {
  const auto& byte_chars = byte_to_unicode();
  const int32_t num_special = static_cast<int32_t>(options_.special_tokens.size());

  // Ids: specials, then bytes ordered by their byte-level character's code point.
  std::vector<std::string> tokens(options_.special_tokens.begin(), options_.special_tokens.end());
  std::array<int32_t, 256> byte_id{};
  {
    std::vector<std::pair<uint32_t, int>> order;
    for (int b = 0; b < 256; ++b) {
      size_t pos = 0;
      order.emplace_back(next_code_point(byte_chars[b], pos), b);
    }
    std::sort(order.begin(), order.end());
    for (auto [cp, b] : order) {
      byte_id[b] = static_cast<int32_t>(tokens.size());
      tokens.push_back(byte_chars[b]);
    }
  }
  std::unordered_map<std::string, int32_t> token_index;
  for (size_t i = 0; i < tokens.size(); ++i)
    token_index.emplace(tokens[i], static_cast<int32_t>(i));

  // Words in sorted order so that nothing depends on hash-map iteration.
  std::vector<std::pair<std::string, int64_t>> sorted(word_counts_.begin(), word_counts_.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<int32_t>> words(sorted.size());
  std::vector<int64_t> counts(sorted.size());
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (size_t w = 0; w < sorted.size(); ++w) {
    counts[w] = sorted[w].second;
    for (unsigned char c : sorted[w].first) words[w].push_back(byte_id[c]);
    const auto& s = words[w];
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t k = pair_key(s[i], s[i + 1]);
      pair_counts[k] += counts[w];
      auto& list = where[k];
      if (list.empty() || list.back() != static_cast<int32_t>(w))
        list.push_back(static_cast<int32_t>(w));
    }
  }

  struct Entry {
    int64_t count;
    uint64_t pair;
    bool operator<(const Entry& o) const {  // max-heap: higher count, then smaller pair
      return count != o.count ? count < o.count : pair > o.pair;
    }
  };
  std::priority_queue<Entry> heap;
  for (const auto& [k, c] : pair_counts) heap.push({c, k});

  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<uint32_t> visited(words.size(), 0);
  uint32_t iteration = 0;
  while (static_cast<int32_t>(tokens.size()) < options_.vocab_size && !heap.empty()) {
    Entry top = heap.top();
    heap.pop();
    auto pc = pair_counts.find(top.pair);
    int64_t actual = pc == pair_counts.end() ? 0 : pc->second;
    if (actual != top.count) {  // stale entry: counts only ever fall for existing pairs
      if (actual > 0) heap.push({actual, top.pair});
      continue;
    }
    if (actual < options_.min_frequency) break;
    ++iteration;
    const int32_t a = pair_left(top.pair), b = pair_right(top.pair);
    std::string merged = tokens[a] + tokens[b];
    int32_t new_id;
    if (auto it = token_index.find(merged); it != token_index.end()) {
      new_id = it->second;  // the same string reached by another merge path
    } else {
      new_id = static_cast<int32_t>(tokens.size());
      tokens.push_back(merged);
      token_index.emplace(merged, new_id);
    }
    merges.emplace_back(a, b);

    std::vector<int32_t> affected;
    affected.swap(where[top.pair]);
    where.erase(top.pair);
    std::vector<uint64_t> grown;
    for (int32_t w : affected) {
      if (visited[w] == iteration) continue;
      visited[w] = iteration;
      auto& s = words[w];
      const int64_t c = counts[w];
      bool has = false;
      for (size_t i = 0; i + 1 < s.size() && !has; ++i) has = s[i] == a && s[i + 1] == b;
      if (!has) continue;
      for (size_t i = 0; i + 1 < s.size(); ++i) pair_counts[pair_key(s[i], s[i + 1])] -= c;
      std::vector<int32_t> next;
      next.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          next.push_back(new_id);
          ++i;
        } else {
          next.push_back(s[i]);
        }
      }
      s.swap(next);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t k = pair_key(s[i], s[i + 1]);
        pair_counts[k] += c;
        if (s[i] == new_id || s[i + 1] == new_id) {
          auto& list = where[k];
          if (list.empty() || list.back() != w) list.push_back(w);
          grown.push_back(k);
        }
      }
    }
    pair_counts.erase(top.pair);
    std::sort(grown.begin(), grown.end());
    grown.erase(std::unique(grown.begin(), grown.end()), grown.end());
    for (uint64_t k : grown) heap.push({pair_counts[k], k});
  }

  Json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  Json added = Json::array();
  for (int32_t i = 0; i < num_special; ++i) {
    added.push_back({{"id", i},
                     {"content", tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  root["added_tokens"] = added;
  root["normalizer"] = nullptr;
  Json byte_level = {{"type", "ByteLevel"},
                     {"add_prefix_space", false},
                     {"trim_offsets", true},
                     {"use_regex", true}};
  if (options_.style == PretokenizerStyle::kGpt2) {
    root["pre_tokenizer"] = byte_level;
  } else {
    Json no_regex = byte_level;
    no_regex["use_regex"] = false;
    no_regex["trim_offsets"] = false;
    root["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", Json::array({{{"type", "Split"},
                                        {"pattern", {{"Regex", split_pattern_}}},
                                        {"behavior", "Isolated"},
                                        {"invert", false}},
                                       no_regex})}};
  }
  root["post_processor"] = byte_level;
  root["decoder"] = byte_level;
  Json vocab = Json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = static_cast<int32_t>(i);
  Json merge_list = Json::array();
  for (auto [a, b] : merges) merge_list.push_back(Json::array({tokens[a], tokens[b]}));
  root["model"] = {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false},
                   {"byte_fallback", false},
                   {"ignore_merges", false},
                   {"vocab", vocab},
                   {"merges", merge_list}};
  return root.dump();
}

Result<Tokenizer> BpeTrainer::train() const {
  DSTC_TRY(std::string json, train_json());
  DSTC_TRY(Tokenizer tok, Tokenizer::from_json_text(json, "trained tokenizer"));
  DSTC_CHECK_OK(tok.apply_config(trained_tokenizer_config(options_)));
  return tok;
}

Json trained_tokenizer_config(const BpeTrainerOptions& options) {
  Json config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                 {"add_bos_token", false},
                 {"clean_up_tokenization_spaces", false},
                 {"model_max_length", 1 << 20}};
  if (!options.special_tokens.empty()) {
    config["eos_token"] = options.special_tokens[0];
    config["pad_token"] = options.special_tokens[0];
  }
  return config;
}

}  // namespace dstc::generator
