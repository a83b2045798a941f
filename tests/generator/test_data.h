// What the generator's test files share: the folder of their reference data, and the golden
// checkpoints (tests/generator/data/) that the parameterised parity suites run over.
#pragma once

#include <gtest/gtest.h>

#include <string>

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

}  // namespace dstc::generator
