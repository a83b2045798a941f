// Hugging Face `tokenizer.json` byte-level BPE (GPT-2, Llama 3, Qwen2/2.5/3 styles),
// written from the format description in research/engines.md §2 and the behaviour of
// the Rust `tokenizers` crate (reproduces its ids on the shared golden corpora).
//
// Supported: normalizers NFC/NFD/NFKC/NFKD and Sequence of them; pre-tokenizers
// Split (regex or string pattern, every behaviour, invert), ByteLevel (add_prefix_space,
// use_regex) and Sequence; BPE with "a b" or ["a","b"] merges, ignore_merges,
// byte_fallback, unk_token; added tokens (lstrip/rstrip/single_word); post-processors
// ByteLevel, TemplateProcessing (single sequence), Sequence; decoders ByteLevel,
// ByteFallback, Fuse, Sequence. Anything else is a load error naming the field.
//
// Thread safety: a loaded Tokenizer is immutable apart from an internal, locked
// word cache; encode/decode may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace dstc::generator {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = true;       // dropped by decode(skip_special=true); gated by parse_special
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // only matched when not inside a word
  bool normalized = false;
};

class Tokenizer {
 public:
  Tokenizer();
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Loads `path`: a tokenizer.json (plain or gzip-compressed) or a directory that holds
  // one. A tokenizer_config.json beside it supplies bos/eos/pad tokens and the chat
  // template. Errors name the file and the field.
  static Result<Tokenizer> from_file(const std::string& path);

  // Parses tokenizer.json text; `source` names it in errors.
  static Result<Tokenizer> from_json_text(std::string_view json_text,
                                          std::string_view source = "tokenizer.json");

  // Applies a tokenizer_config.json object (bos_token, eos_token, pad_token,
  // chat_template). Token fields may be strings or {"content": ...} objects.
  Status apply_config(const Json& config);

  // Text -> ids. `add_special` runs the post-processor (e.g. a BOS from
  // TemplateProcessing; nothing for ByteLevel). With `parse_special` false, special
  // added tokens written in the text (e.g. "<|im_end|>" inside a task) are encoded as
  // plain text, never as control tokens: use that for untrusted content. Invalid UTF-8
  // is replaced by U+FFFD first.
  std::vector<int32_t> encode(std::string_view text, bool add_special = false,
                              bool parse_special = true) const;

  // Ids -> text. Bytes of consecutive tokens are joined before UTF-8 decoding;
  // invalid sequences become U+FFFD, as in HF. Unknown ids decode to U+FFFD.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // The raw bytes one token stands for (the byte-level alphabet undone; an added
  // token's content). Not necessarily valid UTF-8: use it for streaming and for
  // stop-string search. Empty for an unknown id.
  std::string token_bytes(int32_t id) const;

  // The vocab string of `id` (byte-level alphabet, e.g. "Ġthe"); nullopt if unknown.
  std::optional<std::string> id_to_token(int32_t id) const;
  std::optional<int32_t> token_to_id(std::string_view token) const;

  // One past the largest id (vocab and added tokens): the smallest embedding size
  // that covers every id this tokenizer can produce.
  int32_t vocab_size() const;
  // Number of ids that map to a token (ids need not be dense).
  size_t token_count() const;

  // From tokenizer_config.json; when it is absent or has no eos_token, the first
  // special added token among <|endoftext|>, <|end_of_text|>, </s>, <|im_end|>.
  std::optional<int32_t> eos_id() const { return eos_id_; }
  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> pad_id() const { return pad_id_; }
  // Ids that end generation: eos_id() plus every `eos_token_id` (a number or a list) of
  // a generation_config.json beside the tokenizer, without duplicates.
  std::vector<int32_t> stop_ids() const;
  // Applies a generation_config.json object (its eos_token_id).
  Status apply_generation_config(const Json& config);
  // The Jinja chat template string from tokenizer_config.json, empty if none.
  const std::string& chat_template() const { return chat_template_; }

  const std::vector<AddedToken>& added_tokens() const { return added_; }
  bool is_special(int32_t id) const;

  // Writes tokenizer.json (HF layout, vocab in id order, merges as pairs) through
  // write_file_atomic.
  Status save(const std::string& path) const;
  // The same JSON as a string.
  std::string to_json_text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<AddedToken> added_;
  std::optional<int32_t> eos_id_, bos_id_, pad_id_;
  std::vector<int32_t> generation_eos_;
  std::string chat_template_;

  static Result<Tokenizer> from_json(const Json& root, std::string_view source);
  Status apply_config_impl(const Json& config);
  Status resolve_config_token(const Json& config, const char* key, std::optional<int32_t>& out);
};

// Incremental decoding for streaming and stop-string checks: push ids one at a time and
// get back the text they completed. Bytes of a character split across tokens wait for
// the next token; invalid bytes become U+FFFD. The concatenation of every push() and
// finish() equals Tokenizer::decode of the same ids.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(&tokenizer), skip_special_(skip_special) {}

  // Appends one token; returns the newly completed text (possibly empty).
  std::string push(int32_t id);
  // Flushes an incomplete trailing sequence (as U+FFFD).
  std::string finish();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace dstc::generator
