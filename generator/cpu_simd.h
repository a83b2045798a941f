// What the torch-free CPU code shares to build one source for several instruction sets
// (generator/cpu_kernels.cpp, generator/sampling.cpp): GCC vector types of 4, 8 and 16
// floats, the target attributes of the AVX-512 and AVX2+FMA builds, the call of one build by
// Isa, vector loads, an LxL transpose in registers, the linear kernels' output stores, and a
// vectorised exp.
// Everything is inlined into the caller, so that its target attributes apply; vectors are
// taken and returned by reference, because by value they would change the ABI between targets.
//
// exp_vec: Cody-Waite reduction x = n ln2 + r (ln2 split so that n * kLn2Hi is exact), exp(r)
// by its Taylor polynomial to degree 7 (|r| <= ln2/2: relative error ~5e-9, below fp32
// rounding), and n added to the exponent bits, as in Cephes' expf. The polynomial follows
// Estrin's scheme: a dependency chain of 3 multiply-adds instead of Horner's 7 (the sampler's
// loop was bound by latency, not arithmetic). Below -87.3, and for -inf and NaN, the result is
// exactly 0 (2^n stays a normal number above); above 88.7 it is exp(88.7) ~ 3.3e38.
#pragma once

#include <cstdint>
#include <utility>

#include "generator/cpu_kernels.h"

#define DSTC_INLINE [[gnu::always_inline]] inline
#define DSTC_AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define DSTC_AVX2 __attribute__((target("avx2,fma")))

namespace dstc::generator::cpu {

typedef float F4 __attribute__((vector_size(16)));
typedef float F8 __attribute__((vector_size(32)));
typedef float F16 __attribute__((vector_size(64)));

// Calls the build of a kernel for `isa` (the CPU must support it).
template <class Fn, class... Args>
auto dispatch(Isa isa, Fn* avx512, Fn* avx2, Fn* baseline, Args... args) {
  switch (isa) {
    case Isa::kAvx512:
      return avx512(args...);
    case Isa::kAvx2:
      return avx2(args...);
    case Isa::kBaseline:
      break;
  }
  return baseline(args...);
}

template <class V>
constexpr int lanes() {
  return static_cast<int>(sizeof(V) / sizeof(float));
}

template <class V>
DSTC_INLINE void load(V& v, const float* p) {
  __builtin_memcpy(&v, p, sizeof(V));
}

// One butterfly stage of an LxL transpose: rows i and i+S (bit S of i clear) swap the lane
// blocks that differ in bit S, so that element (row, lane) moves to the position with bit S
// of row and lane exchanged.
template <class V, int S, size_t... J>
DSTC_INLINE void transpose_stage(V& a, V& b, std::index_sequence<J...>) {
  constexpr int L = lanes<V>();
  V lo = __builtin_shufflevector(a, b, ((J & S) ? L + J - S : J)...);
  V hi = __builtin_shufflevector(a, b, ((J & S) ? L + J : J + S)...);
  a = lo;
  b = hi;
}
template <class V, int S = 1>
DSTC_INLINE void transpose(V* v) {  // v[L]: v[r][c] -> v[c][r]
  constexpr int L = lanes<V>();
  if constexpr (S < L) {
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i)
      if ((i & S) == 0) transpose_stage<V, S>(v[i], v[i + S], std::make_index_sequence<L>());
    transpose<V, S * 2>(v);
  }
}

// The linear kernels' output stores (generator/cpu_kernels.cpp, generator/cpu_packed.cpp).
// One vector of outputs: y[j] = (accumulate ? y[j] : 0) + (v[j] + bias[j]) for its lanes;
// bias may be null.
template <class V>
DSTC_INLINE void store_outputs(const V& out, const float* bias, float* y, bool accumulate) {
  V v = out;
  if (bias != nullptr) {
    V bv;
    load(bv, bias);
    v = v + bv;
  }
  if (accumulate) {
    V old;
    load(old, y);
    v = old + v;
  }
  __builtin_memcpy(y, &v, sizeof(V));
}

// An L x L tile, acc[r] holding output r for L batch rows, transposed in registers and
// stored: y[b * ldy + r] as store_outputs.
template <class V>
DSTC_INLINE void store_tile(V* acc, const float* bias, float* y, int64_t ldy, bool accumulate) {
  constexpr int L = lanes<V>();
  transpose<V>(acc);
#pragma GCC unroll 16
  for (int b = 0; b < L; ++b) store_outputs(acc[b], bias, y + b * ldy, accumulate);
}

// The same one value at a time: output r < rows for batch row b < batch is t[r * rs + b * bs],
// stored to y[b * ldy + r].
DSTC_INLINE void store_scalars(const float* t, int64_t rs, int64_t bs, int64_t rows, int64_t batch,
                               const float* bias, float* y, int64_t ldy, bool accumulate) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = 0; r < rows; ++r) {
      float s = t[r * rs + b * bs];
      if (bias != nullptr) s += bias[r];
      float& out = y[b * ldy + r];
      out = accumulate ? out + s : s;
    }
}

template <class V>
DSTC_INLINE void exp_vec(const V& x, V& out) {
  typedef int32_t I __attribute__((vector_size(sizeof(V))));
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // 355/512
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kShifter = 0x1.8p23f;  // t + kShifter rounds t to an integer
  constexpr float kLo = -87.3f, kHi = 88.7f;
  const I in_range = x >= kLo;  // false for NaN
  V xc = (V)((I)x & in_range);  // out-of-range lanes become 0, zeroed below
  xc = xc > kHi ? V{} + kHi : xc;
  const V t = xc * kLog2e + kShifter;
  const V n = t - kShifter;
  V r = xc - n * kLn2Hi;
  r = r - n * kLn2Lo;
  const V r2 = r * r;
  const V r4 = r2 * r2;
  const V p01 = r + 1.0f;
  const V p23 = r * (1.0f / 6.0f) + 0.5f;
  const V p45 = r * (1.0f / 120.0f) + 1.0f / 24.0f;
  const V p67 = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
  const V p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
  const V shifter = V{} + kShifter;
  const I scaled = (I)p + (((I)t - (I)shifter) << 23);
  out = (V)(scaled & in_range);
}

}  // namespace dstc::generator::cpu
