#include "generator/cpu_decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "generator/cpu_kernels.h"

namespace dstc::generator {

namespace {

// Multiply-adds per chunk of a linear layer at least: claiming a chunk costs a cache-line
// transfer between cores (~0.1 us), and at batch 16 a 16-row chunk of S's 128-input layers is
// only 32k multiply-adds (~0.4 us).
constexpr int64_t kMinChunkWork = 1 << 16;

// Rows per chunk of a linear layer with `in` inputs: about 32 chunks per layer (so that two
// threads share the work however they are scheduled), at least kMinChunkWork and 4 of the
// kernel's row blocks (4 rows; 16 when whole panels of batch rows take the panel kernel), in
// multiples of a block. The kernels prefetch the next block's weights, so a chunk's first
// block starts cold. Against the earlier 16-row chunks, batch 16 on 2 threads gained ~6% on
// M and ~5% on S (bench_generate).
int64_t chunk_rows(int64_t rows, int64_t in, int64_t batch, bool packed) {
  const int64_t block = packed ? cpu::kRowBlock : batch >= cpu::kPanel ? 16 : 4;
  const int64_t least =
      std::max<int64_t>(4 * block, (kMinChunkWork + in * batch - 1) / (in * batch));
  return (std::max(least, (rows + 31) / 32) + block - 1) / block * block;
}

// x^T in panels (cpu::transpose_panels) for a batch with whole panels; null otherwise.
const float* panels(const float* x, int64_t batch, int64_t in, std::vector<float>& xt) {
  if (batch < cpu::kPanel) return nullptr;
  xt.resize(batch / cpu::kPanel * cpu::kPanel * in);
  cpu::transpose_panels(x, batch, in, xt.data());
  return xt.data();
}

// Multiply-adds below which a phase runs on the calling thread alone (~10 us): S-sized layers
// at batch 1 take ~1 us, less than a helper's wake-up, and under load a helper descheduled
// mid-chunk would hold the step for a time slice.
constexpr int64_t kMinParallelWork = 1 << 18;

// Output rows [begin, end) of a linear layer (cpu::linear): through the weight's packed copy
// when it has one (empty: none).
void linear_part(const float* x, const float* xt, int64_t batch, int64_t in, const float* w,
                 const cpu::PackedRows& packed, const float* bias, int64_t begin, int64_t end,
                 float* y, int64_t ldy, bool accumulate) {
  if (packed.data() != nullptr)
    cpu::linear_packed(x, batch, packed, bias, begin, end, y, ldy, accumulate, xt);
  else
    cpu::linear(x, batch, in, w, bias, begin, end, y, ldy, accumulate, xt);
}

// Runs several independent linear layers (the same input) split into row chunks on the pool.
struct LinearJob {
  const float* w;
  const cpu::PackedRows& packed;  // w's packed copy, or empty
  const float* bias;
  int64_t rows;
  float* y;
  int64_t ldy;
  bool accumulate;
};
void parallel_linear(cpu::WorkerPool& pool, bool parallel, const float* x, const float* xt,
                     int64_t batch, int64_t in, std::initializer_list<LinearJob> jobs) {
  struct Chunk {
    const LinearJob* job;
    int64_t begin, end;
  };
  Chunk chunks[128];  // <= 33 per job
  int64_t n = 0;
  for (const LinearJob& j : jobs) {
    const int64_t step = chunk_rows(j.rows, in, batch, j.packed.data() != nullptr);
    for (int64_t r = 0; r < j.rows; r += step) chunks[n++] = {&j, r, std::min(j.rows, r + step)};
  }
  int64_t rows = 0;
  for (const LinearJob& j : jobs) rows += j.rows;
  auto chunk = [&](int64_t i) {
    const LinearJob& j = *chunks[i].job;
    linear_part(x, xt, batch, in, j.w, j.packed, j.bias, chunks[i].begin, chunks[i].end, j.y, j.ldy,
                j.accumulate);
  };
  pool.run(n, chunk, parallel && rows * in * batch >= kMinParallelWork);
}

// out[b] = w * (x[b] * rsqrt(mean(x[b]^2) + eps)) for rows b of x [batch, dim], as RMSNormImpl.
// The squares are summed in fp64 in four interleaved sums: one sum waited for the previous
// addition (4 cycles) per element, ~20 us of S's batch-16 step over its nine norms.
void rms_norm(const float* x, int64_t batch, int64_t dim, const float* w, float eps, float* out) {
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * dim;
    double part[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= dim; i += 4)
      for (int k = 0; k < 4; ++k) part[k] += static_cast<double>(xb[i + k]) * xb[i + k];
    for (; i < dim; ++i) part[0] += static_cast<double>(xb[i]) * xb[i];
    const double ss = (part[0] + part[1]) + (part[2] + part[3]);
    const float scale = 1.0f / std::sqrt(static_cast<float>(ss / dim) + eps);
    float* ob = out + b * dim;
    for (int64_t i = 0; i < dim; ++i) ob[i] = w[i] * (xb[i] * scale);
  }
}

// Rotate-half RoPE on one head x [d] in place: dimension i pairs with i + d/2.
void rope(float* x, int64_t d, const float* cos, const float* sin) {
  const int64_t h = d / 2;
  for (int64_t i = 0; i < h; ++i) {
    const float a = x[i], b = x[i + h];
    x[i] = a * cos[i] - b * sin[i];
    x[i + h] = b * cos[i] + a * sin[i];
  }
}

}  // namespace

CpuDecoder::CpuDecoder(CpuModelView model) : m_(std::move(model)) {
  const int64_t C = m_.hidden, Hd = m_.heads * m_.head_dim, KVd = m_.kv_heads * m_.head_dim;
  const int64_t per_layer = 2 * C * Hd + 2 * C * KVd + 3 * C * m_.intermediate;  // weights
  layer_bytes_ = static_cast<int64_t>(m_.layers.size()) * per_layer * int64_t{sizeof(float)};
  set_max_packed_bytes(kDefaultMaxPackedBytes);
}

// The default, 64 MB: each copy doubles the memory of what it copies, and the gain shrinks
// with size. Measured on a 32000-row output layer at batch 16 against cpu::linear: 1.15x at
// 128 inputs (16 MB), 1.3x at 256 and 384, equal at 512 (65 MB), 0.93x at 768 (98 MB): the
// large ones stream from memory rather than L3, and there the row-major kernel's 16
// concurrent streams get more of it than one stream with software prefetches. S's layers
// (3.2 MB) at 8 rows, a thread's share at batch 16 on two threads: 1.2-1.8x (no horizontal
// sums).
void CpuDecoder::set_max_packed_bytes(int64_t bytes) {
  const int64_t C = m_.hidden, I = m_.intermediate, Hd = m_.heads * m_.head_dim;
  const int64_t KVd = m_.kv_heads * m_.head_dim;
  lm_head_packed_ = {};
  layers_packed_.clear();
  if (m_.vocab * C * int64_t{sizeof(float)} <= bytes)
    lm_head_packed_ = cpu::PackedRows(m_.lm_head, m_.vocab, C);
  if (layer_bytes_ <= bytes)
    for (const auto& l : m_.layers)
      layers_packed_.push_back({cpu::PackedRows(l.q, Hd, C), cpu::PackedRows(l.k, KVd, C),
                                cpu::PackedRows(l.v, KVd, C), cpu::PackedRows(l.o, C, Hd),
                                cpu::PackedRows(l.gate, I, C), cpu::PackedRows(l.up, I, C),
                                cpu::PackedRows(l.down, C, I)});
}

void CpuDecoder::step(const int64_t* tokens, int64_t batch, const CpuCacheView& cache,
                      float* logits, cpu::WorkerPool& pool, float* block_max, int64_t block) {
  const int64_t B = batch, C = m_.hidden, I = m_.intermediate, H = m_.heads, KV = m_.kv_heads;
  const int64_t d = m_.head_dim, R = H / KV, V = m_.vocab, cap = cache.capacity;
  x_.resize(B * C);
  xn_.resize(B * C);
  q_.resize(B * H * d);
  att_.resize(B * H * d);
  k_.resize(B * KV * d);
  v_.resize(B * KV * d);
  gate_.resize(B * I);
  up_.resize(B * I);
  scores_.resize(B * KV * R * cap);

  int64_t positions = static_cast<int64_t>(rope_.size()) / d;
  for (int64_t b = 0; b < B; ++b) {
    std::memcpy(&x_[b * C], m_.embed + tokens[b] * C, C * sizeof(float));
    for (; positions <= cache.next_position[b]; ++positions) {
      // As CausalLMImpl::rope: freqs = float(position) * inv_freq in fp32, then cos and sin.
      rope_.resize((positions + 1) * d);
      float* cs = &rope_[positions * d];
      for (int64_t i = 0; i < d / 2; ++i) {
        const float f = static_cast<float>(positions) * m_.inv_freq[i];
        cs[i] = std::cos(f);
        cs[d / 2 + i] = std::sin(f);
      }
    }
  }

  // Small models at batch 2 * threads and more: each thread takes its share of the rows
  // through every layer, with no hand-off between the threads until the output layer. Split
  // by weight rows instead, every phase of a layer (five per layer) ends with the threads
  // waiting for each other and reading the outputs the other core wrote, which at S's
  // 10-50 us phases cost as much as the second core saves. Each thread then reads all of
  // the layers' weights, so only where they are few (row_split_bytes_).
  const int64_t T = pool.threads();
  if (T > 1 && B >= 2 * T && layer_bytes_ <= row_split_bytes_) {
    if (static_cast<int64_t>(xt_parts_.size()) < T) xt_parts_.resize(T);
    pool.run(T, [&](int64_t t) {
      const int64_t b0 = B * t / T, b1 = B * (t + 1) / T;
      layers(b0, b1 - b0, cache, pool, false, xt_parts_[t]);
    });
  } else {
    layers(0, B, cache, pool, true, xt_);
  }
  rms_norm(x_.data(), B, C, m_.final_norm, m_.rms_eps, xn_.data());
  const float* xt = panels(xn_.data(), B, C, xt_);
  if (block_max == nullptr) {
    parallel_linear(pool, true, xn_.data(), xt, B, C,
                    {{m_.lm_head, lm_head_packed_, nullptr, V, logits, V, false}});
    return;
  }
  // The block maxima of each chunk of rows right after its logits, while they are in L2:
  // after the whole layer they come back from L3 (S at batch 16 writes 2 MB of logits while
  // streaming 16 MB of weights), which cost the sampler ~80 us a step on one thread.
  const int64_t nb = (V + block - 1) / block;
  const int64_t unit = std::lcm(block, cpu::kRowBlock);  // whole blocks, whole packed blocks
  const int64_t rows = (chunk_rows(V, C, B, true) + unit - 1) / unit * unit;
  pool.run((V + rows - 1) / rows,
           [&](int64_t c) {
             const int64_t o0 = c * rows, o1 = std::min(V, o0 + rows);
             linear_part(xn_.data(), xt, B, C, m_.lm_head, lm_head_packed_, nullptr, o0, o1, logits,
                         V, false);
             for (int64_t b = 0; b < B; ++b)
               cpu::block_max(logits + b * V + o0, o1 - o0, block, block_max + b * nb + o0 / block);
           },
           V * C * B >= kMinParallelWork);
}

// Rows [b0, b0 + B) of the batch through every layer: x_ holds their embeddings on entry and
// their residual stream on exit. Every buffer is row-major, so a range of rows is a block of
// each; xt is this range's own panel buffer.
void CpuDecoder::layers(int64_t b0, int64_t B, const CpuCacheView& cache, cpu::WorkerPool& pool,
                        bool parallel, std::vector<float>& xt) {
  const int64_t C = m_.hidden, I = m_.intermediate, H = m_.heads, KV = m_.kv_heads;
  const int64_t d = m_.head_dim, R = H / KV, cap = cache.capacity, slot = cache.length;
  float* x = &x_[b0 * C];
  float* xn = &xn_[b0 * C];
  float* q = &q_[b0 * H * d];
  float* att = &att_[b0 * H * d];
  float* k = &k_[b0 * KV * d];
  float* v = &v_[b0 * KV * d];
  float* gate = &gate_[b0 * I];
  float* up = &up_[b0 * I];
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const float neg_inf = -std::numeric_limits<float>::infinity();

  // Each phase reads the previous one's output whole, so phases run one after another, each
  // split into chunks on the pool (when `parallel`); RMSNorm is cheap and runs on the
  // calling thread.
  static const PackedLayer kNone;
  for (size_t l = 0; l < m_.layers.size(); ++l) {
    const auto& L = m_.layers[l];
    const PackedLayer& P = layers_packed_.empty() ? kNone : layers_packed_[l];
    rms_norm(x, B, C, L.input_norm, m_.rms_eps, xn);
    parallel_linear(pool, parallel, xn, panels(xn, B, C, xt), B, C,
                    {{L.q, P.q, L.q_bias, H * d, q, H * d, false},
                     {L.k, P.k, L.k_bias, KV * d, k, KV * d, false},
                     {L.v, P.v, L.v_bias, KV * d, v, KV * d, false}});
    // Attention: one item per (row, kv head) with its R query heads; b is the row in the
    // whole batch.
    auto attend = [&](int64_t item) {
      const int64_t b = b0 + item / KV, g = item % KV;
      float* scores = &scores_[(b * KV + g) * R * cap];
      const float* c = &rope_[cache.next_position[b] * d];
      const float* s = c + d / 2;
      float* kc = cache.k[l] + (b * KV + g) * cap * d;  // [cap, d]
      float* vc = cache.v[l] + (b * KV + g) * cap * d;
      if (item + 1 < B * KV) {
        // The next item's keys and values while this one computes: at batch 16 the cache
        // outgrows L2, and the item is too short for the hardware prefetcher to ramp up.
        for (int64_t off = 0; off < (slot + 1) * d; off += 16) {
          __builtin_prefetch(kc + cap * d + off);
          __builtin_prefetch(vc + cap * d + off);
        }
      }
      float* kn = &k_[(b * KV + g) * d];
      rope(kn, d, c, s);
      std::memcpy(kc + slot * d, kn, d * sizeof(float));
      std::memcpy(vc + slot * d, &v_[(b * KV + g) * d], d * sizeof(float));
      float* qg = &q_[(b * H + g * R) * d];  // the group's R query heads, contiguous
      for (int64_t r = 0; r < R; ++r) rope(qg + r * d, d, c, s);
      cpu::linear(qg, R, d, kc, nullptr, 0, slot + 1, scores, cap, false);
      const bool* valid = cache.key_valid ? cache.key_valid + b * cap : nullptr;
      for (int64_t r = 0; r < R; ++r) {
        float* sc = scores + r * cap;
        // Padding slots are invisible; the new token always sees itself.
        for (int64_t j = 0; j <= slot; ++j)
          sc[j] = (valid && j < slot && !valid[j]) ? neg_inf : sc[j] * scale;
        cpu::softmax(sc, slot + 1);
        cpu::weighted_rows(sc, slot + 1, vc, d, d, &att_[(b * H + g * R + r) * d]);
      }
    };
    // A chunk is a row's kv heads (from 4 rows on): each item prefetches the next, which is
    // then the same thread's, not the one the other thread happened to claim (at batch 16
    // on 2 threads, S's attention took 125 us a step instead of 180). Each item also costs
    // calls, RoPE and cache misses worth about 4096 multiply-adds: S's 64 items at batch 16
    // then run in parallel, and batch 1's 4 items do not.
    const int64_t per = B >= 4 ? KV : 1;
    auto attend_chunk = [&](int64_t c) {
      for (int64_t i = c * per; i < (c + 1) * per; ++i) attend(i);
    };
    pool.run(B * KV / per, attend_chunk,
             parallel && B * KV * (R * (slot + 1) * d * 2 + 4096) >= kMinParallelWork);
    parallel_linear(pool, parallel, att, panels(att, B, H * d, xt), B, H * d,
                    {{L.o, P.o, L.o_bias, C, x, C, true}});
    rms_norm(x, B, C, L.post_norm, m_.rms_eps, xn);
    const float* xnt = panels(xn, B, C, xt);
    const int64_t mlp_step = chunk_rows(I, C, B, P.gate.data() != nullptr);
    auto gate_up = [&](int64_t chunk) {
      const int64_t i0 = chunk * mlp_step, i1 = std::min(I, i0 + mlp_step);
      linear_part(xn, xnt, B, C, L.gate, P.gate, L.gate_bias, i0, i1, gate, I, false);
      linear_part(xn, xnt, B, C, L.up, P.up, L.up_bias, i0, i1, up, I, false);
      for (int64_t b = 0; b < B; ++b) cpu::silu_mul(gate + b * I + i0, up + b * I + i0, i1 - i0);
    };
    pool.run((I + mlp_step - 1) / mlp_step, gate_up, parallel && 2 * I * C * B >= kMinParallelWork);
    parallel_linear(pool, parallel, gate, panels(gate, B, I, xt), B, I,
                    {{L.down, P.down, L.down_bias, C, x, C, true}});
  }
}

}  // namespace dstc::generator
