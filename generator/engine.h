// The built-in LibTorch generation engine: batched sampling with a KV cache. Torch-free
// header (pimpl); the model type is only forward-declared.
//
// Batching: the prompts × n sequences are decoded in groups of at most max_batch rows,
// left-padded, with RoPE positions counting real tokens only (HF generate's
// cumsum(mask) - 1). A prompt sampled n times is prefilled once and its cache rows
// repeated. Finished rows leave the batch. Every sequence draws from its own RNG stream
// (Rng::derive(seed, prompt, sample)), so its tokens do not depend on the batching.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "generator/checkpoint.h"
#include "generator/generator.h"

namespace dstc::generator {

class CausalLMImpl;

struct EngineOptions {
  std::string device = "cpu";  // "cpu" or "cuda[:N]"
  std::string dtype =
      "auto";  // "auto" (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16
  // Intra-op threads: at::set_num_threads for LibTorch (prefill), and the threads of the
  // hand-written CPU decode path and of the sampler. Honoured as given (no automatic choice):
  // the decode path's helpers only take work when they get a core, so 2 is never much
  // slower than 1 on 2 cores, and faster when the machine is otherwise idle.
  int num_threads = 1;
  int64_t max_batch = 16;  // rows decoded together
  bool use_cache = true;   // false: recompute the whole sequence every step (a baseline)
  // fp32 models on the CPU decode through generator/cpu_decode.h instead of LibTorch eager
  // operators; false keeps LibTorch (a baseline for benchmarks).
  bool cpu_decode = true;
};

struct GenerationStats {
  int64_t sequences = 0;
  int64_t new_tokens = 0;
  double prefill_seconds = 0;
  // From the first new token to the last, summed over batches; tokens_per_s counts the
  // tokens produced in that window (new_tokens minus one per batch's first step).
  double decode_seconds = 0;
  int64_t decode_tokens = 0;
  double tokens_per_s() const { return decode_seconds > 0 ? decode_tokens / decode_seconds : 0; }
};

// Writes a checkpoint of `config` with init_random(seed) weights (generator/model.h), without
// exposing LibTorch to the caller.
Status write_random_checkpoint(const ModelConfig& config, uint64_t seed, const std::string& dir,
                               DType storage = DType::kF32);

class LocalEngine : public Generator {
 public:
  static Result<std::unique_ptr<LocalEngine>> load(const std::string& model_dir,
                                                   const EngineOptions& options = {});
  // Wraps a model already in memory (trainer, benchmarks); shares its weights. The model's
  // device and dtype are used as they are.
  static std::unique_ptr<LocalEngine> from_model(std::shared_ptr<CausalLMImpl> model,
                                                 const EngineOptions& options = {});
  ~LocalEngine() override;

  // Text prompts and stop strings need a codec (set_codec); id prompts do not.
  Result<std::vector<std::vector<Completion>>> generate(const std::vector<Prompt>& prompts,
                                                        const SamplingParams& params) override;
  std::string describe() const override;

  // Logits [vocab] (fp32) of the last prompt position, before any new token.
  Result<std::vector<float>> prompt_logits(const std::vector<int32_t>& ids);

  void set_codec(std::shared_ptr<const TextCodec> codec);
  const ModelConfig& config() const;
  // Statistics of the last generate() call.
  GenerationStats last_stats() const;

 private:
  LocalEngine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mu_;  // one generate() at a time
};

}  // namespace dstc::generator
