#include "generator/cpu_kernels.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "generator/cpu_simd.h"

// Every kernel is an always-inline template over the vector type, instantiated inside three
// entry points with different target attributes (AVX-512, AVX2+FMA, baseline), so one source
// gives three code paths. Vectors never cross a function boundary by value (that would change
// the ABI between targets); the templates take them by reference.
namespace dstc::generator::cpu {

namespace {

// Sum of the lanes by halving (a fixed order).
DSTC_INLINE float hsum(const F4& v) { return (v[0] + v[2]) + (v[1] + v[3]); }
DSTC_INLINE float hsum(const F8& v) {
  F4 lo = __builtin_shufflevector(v, v, 0, 1, 2, 3), hi = __builtin_shufflevector(v, v, 4, 5, 6, 7);
  return hsum(F4(lo + hi));
}
DSTC_INLINE float hsum(const F16& v) {
  F8 lo = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  F8 hi = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  return hsum(F8(lo + hi));
}

// Largest lane by halving (the callers' running maxima never hold NaN).
DSTC_INLINE float hmax(const F4& v) {
  const float a = v[0] > v[2] ? v[0] : v[2], b = v[1] > v[3] ? v[1] : v[3];
  return a > b ? a : b;
}
DSTC_INLINE float hmax(const F8& v) {
  F4 lo = __builtin_shufflevector(v, v, 0, 1, 2, 3), hi = __builtin_shufflevector(v, v, 4, 5, 6, 7);
  return hmax(F4(lo > hi ? lo : hi));
}
DSTC_INLINE float hmax(const F16& v) {
  F8 lo = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  F8 hi = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  return hmax(F8(lo > hi ? lo : hi));
}

// Pairwise sums (kMax: maxima) of adjacent lanes of a and b: [a0+a1, a2+a3, ..., b0+b1,
// b2+b3, ...]. The maxima are of numbers (the callers' running maxima never hold NaN).
template <bool kMax, class V, size_t... I>
DSTC_INLINE void pair_reduce(const V& a, const V& b, V& out, std::index_sequence<I...>) {
  const V even = __builtin_shufflevector(a, b, (2 * I)...);
  const V odd = __builtin_shufflevector(a, b, (2 * I + 1)...);
  if constexpr (kMax)
    out = even > odd ? even : odd;
  else
    out = even + odd;
}

// Horizontal sums (kMax: maxima) of N vectors (N a power of two) at once, log2(lanes) levels
// of pair_reduce instead of one reduction per vector: afterwards the lane sum of input i is
// lane i % lanes of v[i / lanes].
template <class V, int N, bool kMax = false, int kLevel = 1>
DSTC_INLINE void reduce_lanes(V* v) {
  if constexpr (kLevel < lanes<V>()) {
    constexpr auto seq = std::make_index_sequence<lanes<V>()>();
    if constexpr (N > 1) {
#pragma GCC unroll 16
      for (int j = 0; j < N / 2; ++j) pair_reduce<kMax>(v[2 * j], v[2 * j + 1], v[j], seq);
      reduce_lanes<V, N / 2, kMax, kLevel * 2>(v);
    } else {
      pair_reduce<kMax>(v[0], v[0], v[0], seq);
      reduce_lanes<V, 1, kMax, kLevel * 2>(v);
    }
  }
}

constexpr int pow2_ceil(int n) { return n <= 1 ? 1 : 2 * pow2_ceil((n + 1) / 2); }

// kRows weight rows times kBatch input rows: every weight vector loaded once feeds kBatch
// FMAs; kRows*kBatch independent accumulators hide the FMA latency. The next block's weight
// rows are prefetched: at batch 1 the step is bound by how fast weights stream from memory.
template <class V, int kRows, int kBatch>
DSTC_INLINE void linear_block(const float* x, int64_t in, const float* w, const float* bias,
                              float* y, int64_t ldy, bool accumulate) {
  constexpr int L = lanes<V>();
  constexpr int N = kRows * kBatch, P = pow2_ceil(N);
  V acc[P];  // acc[r * kBatch + b]
#pragma GCC unroll 16
  for (int j = 0; j < P; ++j) acc[j] = V{};
  int64_t i = 0;
  for (; i + L <= in; i += L) {
    V xv[kBatch];
#pragma GCC unroll 16
    for (int b = 0; b < kBatch; ++b) load(xv[b], x + b * in + i);
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
      __builtin_prefetch(w + (r + kRows) * in + i);
      V wv;
      load(wv, w + r * in + i);
#pragma GCC unroll 16
      for (int b = 0; b < kBatch; ++b) acc[r * kBatch + b] += wv * xv[b];
    }
  }
  reduce_lanes<V, P>(acc);
#pragma GCC unroll 16
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 16
    for (int b = 0; b < kBatch; ++b) {
      const int j = r * kBatch + b;
      float s = acc[j / L][j % L];
      for (int64_t k = i; k < in; ++k) s += w[r * in + k] * x[b * in + k];
      if (bias != nullptr) s += bias[r];
      float& out = y[b * ldy + r];
      out = accumulate ? out + s : s;
    }
}

template <class V, int kRows, int kMaxBatch>
DSTC_INLINE void linear_rows(const float* x, int64_t batch, int64_t in, const float* w,
                             const float* bias, float* y, int64_t ldy, bool accumulate) {
  int64_t b = 0;
  for (; b + kMaxBatch <= batch; b += kMaxBatch)
    linear_block<V, kRows, kMaxBatch>(x + b * in, in, w, bias, y + b * ldy, ldy, accumulate);
  const int64_t rest = batch - b;
  x += b * in;
  y += b * ldy;
  if constexpr (kMaxBatch >= 4) {
    if (rest == 3) linear_block<V, kRows, 3>(x, in, w, bias, y, ldy, accumulate);
  }
  if constexpr (kMaxBatch >= 3) {
    if (rest == 2) linear_block<V, kRows, 2>(x, in, w, bias, y, ldy, accumulate);
  }
  if constexpr (kMaxBatch >= 2) {
    if (rest == 1) linear_block<V, kRows, 1>(x, in, w, bias, y, ldy, accumulate);
  }
}

// Batches of kPanel rows and more: a weight row loaded once and used for one dot product per
// batch row leaves each product a horizontal reduction, which at S's 128 inputs costs about
// as much as the products themselves. Instead the batch runs along the vector: x^T in panels
// of kPanel rows, xt[(p * in + i) * kPanel + j] = x[(p * kPanel + j) * in + i], and for each
// input i one broadcast weight times one x^T vector (kPanel batch rows) accumulates into the
// row's accumulator. kRows weight rows share each x^T load; the sums run over i in order.
//
// kIn > 0: the input size as a constant (kIn == in), so that the weight rows are one pointer
// plus constant offsets: with a run-time row stride GCC addresses them base + index, which
// costs an extra micro-op per FMA (about 20% at S's lm_head).
template <class V, int kRows, int64_t kIn = 0>
DSTC_INLINE void linear_panel_block(const float* xt, int64_t in_, const float* w, const float* bias,
                                    float* y, int64_t ldy, bool accumulate) {
  constexpr int L = lanes<V>(), K = kPanel / L;
  const int64_t in = kIn > 0 ? kIn : in_;
  V acc[kRows][K];
#pragma GCC unroll 16
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) acc[r][k] = V{};
  if constexpr (kIn > 0) {
    for (int64_t i0 = 0; i0 < in; i0 += 16) {
      // One cache line of each of the next block's weight rows per 16 inputs.
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) __builtin_prefetch(w + (r + kRows) * in + i0);
      const int64_t i1 = i0 + 16 < in ? i0 + 16 : in;
      const float* wp = w + i0;
      const float* xp = xt + i0 * kPanel;
      for (int64_t i = i0; i < i1; ++i, ++wp, xp += kPanel) {
        V xv[K];
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) load(xv[k], xp + k * L);
#pragma GCC unroll 16
        for (int r = 0; r < kRows; ++r) {
          const float wr = wp[r * kIn];
#pragma GCC unroll 4
          for (int k = 0; k < K; ++k) acc[r][k] += wr * xv[k];
        }
      }
    }
  } else {
    // Row r is read through base[r / 3] at offset (r % 3) * in: x86 addresses base + in * 4
    // or in * 8, so 16 rows need 6 pointers (one per row would spill to the stack).
    constexpr int kBases = (kRows + 2) / 3;
    const float* base[kBases];
#pragma GCC unroll 8
    for (int k = 0; k < kBases; ++k) base[k] = w + 3 * k * in;
    for (int64_t i0 = 0; i0 < in; i0 += 16) {
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) __builtin_prefetch(w + (r + kRows) * in + i0);
      const int64_t i1 = i0 + 16 < in ? i0 + 16 : in;
      for (int64_t i = i0; i < i1; ++i) {
        V xv[K];
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) load(xv[k], xt + i * kPanel + k * L);
#pragma GCC unroll 16
        for (int r = 0; r < kRows; ++r) {
          const float wr = base[r / 3][(r % 3) * in];
#pragma GCC unroll 4
          for (int k = 0; k < K; ++k) acc[r][k] += wr * xv[k];
        }
#pragma GCC unroll 8
        for (int k = 0; k < kBases; ++k) ++base[k];
      }
    }
  }
  if constexpr (K == 1 && kRows == L) {
    store_tile<V>(&acc[0][0], bias, y, ldy, accumulate);
  } else {
    float tmp[kRows][kPanel];
    __builtin_memcpy(tmp, acc, sizeof(tmp));
    store_scalars(&tmp[0][0], kPanel, 1, kRows, kPanel, bias, y, ldy, accumulate);
  }
}

// Rows [o_begin, o_end) for the batch rows of one panel of x^T.
template <class V>
DSTC_INLINE void linear_panel(const float* xt, int64_t in, const float* w, const float* bias,
                              int64_t o_begin, int64_t o_end, float* y, int64_t ldy,
                              bool accumulate) {
  // AVX-512: a 16x16 tile transposed in registers; narrower vectors hold a panel row in
  // several registers, so fewer weight rows fit (16 registers).
  constexpr int kRows = lanes<V>() == kPanel ? kPanel : 4;
  int64_t o = o_begin;
  auto blocks = [&]<int64_t kIn>() {
    for (; o + kRows <= o_end; o += kRows)
      linear_panel_block<V, kRows, kIn>(xt, in, w + o * in, bias ? bias + o : nullptr, y + o, ldy,
                                        accumulate);
  };
  // Common hidden sizes (the lm_head and the attention and MLP inputs) get constant strides.
  switch (in) {
    case 128:
      blocks.template operator()<128>();
      break;
    case 256:
      blocks.template operator()<256>();
      break;
    case 512:
      blocks.template operator()<512>();
      break;
    case 768:
      blocks.template operator()<768>();
      break;
    case 1024:
      blocks.template operator()<1024>();
      break;
    case 1536:
      blocks.template operator()<1536>();
      break;
    case 2048:
      blocks.template operator()<2048>();
      break;
    default:
      blocks.template operator()<0>();
  }
  if constexpr (kRows > 4) {
    for (; o + 4 <= o_end; o += 4)
      linear_panel_block<V, 4>(xt, in, w + o * in, bias ? bias + o : nullptr, y + o, ldy,
                               accumulate);
  }
  for (; o < o_end; ++o)
    linear_panel_block<V, 1>(xt, in, w + o * in, bias ? bias + o : nullptr, y + o, ldy, accumulate);
}

template <class V, int kMaxBatch>
DSTC_INLINE void linear_impl(const float* x, const float* xt, int64_t batch, int64_t in,
                             const float* w, const float* bias, int64_t o_begin, int64_t o_end,
                             float* y, int64_t ldy, bool accumulate) {
  const int64_t panels = batch / kPanel;
  if (panels > 0) {
    if (xt == nullptr) {
      thread_local std::vector<float> buf;
      buf.resize(panels * kPanel * in);
      transpose_panels(x, batch, in, buf.data());
      xt = buf.data();
    }
    // Blocks of rows small enough to stay in L1 while every panel uses them.
    constexpr int64_t kBlock = 64;
    for (int64_t o0 = o_begin; o0 < o_end; o0 += kBlock) {
      const int64_t o1 = o0 + kBlock < o_end ? o0 + kBlock : o_end;
      for (int64_t p = 0; p < panels; ++p)
        linear_panel<V>(xt + p * kPanel * in, in, w, bias, o0, o1, y + p * kPanel * ldy, ldy,
                        accumulate);
    }
    const int64_t done = panels * kPanel;
    x += done * in;
    y += done * ldy;
    batch -= done;
    if (batch == 0) return;
  }
  int64_t o = o_begin;
  for (; o + 4 <= o_end; o += 4)
    linear_rows<V, 4, kMaxBatch>(x, batch, in, w + o * in, bias ? bias + o : nullptr, y + o, ldy,
                                 accumulate);
  for (; o < o_end; ++o)
    linear_rows<V, 1, kMaxBatch>(x, batch, in, w + o * in, bias ? bias + o : nullptr, y + o, ldy,
                                 accumulate);
}

// Even and odd slots go to separate sums, two vectors of columns at a time: four independent
// multiply-add chains where one chain waited for the previous slot (at S's 32-dim heads and a
// few dozen slots, the chain's latency was most of the call).
template <class V>
DSTC_INLINE void weighted_rows_impl(const float* p, int64_t n, const float* v, int64_t ldv,
                                    int64_t d, float* out) {
  constexpr int L = lanes<V>();
  int64_t j = 0;
  for (; j + L <= d; j += 2 * L) {
    const int K = j + 2 * L <= d ? 2 : 1;  // vectors of columns in this pass
    V even[2] = {}, odd[2] = {};
    int64_t s = 0;
    for (; s + 2 <= n; s += 2)
      for (int k = 0; k < K; ++k) {
        V v0, v1;
        load(v0, v + s * ldv + j + k * L);
        load(v1, v + (s + 1) * ldv + j + k * L);
        even[k] += p[s] * v0;
        odd[k] += p[s + 1] * v1;
      }
    for (int k = 0; k < K; ++k) {
      if (s < n) {
        V v0;
        load(v0, v + s * ldv + j + k * L);
        even[k] += p[s] * v0;
      }
      const V sum = even[k] + odd[k];
      __builtin_memcpy(out + j + k * L, &sum, sizeof(V));
    }
  }
  for (j = d / L * L; j < d; ++j) {
    float acc = 0;
    for (int64_t s = 0; s < n; ++s) acc += p[s] * v[s * ldv + j];
    out[j] = acc;
  }
}

template <class V>
DSTC_INLINE float max_value_impl(const float* x, int64_t n) {
  constexpr int L = lanes<V>();
  const float lowest = -std::numeric_limits<float>::infinity();
  // Four running maxima: one would make every step wait for the previous compare (the
  // sampler calls this on every row's 32000+ logits).
  V m[4];
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < L; ++l) m[k][l] = lowest;
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L)
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      V v;
      load(v, x + i + k * L);
      m[k] = v > m[k] ? v : m[k];  // NaN compares false: ignored
    }
  for (; i + L <= n; i += L) {
    V v;
    load(v, x + i);
    m[0] = v > m[0] ? v : m[0];
  }
  const V m01 = m[0] > m[1] ? m[0] : m[1], m23 = m[2] > m[3] ? m[2] : m[3];
  float best = hmax(V(m01 > m23 ? m01 : m23));
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

template <class V>
DSTC_INLINE void silu_mul_impl(float* gate, const float* up, int64_t n) {
  constexpr int L = lanes<V>();
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    V g, u, e;
    load(g, gate + i);
    load(u, up + i);
    exp_vec<V>(-g, e);
    const V s = g / (1.0f + e) * u;
    __builtin_memcpy(gate + i, &s, sizeof(V));
  }
  for (; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

// Attention rows are short (a few dozen slots): the last partial vector goes through the
// vector path too, padded with -inf (weight 0), instead of element by element.
template <class V>
DSTC_INLINE void softmax_impl(float* x, int64_t n) {
  constexpr int L = lanes<V>();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const int64_t full = n / L * L, rest = n - full;
  V tail = V{} + neg_inf;
  __builtin_memcpy(&tail, x + full, rest * sizeof(float));
  V mv = tail;
  for (int64_t i = 0; i < full; i += L) {
    V v;
    load(v, x + i);
    mv = v > mv ? v : mv;
  }
  const float mx = hmax(mv);
  V sum{}, e;
  for (int64_t i = 0; i < full; i += L) {
    V v;
    load(v, x + i);
    exp_vec<V>(v - mx, e);
    __builtin_memcpy(x + i, &e, sizeof(V));
    sum += e;
  }
  exp_vec<V>(tail - mx, tail);
  sum += tail;
  const float inv = 1.0f / hsum(sum);
  for (int64_t i = 0; i < full; i += L) {
    V v;
    load(v, x + i);
    v *= inv;
    __builtin_memcpy(x + i, &v, sizeof(V));
  }
  tail *= inv;
  __builtin_memcpy(x + full, &tail, rest * sizeof(float));
}

DSTC_AVX512 void linear_avx512(const float* x, const float* xt, int64_t batch, int64_t in,
                               const float* w, const float* bias, int64_t o_begin, int64_t o_end,
                               float* y, int64_t ldy, bool accumulate) {
  linear_impl<F16, 4>(x, xt, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}
DSTC_AVX2 void linear_avx2(const float* x, const float* xt, int64_t batch, int64_t in,
                           const float* w, const float* bias, int64_t o_begin, int64_t o_end,
                           float* y, int64_t ldy, bool accumulate) {
  linear_impl<F8, 2>(x, xt, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}
void linear_baseline(const float* x, const float* xt, int64_t batch, int64_t in, const float* w,
                     const float* bias, int64_t o_begin, int64_t o_end, float* y, int64_t ldy,
                     bool accumulate) {
  linear_impl<F4, 2>(x, xt, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}

DSTC_AVX512 void weighted_rows_avx512(const float* p, int64_t n, const float* v, int64_t ldv,
                                      int64_t d, float* out) {
  weighted_rows_impl<F16>(p, n, v, ldv, d, out);
}
DSTC_AVX2 void weighted_rows_avx2(const float* p, int64_t n, const float* v, int64_t ldv, int64_t d,
                                  float* out) {
  weighted_rows_impl<F8>(p, n, v, ldv, d, out);
}
void weighted_rows_baseline(const float* p, int64_t n, const float* v, int64_t ldv, int64_t d,
                            float* out) {
  weighted_rows_impl<F4>(p, n, v, ldv, d, out);
}

DSTC_AVX512 float max_value_avx512(const float* x, int64_t n) { return max_value_impl<F16>(x, n); }
DSTC_AVX2 float max_value_avx2(const float* x, int64_t n) { return max_value_impl<F8>(x, n); }
float max_value_baseline(const float* x, int64_t n) { return max_value_impl<F4>(x, n); }

// Blocks of whole vectors go lanes-many at a time: a running maximum per block (NaN never
// enters it), then one transposed reduction for all of them (reduce_lanes) instead of a
// horizontal maximum per block. The sampler's blocks of 64 (4 AVX-512 vectors) took 40 us for
// a batch of 16 rows of 32000 logits in L2 one block at a time.
template <class V>
DSTC_INLINE void block_max_impl(const float* x, int64_t n, int64_t block, float* out) {
  constexpr int L = lanes<V>();
  int64_t k = 0;
  if (block % L == 0)
    for (; (k + L) * block <= n; k += L) {
      V m[L];
#pragma GCC unroll 16
      for (int j = 0; j < L; ++j) {
        for (int l = 0; l < L; ++l) m[j][l] = -std::numeric_limits<float>::infinity();
        const float* xb = x + (k + j) * block;
        for (int64_t i = 0; i < block; i += L) {
          V v;
          load(v, xb + i);
          m[j] = v > m[j] ? v : m[j];  // NaN compares false: ignored
        }
      }
      reduce_lanes<V, L, true>(m);
      __builtin_memcpy(out + k, &m[0], sizeof(V));
    }
  for (; k * block < n; ++k)
    out[k] = max_value_impl<V>(x + k * block, n - k * block < block ? n - k * block : block);
}

DSTC_AVX512 void block_max_avx512(const float* x, int64_t n, int64_t block, float* out) {
  block_max_impl<F16>(x, n, block, out);
}
DSTC_AVX2 void block_max_avx2(const float* x, int64_t n, int64_t block, float* out) {
  block_max_impl<F8>(x, n, block, out);
}
void block_max_baseline(const float* x, int64_t n, int64_t block, float* out) {
  block_max_impl<F4>(x, n, block, out);
}

DSTC_AVX512 void silu_mul_avx512(float* gate, const float* up, int64_t n) {
  silu_mul_impl<F16>(gate, up, n);
}
DSTC_AVX2 void silu_mul_avx2(float* gate, const float* up, int64_t n) {
  silu_mul_impl<F8>(gate, up, n);
}
void silu_mul_baseline(float* gate, const float* up, int64_t n) { silu_mul_impl<F4>(gate, up, n); }

DSTC_AVX512 void softmax_avx512(float* x, int64_t n) { softmax_impl<F16>(x, n); }
DSTC_AVX2 void softmax_avx2(float* x, int64_t n) { softmax_impl<F8>(x, n); }
void softmax_baseline(float* x, int64_t n) { softmax_impl<F4>(x, n); }

// transpose_panels for inputs [from, in) of every panel, element by element.
void transpose_panels_scalar(const float* x, int64_t batch, int64_t in, float* xt, int64_t from) {
  for (int64_t p = 0; p < batch / kPanel; ++p)
    for (int64_t j = 0; j < kPanel; ++j) {
      const float* row = x + (p * kPanel + j) * in;
      float* col = xt + p * kPanel * in + j;
      for (int64_t i = from; i < in; ++i) col[i * kPanel] = row[i];
    }
}

// 16 x 16 tiles transposed in registers (a panel is 16 rows: one AVX-512 vector per input),
// the inputs past the last whole tile element by element. A batch-16 decode step transposes
// 4 inputs per layer: 0.33 us instead of 0.64 for 128 inputs, 0.84 instead of 1.6 for 344.
DSTC_AVX512 void transpose_panels_avx512(const float* x, int64_t batch, int64_t in, float* xt) {
  static_assert(kPanel == 16);
  const int64_t tiles = in / 16 * 16;
  for (int64_t p = 0; p < batch / kPanel; ++p)
    for (int64_t i = 0; i < tiles; i += 16) {
      F16 v[16];
      for (int j = 0; j < 16; ++j) load(v[j], x + (p * kPanel + j) * in + i);
      transpose<F16>(v);
      for (int k = 0; k < 16; ++k)
        __builtin_memcpy(xt + (p * in + i + k) * kPanel, &v[k], sizeof(F16));
    }
  transpose_panels_scalar(x, batch, in, xt, tiles);
}

Isa detect() {
  __builtin_cpu_init();
  Isa best = Isa::kBaseline;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::kAvx2;
  if (best == Isa::kAvx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
    best = Isa::kAvx512;
  if (const char* force = std::getenv("DSTC_CPU_ISA")) {
    if (std::strcmp(force, "baseline") == 0) best = Isa::kBaseline;
    if (std::strcmp(force, "avx2") == 0 && best == Isa::kAvx512) best = Isa::kAvx2;
  }
  return best;
}

}  // namespace

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kBaseline:
      break;
  }
  return "baseline";
}

void transpose_panels(const float* x, int64_t batch, int64_t in, float* xt) {
  if (detected_isa() == Isa::kAvx512) return transpose_panels_avx512(x, batch, in, xt);
  transpose_panels_scalar(x, batch, in, xt, 0);
}

void linear(const float* x, int64_t batch, int64_t in, const float* w, const float* bias,
            int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate,
            const float* xt) {
  linear(detected_isa(), x, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate, xt);
}

void linear(Isa isa, const float* x, int64_t batch, int64_t in, const float* w, const float* bias,
            int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate,
            const float* xt) {
  dispatch(isa, linear_avx512, linear_avx2, linear_baseline, x, xt, batch, in, w, bias, o_begin,
           o_end, y, ldy, accumulate);
}

void weighted_rows(const float* p, int64_t n, const float* v, int64_t ldv, int64_t d, float* out) {
  weighted_rows(detected_isa(), p, n, v, ldv, d, out);
}

void weighted_rows(Isa isa, const float* p, int64_t n, const float* v, int64_t ldv, int64_t d,
                   float* out) {
  dispatch(isa, weighted_rows_avx512, weighted_rows_avx2, weighted_rows_baseline, p, n, v, ldv, d,
           out);
}

float max_value(const float* x, int64_t n) { return max_value(detected_isa(), x, n); }

float max_value(Isa isa, const float* x, int64_t n) {
  return dispatch(isa, max_value_avx512, max_value_avx2, max_value_baseline, x, n);
}

void block_max(const float* x, int64_t n, int64_t block, float* out) {
  block_max(detected_isa(), x, n, block, out);
}

void block_max(Isa isa, const float* x, int64_t n, int64_t block, float* out) {
  dispatch(isa, block_max_avx512, block_max_avx2, block_max_baseline, x, n, block, out);
}

void silu_mul(float* gate, const float* up, int64_t n) { silu_mul(detected_isa(), gate, up, n); }

void silu_mul(Isa isa, float* gate, const float* up, int64_t n) {
  dispatch(isa, silu_mul_avx512, silu_mul_avx2, silu_mul_baseline, gate, up, n);
}

void softmax(float* x, int64_t n) { softmax(detected_isa(), x, n); }

void softmax(Isa isa, float* x, int64_t n) {
  dispatch(isa, softmax_avx512, softmax_avx2, softmax_baseline, x, n);
}

}  // namespace dstc::generator::cpu
