// The hand-written CPU decode path (generator/cpu_decode.h, generator/cpu_kernels.h): every
// instruction set's kernels against a double-precision reference, the sampler's softmax
// weights bit-identical on every instruction set, the worker pool, and decode steps against
// the LibTorch forward with a KV cache on the golden checkpoints (padded rows, dropped rows,
// 1 and 2 threads).
#include "generator/cpu_decode.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>

#include "generator/cpu_kernels.h"
#include "generator/cpu_pool.h"
#include "generator/model.h"
#include "generator/sampling.h"
#include "tests/generator/test_data.h"

namespace dstc::generator {
namespace {

// Every index runs exactly once per job, whatever the threads and however jobs follow each
// other (quick successions and pauses long enough for the helpers to sleep).
TEST(WorkerPool, RunsEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    cpu::WorkerPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    std::vector<std::atomic<int>> hits(257);
    for (int job = 0; job < 2000; ++job) {
      const int64_t n = 1 + job % 257;
      for (int64_t i = 0; i < n; ++i) hits[i] = 0;
      pool.run(n, [&](int64_t i) { hits[i].fetch_add(1); });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << job << " " << i;
      if (job % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

TEST(CpuKernels, LinearMatchesReferenceOnEveryIsa) {
  // Sizes off the vector width and the 4- and 16-row blocks (128: a constant-stride panel
  // kernel); batches off the 2/4-row batch blocks, and whole panels of 16 rows with and
  // without a rest.
  for (cpu::Isa isa : supported_isas())
    for (int64_t in : {1, 7, 16, 37, 128, 344})
      for (int64_t out : {1, 5, 13, 37})
        for (int64_t batch : {1, 2, 3, 5, 16, 19, 32}) {
          SCOPED_TRACE(std::string(cpu::isa_name(isa)) + " in=" + std::to_string(in) +
                       " out=" + std::to_string(out) + " batch=" + std::to_string(batch));
          auto x = random_floats(batch * in, 1), w = random_floats(out * in, 2);
          auto bias = random_floats(out, 3);
          const int64_t ldy = out + 3;
          auto y = random_floats(batch * ldy, 4);
          auto y0 = y;
          // Rows [1, out) with accumulate; row 0 untouched.
          cpu::linear(isa, x.data(), batch, in, w.data(), bias.data(), 1, out, y.data(), ldy, true);
          for (int64_t b = 0; b < batch; ++b) {
            EXPECT_EQ(y[b * ldy], y0[b * ldy]);
            for (int64_t o = 1; o < out; ++o) {
              double want = y0[b * ldy + o] + bias[o];
              for (int64_t i = 0; i < in; ++i)
                want += static_cast<double>(w[o * in + i]) * x[b * in + i];
              ASSERT_NEAR(y[b * ldy + o], want, 1e-4 * (1 + std::sqrt(in)));
            }
          }
          // Without bias or accumulate.
          cpu::linear(isa, x.data(), batch, in, w.data(), nullptr, 0, out, y.data(), ldy, false);
          for (int64_t o = 0; o < out; ++o) {
            double want = 0;
            for (int64_t i = 0; i < in; ++i) want += static_cast<double>(w[o * in + i]) * x[i];
            ASSERT_NEAR(y[o], want, 1e-4 * (1 + std::sqrt(in)));
          }
        }
}

TEST(CpuKernels, TransposePanelsFollowsTheLayout) {
  // Whole 16 x 16 tiles and a rest of inputs, two panels and a rest of rows (not transposed).
  const int64_t in = 37, batch = 35;
  auto x = random_floats(batch * in, 16);
  std::vector<float> xt(2 * cpu::kPanel * in, -1);
  cpu::transpose_panels(x.data(), batch, in, xt.data());
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < cpu::kPanel; ++j)
        ASSERT_EQ(xt[(p * in + i) * cpu::kPanel + j], x[(p * cpu::kPanel + j) * in + i])
            << p << " " << i << " " << j;
}

TEST(CpuKernels, LinearWithCallersPanelsMatchesOwn) {
  // A caller's transpose_panels gives the same result as linear transposing x itself, for
  // any split of the rows between calls.
  const int64_t in = 128, out = 70, batch = 35, ldy = out;
  auto x = random_floats(batch * in, 7), w = random_floats(out * in, 8);
  std::vector<float> xt(batch / cpu::kPanel * cpu::kPanel * in);
  cpu::transpose_panels(x.data(), batch, in, xt.data());
  for (cpu::Isa isa : supported_isas()) {
    std::vector<float> own(batch * ldy), split(batch * ldy);
    cpu::linear(isa, x.data(), batch, in, w.data(), nullptr, 0, out, own.data(), ldy, false);
    for (int64_t o : {0, 16, 48})
      cpu::linear(isa, x.data(), batch, in, w.data(), nullptr, o, o == 48 ? out : o + (o ? 32 : 16),
                  split.data(), ldy, false, xt.data());
    EXPECT_EQ(own, split) << cpu::isa_name(isa);
  }
}

TEST(CpuKernels, WeightedRowsAndMaxOnEveryIsa) {
  for (cpu::Isa isa : supported_isas())
    for (int64_t d : {3, 32, 40})
      for (int64_t n : {1, 2, 9}) {
        const int64_t ldv = d + 2;
        auto p = random_floats(n, 5), v = random_floats(n * ldv, 6);
        std::vector<float> out(d);
        cpu::weighted_rows(isa, p.data(), n, v.data(), ldv, d, out.data());
        for (int64_t j = 0; j < d; ++j) {
          double want = 0;
          for (int64_t s = 0; s < n; ++s) want += static_cast<double>(p[s]) * v[s * ldv + j];
          EXPECT_NEAR(out[j], want, 1e-5) << cpu::isa_name(isa);
        }
        auto x = random_floats(d * 3 + 1, 7);
        x[d] = 100;
        x[0] = std::numeric_limits<float>::quiet_NaN();
        EXPECT_EQ(cpu::max_value(isa, x.data(), static_cast<int64_t>(x.size())), 100.0f);
      }
}

TEST(CpuKernels, MaxValueFindsTheMaximumAnywhere) {
  // Every position of a 1000-value vector (the four running maxima, the single-vector loop
  // and the scalar tail) with NaN and -inf around it.
  auto x = random_floats(1000, 11);
  x[1] = std::numeric_limits<float>::quiet_NaN();
  x[998] = -std::numeric_limits<float>::infinity();
  for (cpu::Isa isa : supported_isas())
    for (int64_t pos = 0; pos < 1000; pos += 7) {
      if (pos == 1) continue;
      auto y = x;
      y[pos] = 50;
      ASSERT_EQ(cpu::max_value(isa, y.data(), 1000), 50.0f) << cpu::isa_name(isa) << " " << pos;
    }
}

TEST(CpuKernels, BlockMaxOnEveryIsa) {
  // Enough blocks for whole groups of a vector's lanes of blocks and a rest; NaN ignored, a
  // block of -inf, a block all NaN (-inf).
  const int64_t n = 2500;
  auto x = random_floats(n, 15);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 64; i < 128; ++i) x[i] = -std::numeric_limits<float>::infinity();
  for (int64_t i = 320; i < 384; ++i) x[i] = std::numeric_limits<float>::quiet_NaN();
  for (cpu::Isa isa : supported_isas())
    for (int64_t block : {16, 64, 100}) {
      std::vector<float> out((n + block - 1) / block, 7);
      cpu::block_max(isa, x.data(), n, block, out.data());
      for (size_t k = 0; k < out.size(); ++k) {
        float want = -std::numeric_limits<float>::infinity();
        for (int64_t i = k * block; i < std::min<int64_t>(n, (k + 1) * block); ++i)
          if (x[i] > want) want = x[i];
        EXPECT_EQ(out[k], want) << cpu::isa_name(isa) << " block " << block << " #" << k;
      }
    }
}

TEST(CpuKernels, SiluMulMatchesReferenceOnEveryIsa) {
  for (cpu::Isa isa : supported_isas())
    for (int64_t n : {1, 15, 16, 37}) {
      auto g = random_floats(n, 12), u = random_floats(n, 13);
      for (int64_t i = 0; i < n; ++i) g[i] *= 8;
      g[0] = 95;              // exp(-g) below the clamp: silu(g) = g
      if (n > 1) g[1] = -95;  // exp(-g) at the clamp: silu(g) ~ 0
      std::vector<float> out = g;
      cpu::silu_mul(isa, out.data(), u.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
        ASSERT_NEAR(out[i], want, 1e-6 * std::abs(want) + 1e-30)
            << cpu::isa_name(isa) << " n=" << n << " g=" << g[i];
      }
    }
}

TEST(CpuKernels, SoftmaxMatchesReferenceOnEveryIsa) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (cpu::Isa isa : supported_isas())
    for (int64_t n : {1, 7, 16, 33, 100}) {
      auto x = random_floats(n, 14);
      for (auto& v : x) v *= 10;
      if (n > 3) x[2] = neg_inf;    // masked slot
      if (n > 50) x[n - 1] = -500;  // exp underflows to 0
      std::vector<float> out = x;
      cpu::softmax(isa, out.data(), n);
      double mx = neg_inf, sum = 0;
      for (float v : x) mx = std::max<double>(mx, v);
      for (float v : x) sum += std::exp(v - mx);
      double total = 0;
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(out[i], std::exp(x[i] - mx) / sum, 1e-6) << cpu::isa_name(isa) << " n=" << n;
        total += out[i];
      }
      if (n > 3) {
        EXPECT_EQ(out[2], 0.0f);
      }
      EXPECT_NEAR(total, 1.0, 1e-5);
    }
}

// Within 3e-7 of exp on every instruction set, and bit-identical on the two with FMA.
TEST(Sampler, SoftmaxWeightsBitIdenticalOnFmaIsas) {
  const int64_t n = 1000;  // not a multiple of the 64-token block
  auto logits = random_floats(n, 8);
  for (auto& l : logits) l *= 8;
  logits[3] = -std::numeric_limits<float>::infinity();
  logits[10] = -5000;  // exp argument below -86: weight 0
  float mx = logits[0];
  for (float l : logits) mx = std::max(mx, l);
  const float inv_t = 1.0f / 0.7f;
  std::vector<float> ref_w;
  std::vector<double> ref_blocks;
  for (cpu::Isa isa : supported_isas()) {
    std::vector<float> w(1024, -1);
    std::vector<double> blocks(16, -1);
    detail::softmax_weights_for_isa(isa, logits.data(), n, mx, inv_t, w.data(), blocks.data());
    for (int64_t i = 0; i < n; ++i) {
      const double want = std::exp(static_cast<double>((logits[i] - mx) * inv_t));
      ASSERT_NEAR(w[i], want, want < 1e-37 ? 1e-37 : 3e-7 * want) << i;
    }
    EXPECT_EQ(w[3], 0.0f);
    EXPECT_EQ(w[10], 0.0f);
    for (int64_t i = n; i < 1024; ++i) EXPECT_EQ(w[i], 0.0f);
    for (int64_t k = 0; k < 16; ++k) {
      double sum = 0;
      for (int64_t i = k * 64; i < (k + 1) * 64; ++i) sum += w[i];
      EXPECT_NEAR(blocks[k], sum, 4e-7 * sum);  // 4 fp32 weights per lane, lanes in fp64
    }
    if (isa == cpu::Isa::kBaseline) continue;  // no FMA: rounds differently
    if (ref_w.empty()) {
      ref_w = w;
      ref_blocks = blocks;
    } else {
      EXPECT_EQ(std::memcmp(w.data(), ref_w.data(), w.size() * sizeof(float)), 0)
          << cpu::isa_name(isa);
      EXPECT_EQ(std::memcmp(blocks.data(), ref_blocks.data(), blocks.size() * sizeof(double)), 0)
          << cpu::isa_name(isa);
    }
  }
}

TEST(Sampler, BatchSamplingIndependentOfThreads) {
  const int64_t rows = 7, vocab = 3000;
  auto logits = random_floats(rows * vocab, 9);
  SamplingParams p;
  p.temperature = 0.9;
  for (double top_p : {1.0, 0.9}) {
    p.top_p = top_p;
    std::vector<int32_t> want;
    for (int threads : {1, 2, 3}) {
      std::vector<Rng> rngs;
      std::vector<Rng*> ptrs;
      for (int64_t r = 0; r < rows; ++r) rngs.emplace_back(Rng::derive(5, r, 0));
      for (auto& r : rngs) ptrs.push_back(&r);
      std::vector<int32_t> out(rows);
      cpu::WorkerPool pool(threads);
      sample_tokens(logits.data(), rows, vocab, p, ptrs.data(), out.data(), pool);
      if (want.empty()) {
        want = out;
        // The same as one row at a time.
        std::vector<std::pair<float, int32_t>> scratch;
        for (int64_t r = 0; r < rows; ++r) {
          Rng rng(Rng::derive(5, r, 0));
          EXPECT_EQ(sample_token(logits.data() + r * vocab, vocab, p, rng, scratch), out[r]);
        }
      }
      EXPECT_EQ(out, want) << threads << " threads";
    }
  }
}

KvCache clone(const KvCache& c) {
  KvCache out = c;
  for (auto& t : out.k) t = t.clone();
  for (auto& t : out.v) t = t.clone();
  out.key_valid = c.key_valid.clone();
  out.next_position = c.next_position.clone();
  return out;
}

class CpuDecodeParity : public ::testing::TestWithParam<std::string> {};

// Left-padded prompts prefilled by LibTorch, then decode steps by LibTorch and by the fast
// path on two copies of the cache: the same logits (1e-4) and the same greedy tokens, also
// after a row leaves the batch; with the decoder's packed weight copies and without.
TEST_P(CpuDecodeParity, StepsMatchTorchForward) {
  auto m = load_causal_lm(data_dir(GetParam()));
  ASSERT_TRUE(m.has_value()) << m.error().message();
  auto& model = *m;
  auto decoder = make_cpu_decoder(*model);
  ASSERT_NE(decoder, nullptr);
  const int64_t vocab = model->config().vocab_size;
  torch::NoGradGuard no_grad;
  for (int threads : {1, 2})
    for (bool packed : {true, false}) {
      SCOPED_TRACE(std::to_string(threads) + " threads" + (packed ? ", packed" : ""));
      decoder->set_max_packed_bytes(packed ? CpuDecoder::kDefaultMaxPackedBytes : 0);
      cpu::WorkerPool pool(threads);
      auto input =
          torch::tensor({{0, 0, 1, 161, 84}, {1, 77, 3, 200, 41}, {0, 0, 0, 0, 7}}, torch::kInt64);
      auto mask = torch::tensor({{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}, {0, 0, 0, 0, 1}}, torch::kInt64);
      KvCache a = model->make_cache(3, 16);
      auto logits_a = model->forward(input, mask, {}, &a).select(1, -1);
      KvCache b = clone(a);
      std::vector<int64_t> tokens(3);
      for (int64_t r = 0; r < 3; ++r) tokens[r] = logits_a[r].argmax().item<int64_t>();
      std::vector<float> fast(3 * vocab);
      for (int step = 0; step < 10; ++step) {
        if (step == 4) {  // row 1 finishes
          auto keep = torch::tensor({0, 2}, torch::kInt64);
          a.select_rows(keep);
          b.select_rows(keep);
          tokens = {tokens[0], tokens[2]};
        }
        const int64_t B = static_cast<int64_t>(tokens.size());
        auto next = torch::tensor(tokens, torch::kInt64).unsqueeze(1);
        logits_a = model->forward(next, {}, {}, &a).select(1, 0);
        cpu_decode_step(*decoder, b, tokens, fast.data(), pool);
        auto logits_b = torch::from_blob(fast.data(), {B, vocab}, torch::kFloat32);
        EXPECT_LE((logits_a - logits_b).abs().max().item<double>(), 1e-4) << "step " << step;
        EXPECT_EQ(b.length, a.length);
        EXPECT_TRUE(torch::equal(b.next_position, a.next_position));
        EXPECT_TRUE(torch::equal(b.key_valid, a.key_valid));
        for (int64_t r = 0; r < B; ++r) {
          tokens[r] = logits_a[r].argmax().item<int64_t>();
          EXPECT_EQ(logits_b[r].argmax().item<int64_t>(), tokens[r]) << "step " << step;
        }
      }
    }
}

// Batches of 16 rows and more take the panel kernel (rows 0-15 of 18) and the dot-product
// kernel for the rest (rows 16-17); left padding on some rows. On 2 threads each layer is
// split by weight rows or (row_split_bytes) by batch rows: halves of 9 rows take the
// dot-product kernel, halves of 17 rows (batch 34) one panel each. The same with the
// decoder's packed weight copies, whose kernel has its own panel and rest paths, and which
// make the logits the same bits whatever the threads and split. The block maxima the
// decoder takes for the sampler are cpu::block_max's of its logits.
TEST_P(CpuDecodeParity, WideBatchMatchesTorchForward) {
  auto m = load_causal_lm(data_dir(GetParam()));
  ASSERT_TRUE(m.has_value()) << m.error().message();
  auto& model = *m;
  auto decoder = make_cpu_decoder(*model);
  ASSERT_NE(decoder, nullptr);
  const int64_t vocab = model->config().vocab_size, T = 4;
  torch::NoGradGuard no_grad;
  struct Run {
    int threads;
    int64_t batch, row_split_bytes;
    bool packed;
  };
  const int64_t kAlways = std::numeric_limits<int64_t>::max();
  // With every matrix packed, each output is computed the same way whatever the split:
  // the logits of the packed runs of one batch are the same bits, step by step.
  std::map<int64_t, std::vector<std::vector<float>>> packed_logits;
  for (const Run& run : {Run{1, 18, 0, false}, Run{2, 18, 0, false}, Run{2, 18, kAlways, false},
                         Run{2, 34, kAlways, false}, Run{1, 18, 0, true}, Run{2, 18, 0, true},
                         Run{2, 18, kAlways, true}, Run{2, 34, kAlways, true}}) {
    const int64_t B = run.batch;
    SCOPED_TRACE(std::to_string(run.threads) + " threads, batch " + std::to_string(B) +
                 (run.row_split_bytes > 0 ? ", rows split" : "") + (run.packed ? ", packed" : ""));
    decoder->set_row_split_bytes(run.row_split_bytes);
    decoder->set_max_packed_bytes(run.packed ? CpuDecoder::kDefaultMaxPackedBytes : 0);
    cpu::WorkerPool pool(run.threads);
    auto input = torch::zeros({B, T}, torch::kInt64);
    auto mask = torch::ones({B, T}, torch::kInt64);
    for (int64_t r = 0; r < B; ++r) {
      for (int64_t t = 0; t < T; ++t) input[r][t] = (1 + r * 37 + t * 11) % vocab;
      if (r % 5 == 2) mask[r][0] = 0;
    }
    KvCache a = model->make_cache(B, T + 8);
    auto logits_a = model->forward(input, mask, {}, &a).select(1, -1);
    KvCache b = clone(a);
    std::vector<int64_t> tokens(B);
    for (int64_t r = 0; r < B; ++r) tokens[r] = logits_a[r].argmax().item<int64_t>();
    std::vector<float> fast(B * vocab);
    const int64_t nb = (vocab + kSampleBlock - 1) / kSampleBlock;
    std::vector<float> maxima(B * nb), want(nb);
    for (int step = 0; step < 4; ++step) {
      auto next = torch::tensor(tokens, torch::kInt64).unsqueeze(1);
      logits_a = model->forward(next, {}, {}, &a).select(1, 0);
      // Odd steps also take the sampler's block maxima from the output layer's chunks.
      cpu_decode_step(*decoder, b, tokens, fast.data(), pool, step % 2 ? maxima.data() : nullptr,
                      kSampleBlock);
      auto logits_b = torch::from_blob(fast.data(), {B, vocab}, torch::kFloat32);
      EXPECT_LE((logits_a - logits_b).abs().max().item<double>(), 1e-4) << "step " << step;
      if (run.packed) {
        auto& seen = packed_logits[B];
        if (static_cast<int>(seen.size()) == step) seen.push_back(fast);
        EXPECT_EQ(fast, seen[step]) << "step " << step;
      }
      for (int64_t r = 0; r < B && step % 2; ++r) {
        cpu::block_max(fast.data() + r * vocab, vocab, kSampleBlock, want.data());
        ASSERT_EQ(std::vector<float>(maxima.begin() + r * nb, maxima.begin() + (r + 1) * nb), want)
            << "row " << r;
      }
      for (int64_t r = 0; r < B; ++r) {
        tokens[r] = logits_a[r].argmax().item<int64_t>();
        EXPECT_EQ(logits_b[r].argmax().item<int64_t>(), tokens[r]) << "step " << step;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, CpuDecodeParity, kGoldenCheckpoints, golden_test_name);

TEST(CpuDecode, OnlyForFp32OnCpu) {
  auto m = load_causal_lm(data_dir("tiny-llama-gqa"), LoadOptions{.dtype = "bfloat16"});
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(make_cpu_decoder(**m), nullptr);
}

}  // namespace
}  // namespace dstc::generator
