// Hand-written fp32 CPU kernels for inference-only decoding (generator/cpu_decode.h) and
// the host sampler (generator/sampling.h). Torch-free and single-threaded: callers split the
// work (rows) between threads. Built with -ffp-contract=fast (FMA where the target has it).
//
// One portable source is compiled three times with GCC vector extensions (16-, 8- and
// 4-float vectors) under target attributes for AVX-512, AVX2+FMA and the x86-64 baseline; the
// widest the CPU supports is picked once at start-up. Batch-1 decoding is bound by the speed
// at which the weights stream from memory, so the kernels read every weight row exactly once
// per call and use it for all batch rows.
#pragma once

#include <cstdint>

namespace dstc::generator::cpu {

enum class Isa { kBaseline, kAvx2, kAvx512 };
Isa detected_isa();  // detected once; DSTC_CPU_ISA=baseline|avx2 forces a narrower one
const char* isa_name(Isa isa);

// Batch rows per panel of x^T (see linear).
constexpr int64_t kPanel = 16;

// x^T in panels of kPanel batch rows, for linear: for the first batch / kPanel * kPanel rows,
// xt[(p*in + i)*kPanel + j] = x[(p*kPanel + j)*in + i]. xt holds that many times in floats.
void transpose_panels(const float* x, int64_t batch, int64_t in, float* xt);

// A linear layer for output rows [o_begin, o_end) (torch's x @ w^T + bias):
//   y[b*ldy + o] (+)= bias[o] + sum_i w[o*in + i] * x[b*in + i],   b in [0, batch)
// x [batch, in] row-major; w [out, in] row-major (an HF Linear weight); bias [out] or null.
// With accumulate the result is added to y (a residual connection).
// Whole panels of kPanel batch rows run along the vector lanes (a broadcast weight times
// kPanel rows of x^T: no horizontal sums, every weight row read once per panel); the other
// rows take the dot-product kernel. xt: transpose_panels(x, batch, in) when the caller has it
// (callers that split one layer's rows between calls transpose once); null: transposed here.
void linear(const float* x, int64_t batch, int64_t in, const float* w, const float* bias,
            int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate,
            const float* xt = nullptr);

// out[j] = sum_s p[s] * v[s*ldv + j] for j in [0, d): the probability-weighted sum of value
// rows in attention. p [n]; v [n, ldv].
void weighted_rows(const float* p, int64_t n, const float* v, int64_t ldv, int64_t d, float* out);

// Largest value of x [n] (n >= 1), ignoring NaN; -inf when every value is NaN.
float max_value(const float* x, int64_t n);

// out[k] = max_value of block k of x [n]: x[k*block, min(n, (k+1)*block)) (n >= 1).
void block_max(const float* x, int64_t n, int64_t block, float* out);

// gate[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i] for i < n: the
// SwiGLU activation (torch's silu within a few ulp).
void silu_mul(float* gate, const float* up, int64_t n);

// x[i] = exp(x[i] - max) / sum_j exp(x[j] - max) in place for i < n (n >= 1, at least one
// finite value); -inf entries (masked attention slots) get exactly 0.
void softmax(float* x, int64_t n);

// The same kernels built for one Isa, which the CPU must support (tests compare them).
void linear(Isa isa, const float* x, int64_t batch, int64_t in, const float* w, const float* bias,
            int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate,
            const float* xt = nullptr);
void weighted_rows(Isa isa, const float* p, int64_t n, const float* v, int64_t ldv, int64_t d,
                   float* out);
float max_value(Isa isa, const float* x, int64_t n);
void block_max(Isa isa, const float* x, int64_t n, int64_t block, float* out);
void silu_mul(Isa isa, float* gate, const float* up, int64_t n);
void softmax(Isa isa, float* x, int64_t n);

}  // namespace dstc::generator::cpu
