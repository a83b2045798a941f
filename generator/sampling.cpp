#include "generator/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "generator/cpu_kernels.h"
#include "generator/cpu_simd.h"

namespace dstc::generator {

namespace {
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Softmax numerators in fp32 with block sums in fp64, vectorised like generator/cpu_kernels.cpp
// (one source, three targets). The vectors are 16 floats whatever the register width and the
// file is built with FMA contraction, so the AVX2 and AVX-512 targets (both with FMA) give
// bit-identical weights; the x86-64 baseline, without FMA, rounds differently (within 3e-7).
// Identity across all three would buy nothing: the logits themselves differ between targets
// (generator/cpu_kernels.h), and contraction makes the sampler 1.4x faster. fp32 weights
// (relative error ~1e-7) change no sampling decision that matters and cost a third of fp64
// ones: at batch 16 with a 32000-token vocabulary, the sampler was a third of a small model's
// step. Within a 64-token block each lane adds its 4 weights in fp32 (relative error < 2e-7)
// and the 16 lane sums are added in fp64: converting every weight to fp64 cost another third.
using cpu::F16;
using cpu::F8;
typedef double D8 __attribute__((vector_size(64)));

// Tokens per block of the weights: the inverse-CDF draw walks block sums, then one block.
constexpr int64_t kBlock = kSampleBlock;

DSTC_INLINE double hsum(const D8& v) {
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

// The same arithmetic on every target: F16 is 16 lanes whatever the register width.
DSTC_INLINE void softmax_weights_impl(const float* logits, int64_t n, float max_logit, float inv_t,
                                      float* w, double* block_sums) {
  for (int64_t start = 0; start < n; start += kBlock) {
    F16 sum{};  // 4 weights per lane; the lanes are added in fp64
    for (int64_t i = start; i < start + kBlock; i += 16) {
      F16 x;
      if (i + 16 <= n) {
        __builtin_memcpy(&x, logits + i, sizeof(x));
        x = (x - max_logit) * inv_t;
      } else {
        for (int l = 0; l < 16; ++l)
          x[l] = i + l < n ? (logits[i + l] - max_logit) * inv_t
                           : -std::numeric_limits<float>::infinity();
      }
      F16 e;
      cpu::exp_vec(x, e);
      __builtin_memcpy(w + i, &e, sizeof(e));
      sum += e;
    }
    const F8 lo = __builtin_shufflevector(sum, sum, 0, 1, 2, 3, 4, 5, 6, 7);
    const F8 hi = __builtin_shufflevector(sum, sum, 8, 9, 10, 11, 12, 13, 14, 15);
    block_sums[start / kBlock] =
        hsum(__builtin_convertvector(lo, D8) + __builtin_convertvector(hi, D8));
  }
}

DSTC_AVX512 void softmax_weights_avx512(const float* logits, int64_t n, float max_logit,
                                        float inv_t, float* w, double* block_sums) {
  softmax_weights_impl(logits, n, max_logit, inv_t, w, block_sums);
}
DSTC_AVX2 void softmax_weights_avx2(const float* logits, int64_t n, float max_logit, float inv_t,
                                    float* w, double* block_sums) {
  softmax_weights_impl(logits, n, max_logit, inv_t, w, block_sums);
}
void softmax_weights_baseline(const float* logits, int64_t n, float max_logit, float inv_t,
                              float* w, double* block_sums) {
  softmax_weights_impl(logits, n, max_logit, inv_t, w, block_sums);
}

// w[i] = exp((logits[i] - max_logit) * inv_temperature) in fp32 for i < n; 0 where the
// argument is below -87.3 (-inf and NaN included); block_sums[k] = sum of w over block k. w has
// room for n rounded up to kBlock.
void softmax_weights(cpu::Isa isa, const float* logits, int64_t n, float max_logit,
                     float inv_temperature, float* w, double* block_sums) {
  cpu::dispatch(isa, softmax_weights_avx512, softmax_weights_avx2, softmax_weights_baseline, logits,
                n, max_logit, inv_temperature, w, block_sums);
}

struct Scratch {
  std::vector<float> w, kept_w;
  std::vector<double> blocks;
  std::vector<float> kept;  // logits of the kept tokens, in sorted order
  std::vector<float> block_max;
};
Scratch& scratch_buffers() {
  thread_local Scratch s;
  return s;
}

// The largest logit ignoring NaN (-inf when all are NaN), from the block maxima when the
// caller has them (sample_token).
float largest(const float* logits, int64_t vocab, const float* block_max) {
  if (block_max == nullptr) return cpu::max_value(logits, vocab);
  return cpu::max_value(block_max, (vocab + kBlock - 1) / kBlock);
}

// Index of the first largest logit (ties go to the lowest id). With the block maxima the
// search starts at the first block holding the largest, which holds its first index.
int32_t argmax(const float* logits, int64_t vocab, const float* block_max = nullptr) {
  const float best = largest(logits, vocab, block_max);
  int64_t from = 0;
  if (block_max != nullptr)
    while (from < vocab && block_max[from / kBlock] != best) from += kBlock;
  for (int64_t i = from; i < vocab; ++i)
    if (logits[i] == best) return static_cast<int32_t>(i);
  return 0;  // every logit NaN
}

// Inverse-CDF draw over w [n] in index order with one uniform: the first i whose running
// sum exceeds u = uniform * total, walking the block sums first so that only one block is
// summed token by token. Rounding can leave u past a block's last running sum: then the
// block's last token with non-zero weight.
int64_t draw_blocked(const float* w, const double* blocks, int64_t n, Rng& rng) {
  const int64_t nb = (n + kBlock - 1) / kBlock;
  double total = 0;
  for (int64_t k = 0; k < nb; ++k) total += blocks[k];
  const double u = rng.uniform() * total;
  double cum = 0;
  int64_t last_nonzero = 0;
  for (int64_t k = 0; k < nb; ++k) {
    const double next = cum + blocks[k];
    if (u < next) {
      const int64_t end = std::min(n, (k + 1) * kBlock);
      double c = cum;
      for (int64_t i = k * kBlock; i < end; ++i) {
        c += w[i];
        if (w[i] > 0) last_nonzero = i;
        if (u < c) return i;
      }
      return last_nonzero;
    }
    if (blocks[k] > 0)
      for (int64_t i = std::min(n, (k + 1) * kBlock); i-- > k * kBlock;)
        if (w[i] > 0) {
          last_nonzero = i;
          break;
        }
    cum = next;
  }
  return last_nonzero;  // u at the very top (rounding)
}

// Proposals after which the rejection sampler gives up (never reached: each proposal is
// accepted with probability at least 1/kBlock on average) and the caller takes the full path.
constexpr int kMaxProposals = 1 << 16;

// Plain temperature sampling without every token's weight, by rejection against block bounds
// (FlashInfer samples top-p and top-k by rejection too, on the GPU). Token i of block k (n_k
// tokens, largest logit m_k; M the largest of all) has weight exp((l_i - M)/T) <=
// exp((m_k - M)/T). Propose block k with probability proportional to n_k exp((m_k - M)/T),
// token i uniformly inside it, and accept it with probability exp((l_i - m_k)/T): token i
// comes out with probability proportional to exp((l_i - M)/T), the softmax itself. Cost: one
// pass for the block maxima, one exp per block, and per proposal one exp; a block's weight is
// at least 1/n_k of its bound, so on average at most kBlock proposals (under 2 for the
// near-uniform logits of a random model). A +inf logit is drawn for certain (the first one).
// -1 when no proposal was accepted (see kMaxProposals) or no logit is a number above -inf:
// the caller then takes the full path.
// block_max: the caller's block maxima, or null.
int64_t draw_by_rejection(const float* logits, int64_t vocab, float inv_t, Scratch& buf, Rng& rng,
                          const float* block_max) {
  const cpu::Isa isa = cpu::detected_isa();
  const int64_t nb = (vocab + kBlock - 1) / kBlock, last = vocab - (nb - 1) * kBlock;
  buf.block_max.resize(nb);
  if (block_max != nullptr)
    std::copy(block_max, block_max + nb, buf.block_max.begin());
  else
    cpu::block_max(isa, logits, vocab, kBlock, buf.block_max.data());
  const float top = cpu::max_value(isa, buf.block_max.data(), nb);
  if (top == std::numeric_limits<float>::infinity()) return argmax(logits, vocab);  // certain
  if (!(top > -std::numeric_limits<float>::infinity())) return -1;
  const int64_t padded = (nb + kBlock - 1) / kBlock * kBlock;
  buf.w.resize(padded);
  buf.blocks.resize(padded / kBlock);
  softmax_weights(isa, buf.block_max.data(), nb, top, inv_t, buf.w.data(), buf.blocks.data());
  if (last < kBlock) {  // the last block's bound counts its n_k tokens
    const float full = buf.w[nb - 1];
    buf.w[nb - 1] = full * static_cast<float>(last) / kBlock;
    buf.blocks[(nb - 1) / kBlock] += static_cast<double>(buf.w[nb - 1]) - full;
  }
  for (int proposal = 0; proposal < kMaxProposals; ++proposal) {
    const int64_t k = draw_blocked(buf.w.data(), buf.blocks.data(), nb, rng);
    const int64_t size = k == nb - 1 ? last : kBlock;
    const int64_t i = k * kBlock + std::min(size - 1, static_cast<int64_t>(rng.uniform() * size));
    // NaN compares false: never accepted.
    if (rng.uniform() < std::exp(static_cast<double>((logits[i] - buf.block_max[k]) * inv_t)))
      return i;
  }
  return -1;
}

// Inverse-CDF draw over the first `keep` entries of w (sorted order) token by token.
size_t draw_sequential(const float* w, size_t keep, Rng& rng) {
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += w[i];
  const double u = rng.uniform() * total;
  double cum = 0;
  for (size_t i = 0; i < keep; ++i) {
    cum += w[i];
    if (u < cum) return i;
  }
  for (size_t i = keep; i-- > 0;)
    if (w[i] > 0) return i;
  return 0;
}

}  // namespace

namespace detail {
void softmax_weights_for_isa(cpu::Isa isa, const float* logits, int64_t n, float max_logit,
                             float inv_temperature, float* w, double* block_sums) {
  softmax_weights(isa, logits, n, max_logit, inv_temperature, w, block_sums);
}
}  // namespace detail

uint64_t Rng::next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return mix64(state_);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

uint64_t Rng::derive(uint64_t seed, uint64_t prompt_index, uint64_t sample_index) {
  return mix64(mix64(mix64(seed) ^ (prompt_index + 0x632be59bd9b4e019ULL)) ^
               (sample_index + 0x85157af5ULL));
}

int32_t sample_token(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng,
                     std::vector<std::pair<float, int32_t>>& scratch, const float* block_max) {
  if (params.is_greedy()) return argmax(logits, vocab, block_max);
  const float inv_t = static_cast<float>(1.0 / params.temperature);
  Scratch& buf = scratch_buffers();
  const int64_t padded = (vocab + kBlock - 1) / kBlock * kBlock;
  const bool top_k = params.top_k > 0 && params.top_k < vocab;
  if (!top_k && params.top_p >= 1.0) {
    const int64_t token = draw_by_rejection(logits, vocab, inv_t, buf, rng, block_max);
    if (token >= 0) return static_cast<int32_t>(token);
    // Full distribution, in id order: no sort at all.
    buf.w.resize(padded);
    buf.blocks.resize(padded / kBlock);
    softmax_weights(cpu::detected_isa(), logits, vocab, largest(logits, vocab, block_max), inv_t,
                    buf.w.data(), buf.blocks.data());
    return static_cast<int32_t>(draw_blocked(buf.w.data(), buf.blocks.data(), vocab, rng));
  }
  // Candidates sorted by logit descending, ties by id ascending (a total order, so every
  // platform keeps the same set).
  auto by_logit = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  scratch.resize(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) scratch[i] = {logits[i], static_cast<int32_t>(i)};
  size_t keep = scratch.size();
  if (top_k) {
    keep = static_cast<size_t>(params.top_k);
    std::partial_sort(scratch.begin(), scratch.begin() + keep, scratch.end(), by_logit);
    // Weights of the kept tokens in sorted order.
    buf.kept.resize(keep);
    for (size_t i = 0; i < keep; ++i) buf.kept[i] = scratch[i].first;
    const int64_t kp = (static_cast<int64_t>(keep) + kBlock - 1) / kBlock * kBlock;
    buf.w.resize(kp);
    buf.blocks.resize(kp / kBlock);
    softmax_weights(cpu::detected_isa(), buf.kept.data(), static_cast<int64_t>(keep),
                    scratch[0].first, inv_t, buf.w.data(), buf.blocks.data());
    if (params.top_p < 1.0) {
      double total = 0;
      for (size_t i = 0; i < keep; ++i) total += buf.w[i];
      double cum = 0;
      for (size_t i = 0; i < keep; ++i) {
        cum += buf.w[i];
        if (cum >= params.top_p * total) {
          keep = i + 1;
          break;
        }
      }
    }
    return scratch[draw_sequential(buf.w.data(), keep, rng)].second;
  }
  // Nucleus without top-k: weights in id order, then sort only as many of the most likely
  // tokens as the nucleus needs (64, then 8x more), instead of the whole vocabulary.
  buf.w.resize(padded);
  buf.blocks.resize(padded / kBlock);
  softmax_weights(cpu::detected_isa(), logits, vocab, largest(logits, vocab, block_max), inv_t,
                  buf.w.data(), buf.blocks.data());
  double total = 0;
  for (int64_t k = 0; k < padded / kBlock; ++k) total += buf.blocks[k];
  const double target = params.top_p * total;
  size_t sorted = std::min<size_t>(keep, 64);
  keep = scratch.size();
  for (;;) {
    std::partial_sort(scratch.begin(), scratch.begin() + sorted, scratch.end(), by_logit);
    double cum = 0;
    bool found = false;
    for (size_t i = 0; i < sorted && !found; ++i) {
      cum += buf.w[scratch[i].second];
      if (cum >= target) {
        keep = i + 1;
        found = true;
      }
    }
    if (found || sorted == scratch.size()) break;
    sorted = std::min(scratch.size(), sorted * 8);
  }
  buf.kept.clear();
  std::vector<float>& kw = buf.kept_w;  // weights of the kept tokens, sorted
  kw.resize(keep);
  for (size_t i = 0; i < keep; ++i) kw[i] = buf.w[scratch[i].second];
  return scratch[draw_sequential(kw.data(), keep, rng)].second;
}

void sample_tokens(const float* logits, int64_t rows, int64_t vocab, const SamplingParams& params,
                   Rng* const* rngs, int32_t* out, cpu::WorkerPool& pool, const float* block_max) {
  const int64_t nb = (vocab + kBlock - 1) / kBlock;
  pool.run(rows, [&](int64_t r) {
    thread_local std::vector<std::pair<float, int32_t>> scratch;
    out[r] = sample_token(logits + r * vocab, vocab, params, *rngs[r], scratch,
                          block_max ? block_max + r * nb : nullptr);
  });
}

}  // namespace dstc::generator
