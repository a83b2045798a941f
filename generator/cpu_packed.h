// A weight matrix repacked for the CPU decode path's output layer, and the linear kernel
// that reads it (generator/cpu_decode.h). Torch-free; built with -ffp-contract=fast.
//
// Why: at batch 16 the output layer is most of a small model's decode step (S: ~1.0 of
// ~1.45 ms), and its 16 MB of weights stream from L3 while the panel kernel of cpu::linear
// multiplies them. In the HF layout [out, in] a block of 16 output rows is read one input at
// a time across 16 rows 4*in bytes apart: 16 cache lines in flight at once, FMAs with 4-byte
// displacements too long for the decoders, and no sequential stream for the prefetchers.
// Here each block of kRowBlock rows is stored input-major, one 64-byte line per input, so
// the kernel reads one contiguous stream front to back (a software prefetch a fixed distance
// ahead keeps it in L1), and the same line serves every batch size: a broadcast weight per
// row times a panel of 16 batch rows (batch >= 16), or a vector of 16 rows times a broadcast
// input (smaller batches, no horizontal sums). Measured on S's output layer at batch 16,
// weights in L3: 0.885 ms against 1.0 for cpu::linear; with the weights pushed out to
// memory 1.0 against 2.0.
#pragma once

#include <cstdint>
#include <memory>

#include "generator/cpu_kernels.h"

namespace dstc::generator::cpu {

// Output rows per block of a packed weight (one AVX-512 vector, one cache line).
constexpr int64_t kRowBlock = 16;

// A weight [out, in] (row-major, an HF Linear weight) in blocks of kRowBlock rows:
// data()[(k * in + i) * kRowBlock + r] = w[(k * kRowBlock + r) * in + i]; rows past `out` in
// the last block are zero. 64-byte aligned, so that each input's 16 weights are one line.
class PackedRows {
 public:
  PackedRows() = default;
  PackedRows(const float* w, int64_t out, int64_t in);

  int64_t out() const { return out_; }
  int64_t in() const { return in_; }
  const float* data() const { return data_.get(); }
  // Floats held: the rows rounded up to a whole block, times in.
  int64_t size() const { return (out_ + kRowBlock - 1) / kRowBlock * kRowBlock * in_; }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  int64_t out_ = 0, in_ = 0;
  std::unique_ptr<float[], Free> data_;
};

// cpu::linear over a packed weight, for output rows [o_begin, o_end) with o_begin a multiple
// of kRowBlock and o_end <= w.out():
//   y[b*ldy + o] (+)= bias[o] + sum_i w[o*in + i] * x[b*in + i],   b in [0, batch)
// Every output is one multiply-add per input in input order, whatever the batch size and the
// path (panels of kPanel batch rows or the rest), so a row's result does not depend on the
// batch it is computed in. xt: transpose_panels(x, batch, in) when the caller has it; null:
// transposed here.
void linear_packed(const float* x, int64_t batch, const PackedRows& w, const float* bias,
                   int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate,
                   const float* xt = nullptr);
// The same for one Isa, which the CPU must support (tests compare them).
void linear_packed(Isa isa, const float* x, int64_t batch, const PackedRows& w, const float* bias,
                   int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate,
                   const float* xt = nullptr);

}  // namespace dstc::generator::cpu
