// Every run config shipped in configs/ loads, both through the library and through
// `dstc run --config FILE --print-config`, and dumps back to itself. Model paths and data
// files need not exist: load_run_config only parses and validates, and a run reads them
// when it starts.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/run_config.h"
#include "tests/cli/cli_test_util.h"

namespace dstc::cli {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> shipped_configs() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(DSTC_SOURCE_DIR) + "/configs")) {
    if (e.path().extension() == ".toml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ShippedConfigs, EveryConfigParsesAndPrints) {
  auto files = shipped_configs();
  // toy.toml, smoke.toml and the real-model examples at least.
  ASSERT_GE(files.size(), 4u);
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto config = load_run_config(path);
    ASSERT_TRUE(config) << config.error().message();
    EXPECT_EQ(config->base_dir, fs::path(path).parent_path().string());
    auto again = parse_run_config(dump_run_config(*config), "dump of " + path);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_TRUE(diff_run_configs(*config, *again).empty());

    auto printed = testing::run_dstc("run --config " + path + " --print-config");
    EXPECT_EQ(printed.exit_code, 0) << printed.err;
    EXPECT_EQ(printed.out, dump_run_config(*config));
  }
}

TEST(ShippedConfigs, RealModelExamplesAskForCudaAndTheQwenTemplate) {
  for (const char* name : {"qwen2.5-coder-1.5b-cuda.toml", "qwen2.5-coder-1.5b-vllm.toml"}) {
    SCOPED_TRACE(name);
    auto config = load_run_config(std::string(DSTC_SOURCE_DIR) + "/configs/" + name);
    ASSERT_TRUE(config) << config.error().message();
    EXPECT_EQ(config->model.device, "cuda");
    EXPECT_EQ(config->model.dtype, "bfloat16");
    EXPECT_EQ(config->model.prompt_format, "chatml");
    EXPECT_EQ(config->data.eval_benchmark, "humaneval");
  }
  auto vllm =
      load_run_config(std::string(DSTC_SOURCE_DIR) + "/configs/qwen2.5-coder-1.5b-vllm.toml");
  ASSERT_TRUE(vllm);
  EXPECT_EQ(vllm->model.backend, "openai");
  EXPECT_FALSE(vllm->model.url.empty());
}

}  // namespace
}  // namespace dstc::cli
