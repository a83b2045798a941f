// Weights packed in row blocks and the linear kernel over them (generator/cpu_packed.h): the
// layout, every instruction set against a double-precision reference, and the same bits for
// a row at every batch size and for any split of the output rows. The decoder with and
// without its packed copies: tests/generator/cpu_decode_test.cpp.
#include "generator/cpu_packed.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/generator/test_data.h"

namespace dstc::generator {
namespace {

TEST(CpuPacked, PackedRowsFollowsTheLayout) {
  // Two whole blocks and a rest of 5 rows, zero-padded.
  const int64_t out = 37, in = 7;
  auto w = random_floats(out * in, 1);
  cpu::PackedRows p(w.data(), out, in);
  EXPECT_EQ(p.out(), out);
  EXPECT_EQ(p.in(), in);
  ASSERT_EQ(p.size(), 48 * in);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p.data()) % 64, 0u);
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t r = 0; r < cpu::kRowBlock; ++r) {
        const int64_t row = k * cpu::kRowBlock + r;
        ASSERT_EQ(p.data()[(k * in + i) * cpu::kRowBlock + r], row < out ? w[row * in + i] : 0.0f)
            << k << " " << i << " " << r;
      }
}

TEST(CpuPacked, LinearMatchesReferenceOnEveryIsa) {
  // Sizes off the vector widths and the 16-row blocks (100 outputs: 4 blocks per pass for a
  // few batch rows, then single blocks, the last partial); batches below a panel (one pass of
  // up to 15 rows on AVX-512, 6 on AVX2, 2 on the baseline, and their rests), whole panels,
  // and panels with a rest.
  for (cpu::Isa isa : supported_isas())
    for (int64_t in : {1, 7, 37, 128})
      for (int64_t out : {1, 13, 16, 37, 50, 100})
        for (int64_t batch : {1, 2, 3, 7, 15, 16, 17, 31, 35}) {
          SCOPED_TRACE(std::string(cpu::isa_name(isa)) + " in=" + std::to_string(in) +
                       " out=" + std::to_string(out) + " batch=" + std::to_string(batch));
          auto x = random_floats(batch * in, 1), w = random_floats(out * in, 2);
          auto bias = random_floats(out, 3);
          cpu::PackedRows p(w.data(), out, in);
          const int64_t ldy = out + 3, begin = out > 16 ? 16 : 0;
          auto y = random_floats(batch * ldy, 4);
          auto y0 = y;
          // Rows [begin, out) with bias and accumulate; rows before begin untouched.
          cpu::linear_packed(isa, x.data(), batch, p, bias.data(), begin, out, y.data(), ldy, true);
          for (int64_t b = 0; b < batch; ++b)
            for (int64_t o = 0; o < ldy; ++o) {
              if (o < begin || o >= out) {
                ASSERT_EQ(y[b * ldy + o], y0[b * ldy + o]) << b << " " << o;
                continue;
              }
              double want = y0[b * ldy + o] + bias[o];
              for (int64_t i = 0; i < in; ++i)
                want += static_cast<double>(w[o * in + i]) * x[b * in + i];
              ASSERT_NEAR(y[b * ldy + o], want, 1e-4 * (1 + std::sqrt(in))) << b << " " << o;
            }
          // Without bias or accumulate.
          cpu::linear_packed(isa, x.data(), batch, p, nullptr, 0, out, y.data(), ldy, false);
          for (int64_t b = 0; b < batch; ++b)
            for (int64_t o = 0; o < out; ++o) {
              double want = 0;
              for (int64_t i = 0; i < in; ++i)
                want += static_cast<double>(w[o * in + i]) * x[b * in + i];
              ASSERT_NEAR(y[b * ldy + o], want, 1e-4 * (1 + std::sqrt(in))) << b << " " << o;
            }
        }
}

TEST(CpuPacked, SameBitsAtEveryBatchSizeAndSplit) {
  // A batch row's outputs are one multiply-add per input in input order on both paths, so
  // they do not depend on the batch around the row (panel or not), on the caller's x^T, or
  // on how the output rows are split between calls.
  const int64_t in = 37, out = 70, batch = 35;
  auto x = random_floats(batch * in, 5), w = random_floats(out * in, 6);
  auto bias = random_floats(out, 7);
  cpu::PackedRows p(w.data(), out, in);
  std::vector<float> xt(batch / cpu::kPanel * cpu::kPanel * in);
  cpu::transpose_panels(x.data(), batch, in, xt.data());
  for (cpu::Isa isa : supported_isas()) {
    SCOPED_TRACE(cpu::isa_name(isa));
    std::vector<float> whole(batch * out), split(batch * out);
    cpu::linear_packed(isa, x.data(), batch, p, bias.data(), 0, out, whole.data(), out, false);
    for (int64_t o : {0, 16, 48})
      cpu::linear_packed(isa, x.data(), batch, p, bias.data(), o, o == 48 ? out : o + (o ? 32 : 16),
                         split.data(), out, false, xt.data());
    EXPECT_EQ(whole, split);
    // No batch rows: nothing written.
    std::vector<float> untouched(out, 7);
    cpu::linear_packed(isa, x.data(), 0, p, bias.data(), 0, out, untouched.data(), out, false);
    EXPECT_EQ(untouched, std::vector<float>(out, 7));
    for (int64_t b0 : {0, 3, 20, 34})
      for (int64_t n : {1, 2, 5}) {
        if (b0 + n > batch) continue;
        std::vector<float> part(n * out);
        cpu::linear_packed(isa, x.data() + b0 * in, n, p, bias.data(), 0, out, part.data(), out,
                           false);
        for (int64_t j = 0; j < n * out; ++j)
          ASSERT_EQ(part[j], whole[b0 * out + j]) << "rows " << b0 << "+" << n << " at " << j;
      }
  }
}

}  // namespace
}  // namespace dstc::generator
