// The Generator interface: prompts in, n sampled completions per prompt out. Two
// implementations: LocalEngine (generator/engine.h, the built-in LibTorch engine) and
// OpenAIClient (generator/openai_client.h, any OpenAI-compatible /v1/completions server
// such as vLLM, SGLang or `dstc serve model`). Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "generator/sampling.h"

namespace dstc::generator {

// A prompt is token ids or text. Text needs a tokenizer on the engine's side; ids are
// sent as they are (OpenAI-compatible servers accept a list of ints as "prompt").
struct Prompt {
  std::vector<int32_t> ids;
  std::string text;
  bool has_ids() const { return !ids.empty(); }
  static Prompt from_ids(std::vector<int32_t> ids) { return Prompt{std::move(ids), {}}; }
  static Prompt from_text(std::string text) { return Prompt{{}, std::move(text)}; }
};

struct Completion {
  std::vector<int32_t> ids;   // new tokens only; stop tokens and stop strings excluded
  std::string text;           // decoded new text (empty without a tokenizer)
  std::string finish_reason;  // "stop" (EOS, stop id or stop string) or "length"
};

// Text <-> ids for an engine; the CLI adapts generator/text's Tokenizer to it. Keeping it
// an interface keeps dstc_generator free of a link dependency on the tokenizer.
class TextCodec {
 public:
  virtual ~TextCodec() = default;
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
};

class Generator {
 public:
  virtual ~Generator() = default;
  // Returns one vector per prompt, each with params.n completions (sample order).
  virtual Result<std::vector<std::vector<Completion>>> generate(const std::vector<Prompt>& prompts,
                                                                const SamplingParams& params) = 0;
  // "local:<model dir>" or "openai:<url>".
  virtual std::string describe() const = 0;
};

}  // namespace dstc::generator
