// What the generator's test files share: the folder of their reference data, the golden
// checkpoints (tests/generator/data/) that the parameterised parity suites run over, and the
// CPU kernels' test inputs.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "generator/cpu_kernels.h"

namespace dstc::generator {

inline std::string data_dir(const std::string& name) {
  return std::string(DSTC_SOURCE_DIR) + "/tests/generator/data/" + name;
}

// INSTANTIATE_TEST_SUITE_P(Goldens, Suite, kGoldenCheckpoints, golden_test_name).
inline const auto kGoldenCheckpoints =
    ::testing::Values("tiny-qwen2", "tiny-llama-gqa", "tiny-llama3-tied");

// A checkpoint's name as a test name: '-' is not allowed there.
inline std::string golden_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (ch == '-') ch = '_';
  return s;
}

// The instruction sets this CPU runs, narrowest first (the kernels' tests run each).
inline std::vector<cpu::Isa> supported_isas() {
  std::vector<cpu::Isa> out = {cpu::Isa::kBaseline};
  if (cpu::detected_isa() != cpu::Isa::kBaseline) out.push_back(cpu::Isa::kAvx2);
  if (cpu::detected_isa() == cpu::Isa::kAvx512) out.push_back(cpu::Isa::kAvx512);
  return out;
}

// n standard-normal floats from a seeded generator.
inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

}  // namespace dstc::generator
