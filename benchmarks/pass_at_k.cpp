#include "benchmarks/pass_at_k.h"

#include <algorithm>

namespace dstc::benchmarks {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n - c < k) return 1.0;
  // C(n-c,k)/C(n,k) = prod_{i=n-c+1}^{n} (1 - k/i): no large binomials, no overflow.
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - prod;
}

std::map<std::string, double> mean_pass_at_k(const std::vector<int64_t>& n,
                                             const std::vector<int64_t>& c,
                                             const std::vector<int64_t>& ks) {
  std::map<std::string, double> out;
  if (n.empty() || n.size() != c.size()) return out;
  const int64_t min_n = *std::min_element(n.begin(), n.end());
  for (int64_t k : ks) {
    if (k < 1 || k > min_n) continue;
    double sum = 0;
    for (size_t i = 0; i < n.size(); ++i) sum += pass_at_k(n[i], c[i], k);
    out["pass@" + std::to_string(k)] = sum / static_cast<double>(n.size());
  }
  return out;
}

}  // namespace dstc::benchmarks
