#include "generator/cpu_kernels.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

// Every kernel is an always-inline template over the vector type, instantiated inside three
// entry points with different target attributes (AVX-512, AVX2+FMA, baseline), so one source
// gives three code paths. Vectors never cross a function boundary by value (that would change
// the ABI between targets); the templates take them by reference.
namespace dstc::generator::cpu {

namespace {

typedef float F4 __attribute__((vector_size(16)));
typedef float F8 __attribute__((vector_size(32)));
typedef float F16 __attribute__((vector_size(64)));

#define DSTC_INLINE [[gnu::always_inline]] inline
#define DSTC_AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define DSTC_AVX2 __attribute__((target("avx2,fma")))

template <class V>
constexpr int lanes() {
  return static_cast<int>(sizeof(V) / sizeof(float));
}

template <class V>
DSTC_INLINE void load(V& v, const float* p) {
  __builtin_memcpy(&v, p, sizeof(V));
}

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

// Pairwise sums of adjacent lanes of a and b: [a0+a1, a2+a3, ..., b0+b1, b2+b3, ...].
template <class V, size_t... I>
DSTC_INLINE void pair_sum(const V& a, const V& b, V& out, std::index_sequence<I...>) {
  out = __builtin_shufflevector(a, b, (2 * I)...) + __builtin_shufflevector(a, b, (2 * I + 1)...);
}

// Horizontal sums of N vectors (N a power of two) at once, log2(lanes) levels of pair_sum
// instead of one reduction per vector: afterwards the lane sum of input i is lane i % lanes
// of v[i / lanes].
template <class V, int N, int kLevel = 1>
DSTC_INLINE void reduce_lanes(V* v) {
  if constexpr (kLevel < lanes<V>()) {
    constexpr auto seq = std::make_index_sequence<lanes<V>()>();
    if constexpr (N > 1) {
#pragma GCC unroll 16
      for (int j = 0; j < N / 2; ++j) pair_sum(v[2 * j], v[2 * j + 1], v[j], seq);
      reduce_lanes<V, N / 2, kLevel * 2>(v);
    } else {
      pair_sum(v[0], v[0], v[0], seq);
      reduce_lanes<V, 1, kLevel * 2>(v);
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

template <class V, int kMaxBatch>
DSTC_INLINE void linear_impl(const float* x, int64_t batch, int64_t in, const float* w,
                             const float* bias, int64_t o_begin, int64_t o_end, float* y,
                             int64_t ldy, bool accumulate) {
  int64_t o = o_begin;
  for (; o + 4 <= o_end; o += 4)
    linear_rows<V, 4, kMaxBatch>(x, batch, in, w + o * in, bias ? bias + o : nullptr, y + o, ldy,
                                 accumulate);
  for (; o < o_end; ++o)
    linear_rows<V, 1, kMaxBatch>(x, batch, in, w + o * in, bias ? bias + o : nullptr, y + o, ldy,
                                 accumulate);
}

template <class V>
DSTC_INLINE void weighted_rows_impl(const float* p, int64_t n, const float* v, int64_t ldv,
                                    int64_t d, float* out) {
  constexpr int L = lanes<V>();
  int64_t j = 0;
  for (; j + L <= d; j += L) {
    V acc{};
    for (int64_t s = 0; s < n; ++s) {
      V vv;
      load(vv, v + s * ldv + j);
      acc += p[s] * vv;
    }
    __builtin_memcpy(out + j, &acc, sizeof(V));
  }
  for (; j < d; ++j) {
    float acc = 0;
    for (int64_t s = 0; s < n; ++s) acc += p[s] * v[s * ldv + j];
    out[j] = acc;
  }
}

template <class V>
DSTC_INLINE float max_value_impl(const float* x, int64_t n) {
  constexpr int L = lanes<V>();
  const float lowest = -std::numeric_limits<float>::infinity();
  V m;
  for (int l = 0; l < L; ++l) m[l] = lowest;
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    V v;
    load(v, x + i);
    m = v > m ? v : m;  // NaN compares false: ignored
  }
  float best = lowest;
  for (int l = 0; l < L; ++l) best = m[l] > best ? m[l] : best;
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

DSTC_AVX512 void linear_avx512(const float* x, int64_t batch, int64_t in, const float* w,
                               const float* bias, int64_t o_begin, int64_t o_end, float* y,
                               int64_t ldy, bool accumulate) {
  linear_impl<F16, 4>(x, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}
DSTC_AVX2 void linear_avx2(const float* x, int64_t batch, int64_t in, const float* w,
                           const float* bias, int64_t o_begin, int64_t o_end, float* y, int64_t ldy,
                           bool accumulate) {
  linear_impl<F8, 2>(x, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}
void linear_baseline(const float* x, int64_t batch, int64_t in, const float* w, const float* bias,
                     int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  linear_impl<F4, 2>(x, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
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

void linear(const float* x, int64_t batch, int64_t in, const float* w, const float* bias,
            int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  linear(detected_isa(), x, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}

void linear(Isa isa, const float* x, int64_t batch, int64_t in, const float* w, const float* bias,
            int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  switch (isa) {
    case Isa::kAvx512:
      return linear_avx512(x, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
    case Isa::kAvx2:
      return linear_avx2(x, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
    case Isa::kBaseline:
      break;
  }
  linear_baseline(x, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}

void weighted_rows(const float* p, int64_t n, const float* v, int64_t ldv, int64_t d, float* out) {
  weighted_rows(detected_isa(), p, n, v, ldv, d, out);
}

void weighted_rows(Isa isa, const float* p, int64_t n, const float* v, int64_t ldv, int64_t d,
                   float* out) {
  switch (isa) {
    case Isa::kAvx512:
      return weighted_rows_avx512(p, n, v, ldv, d, out);
    case Isa::kAvx2:
      return weighted_rows_avx2(p, n, v, ldv, d, out);
    case Isa::kBaseline:
      break;
  }
  weighted_rows_baseline(p, n, v, ldv, d, out);
}

float max_value(const float* x, int64_t n) { return max_value(detected_isa(), x, n); }

float max_value(Isa isa, const float* x, int64_t n) {
  switch (isa) {
    case Isa::kAvx512:
      return max_value_avx512(x, n);
    case Isa::kAvx2:
      return max_value_avx2(x, n);
    case Isa::kBaseline:
      break;
  }
  return max_value_baseline(x, n);
}

}  // namespace dstc::generator::cpu
