// The unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models
// Trained on Code", Codex paper, eq. 1): with n samples of which c are correct,
// pass@k = 1 - C(n-c, k) / C(n, k), computed as a stable product.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dstc::benchmarks {

// 1 - C(n-c,k)/C(n,k); 1 when n - c < k. Requires 0 <= c <= n and 1 <= k <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// Mean pass@k over tasks, for every k in `ks` with k <= n of every task (a k larger than
// some task's n is left out, as human-eval and EvalPlus do). Keys "pass@1", "pass@10", ...
std::map<std::string, double> mean_pass_at_k(const std::vector<int64_t>& n,
                                             const std::vector<int64_t>& c,
                                             const std::vector<int64_t>& ks = {1, 10, 100});

}  // namespace dstc::benchmarks
