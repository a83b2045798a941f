#include "generator/cpu_packed.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "generator/cpu_simd.h"

// Like generator/cpu_kernels.cpp: always-inline templates over the vector type, instantiated
// in three entry points with the AVX-512, AVX2+FMA and baseline target attributes.
namespace dstc::generator::cpu {

static_assert(kRowBlock == kPanel, "a block is packed as one panel of transpose_panels");

void PackedRows::Free::operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }

PackedRows::PackedRows(const float* w, int64_t out, int64_t in) : out_(out), in_(in) {
  data_.reset(static_cast<float*>(::operator new[](size() * sizeof(float), std::align_val_t{64})));
  // Whole blocks are transpose_panels' layout: kRowBlock rows of w as one panel.
  const int64_t whole = out / kRowBlock * kRowBlock;
  transpose_panels(w, whole, in, data_.get());
  if (whole < out) {
    float* last = data_.get() + whole * in;
    std::memset(last, 0, kRowBlock * in * sizeof(float));
    for (int64_t r = 0; r < out - whole; ++r)
      for (int64_t i = 0; i < in; ++i) last[i * kRowBlock + r] = w[(whole + r) * in + i];
  }
}

namespace {

// Prefetches for the weight line at p, the stream's next lines: into L1 32 lines (2 KB) ahead,
// into L2 256 lines (16 KB) ahead. The stream is consumed at compute speed and the hardware
// prefetchers alone fall behind: on S's output layer at batch 16 (16 MB, in L3) no prefetch
// took 1.23 ms, L1 alone at 8 KB 0.92, these two 0.80-0.82 (cpu::linear: 0.92-0.98); L2 at
// 8-64 KB or L1 at 1-4 KB changed little.
DSTC_INLINE void prefetch_stream(const float* p) {
  __builtin_prefetch(p + 32 * kRowBlock, 0, 3);
  __builtin_prefetch(p + 256 * kRowBlock, 0, 1);
}

// One block of rows times one panel of kPanel batch rows (xt: the panel of x^T): for each
// input, the row's broadcast weight times the panel's vector of x^T. `rows` of the block are
// stored (the rest belong to the next caller or are padding).
template <class V>
DSTC_INLINE void panel_block(const float* xt, int64_t in, const float* wb, bool prefetch,
                             int64_t rows, const float* bias, float* y, int64_t ldy,
                             bool accumulate) {
  constexpr int L = lanes<V>(), K = kPanel / L;
  // AVX-512 holds the whole block (16 accumulators of 32 registers); narrower vectors need K
  // registers per panel row and take 4 of the block's rows per pass (from L1 after the first).
  constexpr int kSub = L == kRowBlock ? static_cast<int>(kRowBlock) : 4;
  for (int s = 0; s < rows; s += kSub) {
    V acc[kSub][K];
#pragma GCC unroll 16
    for (int r = 0; r < kSub; ++r)
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) acc[r][k] = V{};
    const float* wi = wb + s;
    const float* xi = xt;
    for (int64_t i = 0; i < in; ++i, wi += kRowBlock, xi += kPanel) {
      if (prefetch && s == 0) prefetch_stream(wi);
      // An opaque copy of the pointer: GCC otherwise addresses the weights from the
      // prefetch's induction variable with 4-byte displacements, which makes each FMA 10
      // bytes instead of 7 (~7% on S's output layer).
      asm("" : "+r"(wi));
      V xv[K];
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) load(xv[k], xi + k * L);
#pragma GCC unroll 16
      for (int r = 0; r < kSub; ++r) {
        const float wr = wi[r];
#pragma GCC unroll 4
        for (int k = 0; k < K; ++k) acc[r][k] += wr * xv[k];
      }
    }
    if constexpr (kSub == L && K == 1) {
      if (rows == kRowBlock) {
        store_tile<V>(&acc[0][0], bias, y, ldy, accumulate);
        return;
      }
    }
    float t[kSub][kPanel];
    __builtin_memcpy(t, acc, sizeof(t));
    store_scalars(&t[0][0], kPanel, 1, std::min<int64_t>(kSub, rows - s), kPanel,
                  bias ? bias + s : nullptr, y + s, ldy, accumulate);
  }
}

// kNb consecutive blocks of rows times kB batch rows (fewer than a panel) given
// input-major, xr[i * kB + b] = x[b * in + i]: for each input, each block's weights as K
// vectors times each row's broadcast input. Several blocks at once for a few batch rows:
// with one block and one row, each input's multiply-add waited for the previous one (4
// cycles), slower than L2 delivers S's layers. `rows` of the block are stored; several
// blocks are whole.
template <class V, int kB, int kNb>
DSTC_INLINE void rows_block(const float* xr, int64_t in, const float* wb, bool prefetch,
                            int64_t rows, const float* bias, float* y, int64_t ldy,
                            bool accumulate) {
  constexpr int L = lanes<V>(), K = kRowBlock / L;
  V acc[kB][kNb * K];
#pragma GCC unroll 16
  for (int b = 0; b < kB; ++b)
#pragma GCC unroll 16
    for (int k = 0; k < kNb * K; ++k) acc[b][k] = V{};
  const float* wi[kNb];
#pragma GCC unroll 4
  for (int n = 0; n < kNb; ++n) wi[n] = wb + n * in * kRowBlock;
  const float* xi = xr;
  for (int64_t i = 0; i < in; ++i, xi += kB) {
    V wv[kNb * K];
#pragma GCC unroll 4
    for (int n = 0; n < kNb; ++n) {
      if (prefetch) prefetch_stream(wi[n]);
      asm("" : "+r"(wi[n]));  // as in panel_block
#pragma GCC unroll 4
      for (int k = 0; k < K; ++k) load(wv[n * K + k], wi[n] + k * L);
      wi[n] += kRowBlock;
    }
    asm("" : "+r"(xi));
#pragma GCC unroll 16
    for (int b = 0; b < kB; ++b) {
      const float xb = xi[b];
#pragma GCC unroll 16
      for (int k = 0; k < kNb * K; ++k) acc[b][k] += xb * wv[k];
    }
  }
  if constexpr (kNb == 1) {
    if (rows < kRowBlock) {
      float t[kB][kRowBlock];
      __builtin_memcpy(t, acc, sizeof(t));
      store_scalars(&t[0][0], 1, kRowBlock, rows, kB, bias, y, ldy, accumulate);
      return;
    }
  }
#pragma GCC unroll 16
  for (int b = 0; b < kB; ++b)
#pragma GCC unroll 16
    for (int k = 0; k < kNb * K; ++k)
      store_outputs(acc[b][k], bias ? bias + k * L : nullptr, y + b * ldy + k * L, accumulate);
}

// rows_block for n (1 <= n <= kB) batch rows.
template <class V, int kB, int kNb>
DSTC_INLINE void rows_any(int64_t n, const float* xr, int64_t in, const float* wb, bool prefetch,
                          int64_t rows, const float* bias, float* y, int64_t ldy, bool accumulate) {
  if constexpr (kB > 1) {
    if (n < kB)
      return rows_any<V, kB - 1, kNb>(n, xr, in, wb, prefetch, rows, bias, y, ldy, accumulate);
  }
  rows_block<V, kB, kNb>(xr, in, wb, prefetch, rows, bias, y, ldy, accumulate);
}

template <class V>
DSTC_INLINE void linear_packed_impl(const float* x, const float* xt, int64_t batch, int64_t in,
                                    const float* w, const float* bias, int64_t o_begin,
                                    int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  constexpr int L = lanes<V>(), K = kRowBlock / L;
  // Batch rows per pass outside the panels: as many accumulators as the registers hold
  // beside the block's K weight vectors (32 registers with AVX-512, 16 otherwise). Up to
  // kMaxSmallB rows with no panel take kNbSmall blocks per pass (rows_block).
  constexpr int kRegs = L == 16 ? 31 : 15;
  constexpr int kMaxB = std::min<int>(kPanel - 1, (kRegs - K) / K);
  constexpr int kNbSmall = L == 16 ? 4 : L == 8 ? 2 : 1;
  constexpr int kMaxSmallB = (kRegs - kNbSmall * K) / (kNbSmall * K);
  const int64_t panels = batch / kPanel, rest = batch - panels * kPanel;
  if (panels > 0 && xt == nullptr) {
    thread_local std::vector<float> buf;
    buf.resize(panels * kPanel * in);
    transpose_panels(x, batch, in, buf.data());
    xt = buf.data();
  }
  // The rows outside the panels input-major, a group of up to kMaxB rows after another
  // (rows_block): read from one pointer, a broadcast input is one short FMA operand. One row
  // is its own input-major copy.
  const float* xr = x + panels * kPanel * in;
  if (rest > 1) {
    thread_local std::vector<float> buf;
    buf.resize(rest * in);
    for (int64_t g = 0; g < rest; g += kMaxB) {
      const int64_t n = std::min<int64_t>(kMaxB, rest - g);
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < in; ++i) buf[g * in + i * n + b] = xr[(g + b) * in + i];
    }
    xr = buf.data();
  }
  int64_t o = o_begin;
  if constexpr (kNbSmall > 1) {
    if (panels == 0 && rest > 0 && rest <= kMaxSmallB)
      for (; o + kNbSmall * kRowBlock <= o_end; o += kNbSmall * kRowBlock)
        rows_any<V, kMaxSmallB, kNbSmall>(rest, xr, in, w + o * in, true, kRowBlock,
                                          bias ? bias + o : nullptr, y + o, ldy, accumulate);
  }
  for (; o < o_end; o += kRowBlock) {
    const float* wb = w + o * in;
    const int64_t rows = std::min(kRowBlock, o_end - o);
    const float* bo = bias ? bias + o : nullptr;
    bool prefetch = true;  // the block's first pass prefetches the stream ahead
    for (int64_t p = 0; p < panels; ++p, prefetch = false)
      panel_block<V>(xt + p * kPanel * in, in, wb, prefetch, rows, bo, y + p * kPanel * ldy + o,
                     ldy, accumulate);
    for (int64_t g = 0; g < rest; g += kMaxB, prefetch = false)
      rows_any<V, kMaxB, 1>(std::min<int64_t>(kMaxB, rest - g), xr + g * in, in, wb, prefetch, rows,
                            bo, y + (panels * kPanel + g) * ldy + o, ldy, accumulate);
  }
}

DSTC_AVX512 void linear_packed_avx512(const float* x, const float* xt, int64_t batch, int64_t in,
                                      const float* w, const float* bias, int64_t o_begin,
                                      int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  linear_packed_impl<F16>(x, xt, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}
DSTC_AVX2 void linear_packed_avx2(const float* x, const float* xt, int64_t batch, int64_t in,
                                  const float* w, const float* bias, int64_t o_begin, int64_t o_end,
                                  float* y, int64_t ldy, bool accumulate) {
  linear_packed_impl<F8>(x, xt, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}
void linear_packed_baseline(const float* x, const float* xt, int64_t batch, int64_t in,
                            const float* w, const float* bias, int64_t o_begin, int64_t o_end,
                            float* y, int64_t ldy, bool accumulate) {
  linear_packed_impl<F4>(x, xt, batch, in, w, bias, o_begin, o_end, y, ldy, accumulate);
}

}  // namespace

void linear_packed(const float* x, int64_t batch, const PackedRows& w, const float* bias,
                   int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate,
                   const float* xt) {
  linear_packed(detected_isa(), x, batch, w, bias, o_begin, o_end, y, ldy, accumulate, xt);
}

void linear_packed(Isa isa, const float* x, int64_t batch, const PackedRows& w, const float* bias,
                   int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate,
                   const float* xt) {
  dispatch(isa, linear_packed_avx512, linear_packed_avx2, linear_packed_baseline, x, xt, batch,
           w.in(), w.data(), bias, o_begin, o_end, y, ldy, accumulate);
}

}  // namespace dstc::generator::cpu
