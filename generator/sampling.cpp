#include "generator/sampling.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace dstc::generator {

namespace {
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

uint64_t Rng::next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return mix64(state_);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

uint64_t Rng::derive(uint64_t seed, uint64_t prompt_index, uint64_t sample_index) {
  return mix64(mix64(mix64(seed) ^ (prompt_index + 0x632be59bd9b4e019ULL)) ^
               (sample_index + 0x85157af5ULL));
}

int32_t sample_token(const float* logits, int64_t vocab, const SamplingParams& params, Rng& rng,
                     std::vector<std::pair<float, int32_t>>& scratch) {
  if (params.is_greedy()) {
    int32_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
    return best;
  }
  const double inv_t = 1.0 / params.temperature;
  // Candidates sorted by logit descending, ties by id ascending (a total order, so every
  // platform keeps the same set).
  auto by_logit = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  scratch.resize(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) scratch[i] = {logits[i], static_cast<int32_t>(i)};
  size_t keep = scratch.size();
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < keep) {
    keep = static_cast<size_t>(params.top_k);
    std::partial_sort(scratch.begin(), scratch.begin() + keep, scratch.end(), by_logit);
  } else if (params.top_p < 1.0) {
    std::sort(scratch.begin(), scratch.end(), by_logit);
  } else {
    // Full distribution: no order needed beyond a fixed one (by id).
  }
  const bool sorted = keep < scratch.size() || params.top_p < 1.0;
  float max_logit = -INFINITY;
  for (size_t i = 0; i < keep; ++i) max_logit = std::max(max_logit, scratch[i].first);
  std::vector<double> probs(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp((static_cast<double>(scratch[i].first) - max_logit) * inv_t);
    total += probs[i];
  }
  if (sorted && params.top_p < 1.0) {
    double cum = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cum += probs[i] / total;
      if (cum >= params.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = 0;
    for (size_t i = 0; i < keep; ++i) total += probs[i];
  }
  const double u = rng.uniform() * total;
  double cum = 0;
  for (size_t i = 0; i < keep; ++i) {
    cum += probs[i];
    if (u < cum) return scratch[i].second;
  }
  // Rounding left u at the very top: the last kept token with non-zero mass.
  for (size_t i = keep; i-- > 0;)
    if (probs[i] > 0) return scratch[i].second;
  return scratch[0].second;
}

}  // namespace dstc::generator
