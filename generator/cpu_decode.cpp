#include "generator/cpu_decode.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "generator/cpu_kernels.h"

namespace dstc::generator {

namespace {

// Thread t's share [begin, end) of n rows, in multiples of 4 so the kernel's 4-row blocks
// never straddle two threads.
std::pair<int64_t, int64_t> share(int64_t n, int t, int nt) {
  const int64_t per = (n + nt - 1) / nt;
  const int64_t chunk = (per + 3) / 4 * 4;
  const int64_t begin = std::min(n, t * chunk);
  return {begin, std::min(n, begin + chunk)};
}

// out[b] = w * (x[b] * rsqrt(mean(x[b]^2) + eps)) for rows b of x [batch, dim], as RMSNormImpl.
void rms_norm(const float* x, int64_t batch, int64_t dim, const float* w, float eps, float* out) {
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * dim;
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(xb[i]) * xb[i];
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

CpuDecoder::CpuDecoder(CpuModelView model) : m_(std::move(model)) {}

void CpuDecoder::step(const int64_t* tokens, int64_t batch, const CpuCacheView& cache,
                      float* logits, int threads) {
  const int64_t B = batch, C = m_.hidden, I = m_.intermediate, H = m_.heads, KV = m_.kv_heads;
  const int64_t d = m_.head_dim, R = H / KV, V = m_.vocab, cap = cache.capacity;
  const int64_t slot = cache.length;
  const int nt = std::max(1, threads);
  x_.resize(B * C);
  xn_.resize(nt * B * C);
  q_.resize(B * H * d);
  att_.resize(B * H * d);
  k_.resize(B * KV * d);
  v_.resize(B * KV * d);
  gate_.resize(B * I);
  up_.resize(B * I);
  scores_.resize(nt * R * cap);
  cos_.resize(B * d / 2);
  sin_.resize(B * d / 2);

  for (int64_t b = 0; b < B; ++b) {
    std::memcpy(&x_[b * C], m_.embed + tokens[b] * C, C * sizeof(float));
    // As CausalLMImpl::rope: freqs = float(position) * inv_freq in fp32, then cos and sin.
    const float pos = static_cast<float>(cache.next_position[b]);
    for (int64_t i = 0; i < d / 2; ++i) {
      const float f = pos * m_.inv_freq[i];
      cos_[b * d / 2 + i] = std::cos(f);
      sin_[b * d / 2 + i] = std::sin(f);
    }
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const float neg_inf = -std::numeric_limits<float>::infinity();

  // One parallel region per step; threads meet at a barrier after each phase whose output
  // the next phase reads whole. The cheap RMSNorm runs redundantly on every thread into its
  // own buffer, which saves two barriers per layer.
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num(), tn = omp_get_num_threads();
    float* xn = &xn_[t * B * C];
    float* scores = &scores_[t * R * cap];
    for (size_t l = 0; l < m_.layers.size(); ++l) {
      const auto& L = m_.layers[l];
      rms_norm(x_.data(), B, C, L.input_norm, m_.rms_eps, xn);
      auto [q0, q1] = share(H * d, t, tn);
      cpu::linear(xn, B, C, L.q, L.q_bias, q0, q1, q_.data(), H * d, false);
      auto [k0, k1] = share(KV * d, t, tn);
      cpu::linear(xn, B, C, L.k, L.k_bias, k0, k1, k_.data(), KV * d, false);
      cpu::linear(xn, B, C, L.v, L.v_bias, k0, k1, v_.data(), KV * d, false);
#pragma omp barrier
      // Attention: one item per (row, kv head) with its R query heads.
      const int64_t items = B * KV;
      const int64_t i0 = items * t / tn, i1 = items * (t + 1) / tn;
      for (int64_t item = i0; item < i1; ++item) {
        const int64_t b = item / KV, g = item % KV;
        const float* c = &cos_[b * d / 2];
        const float* s = &sin_[b * d / 2];
        float* kc = cache.k[l] + (b * KV + g) * cap * d;  // [cap, d]
        float* vc = cache.v[l] + (b * KV + g) * cap * d;
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
          float mx = neg_inf;
          for (int64_t j = 0; j <= slot; ++j) {
            // Padding slots are invisible; the new token always sees itself.
            sc[j] = (valid && j < slot && !valid[j]) ? neg_inf : sc[j] * scale;
            mx = std::max(mx, sc[j]);
          }
          float sum = 0;
          for (int64_t j = 0; j <= slot; ++j) {
            sc[j] = std::exp(sc[j] - mx);
            sum += sc[j];
          }
          const float inv = 1.0f / sum;
          for (int64_t j = 0; j <= slot; ++j) sc[j] *= inv;
          cpu::weighted_rows(sc, slot + 1, vc, d, d, &att_[(b * H + g * R + r) * d]);
        }
      }
#pragma omp barrier
      auto [c0, c1] = share(C, t, tn);
      cpu::linear(att_.data(), B, H * d, L.o, L.o_bias, c0, c1, x_.data(), C, true);
#pragma omp barrier
      rms_norm(x_.data(), B, C, L.post_norm, m_.rms_eps, xn);
      auto [m0, m1] = share(I, t, tn);
      cpu::linear(xn, B, C, L.gate, L.gate_bias, m0, m1, gate_.data(), I, false);
      cpu::linear(xn, B, C, L.up, L.up_bias, m0, m1, up_.data(), I, false);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = m0; i < m1; ++i) {
          const float g = gate_[b * I + i];
          gate_[b * I + i] = g / (1.0f + std::exp(-g)) * up_[b * I + i];  // silu(g) * u
        }
#pragma omp barrier
      cpu::linear(gate_.data(), B, I, L.down, L.down_bias, c0, c1, x_.data(), C, true);
#pragma omp barrier
    }
    rms_norm(x_.data(), B, C, m_.final_norm, m_.rms_eps, xn);
    auto [v0, v1] = share(V, t, tn);
    cpu::linear(xn, B, C, m_.lm_head, nullptr, v0, v1, logits, V, false);
  }
}

}  // namespace dstc::generator
