// Token sampling on the host with the project's own RNG, so that a seed gives the same
// tokens whatever device computed the logits and whatever LibTorch version is in use
// (torch::multinomial streams differ between CPU and CUDA). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "generator/cpu_kernels.h"
#include "generator/cpu_pool.h"

namespace dstc::generator {

// SplitMix64 (Steele, Lea, Flood 2014, as in Vigna's reference code) used as a counter-based
// generator: output i is mix(seed + (i+1)·γ). Tiny, fast and platform-independent.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits
  double normal();   // N(0,1), Box-Muller (both values drawn fresh each call)

  // Mixes a request seed with a prompt index and a sample index into an independent stream,
  // so a sequence's tokens do not depend on how requests are batched.
  static uint64_t derive(uint64_t seed, uint64_t prompt_index, uint64_t sample_index);

 private:
  uint64_t state_;
};

// How to pick the next token. temperature 0 (or greedy) = argmax, ties to the lowest id.
struct SamplingParams {
  int64_t max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;  // nucleus: smallest set of most likely tokens with mass >= top_p
  int64_t top_k = 0;   // 0 = off
  int64_t n = 1;       // samples per prompt
  uint64_t seed = 0;
  bool greedy = false;
  bool ignore_eos = false;              // do not stop on the model's EOS ids
  std::vector<std::string> stop;        // stop strings (need a tokenizer); not included in text
  std::vector<int32_t> stop_token_ids;  // extra stop ids (kept out of the output)

  bool is_greedy() const { return greedy || temperature <= 0.0; }
};

// Picks one token from `logits` [vocab] (fp32). Order: temperature, top-k, softmax (fp32
// weights from the project's own exp, sums in double), top-p, then an inverse-CDF draw with
// one rng.uniform() over the kept tokens sorted by probability (ties by id), sorting only as
// far as the nucleus reaches. When neither top-k nor top-p cuts, the token is drawn by
// rejection against per-block bounds instead (exactly the softmax, without computing every
// token's weight; a few uniforms per token). `scratch` is reused between calls.
//
// block_max, when given: the largest logit of each block of kSampleBlock, [ceil(vocab /
// kSampleBlock)] as cpu::block_max computes them (NaN ignored), which the sampler would
// otherwise compute itself: a pass over the logits that, just after the output layer wrote
// them, reads them back from L3. Same tokens either way.
constexpr int64_t kSampleBlock = 64;
int32_t sample_token(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng,
                     std::vector<std::pair<float, int32_t>>& scratch,
                     const float* block_max = nullptr);

// One token per row of logits [rows, vocab]: out[r] = sample_token(row r, *rngs[r]), the rows
// shared by the pool's threads. Each row draws only from its own Rng, so the tokens do not
// depend on the number of threads. block_max: [rows, ceil(vocab / kSampleBlock)] or null.
void sample_tokens(const float* logits, int64_t rows, int64_t vocab, const SamplingParams& params,
                   Rng* const* rngs, int32_t* out, cpu::WorkerPool& pool,
                   const float* block_max = nullptr);

namespace detail {
// The sampler's softmax numerators, w[i] = exp((logits[i] - max_logit) * inv_temperature) in
// fp32, with the kernels built for `isa` (which the CPU must support), and the fp64 sums of
// blocks of 64; w has room for n rounded up to 64. Tests check that every Isa gives the same
// bits.
void softmax_weights_for_isa(cpu::Isa isa, const float* logits, int64_t n, float max_logit,
                             float inv_temperature, float* w, double* block_sums);
}  // namespace detail

}  // namespace dstc::generator
