// Parity of the LibTorch Llama/Qwen2 model with the golden figures of three tiny HF
// checkpoints (copied from ../shared/goldens/models into tests/generator/data): logits,
// greedy continuations, KV-cached and padded-batch runs.
#include "generator/model.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/file.h"
#include "common/json.h"
#include "generator/engine.h"
#include "tests/generator/test_data.h"

namespace dstc::generator {
namespace {

Json load_goldens(const std::string& name) {
  auto text = read_file(data_dir(name) + "/goldens.json");
  EXPECT_TRUE(text.has_value());
  auto j = parse_json(*text, "goldens.json");
  EXPECT_TRUE(j.has_value());
  return *j;
}

const Json& find_case(const Json& g, const std::string& name) {
  for (const auto& c : g["cases"])
    if (c["name"] == name) return c;
  throw std::runtime_error("no case " + name);
}

torch::Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kInt64).unsqueeze(0);
}

double max_abs_diff(const torch::Tensor& row, const Json& expected) {
  auto want = torch::tensor(expected.get<std::vector<float>>(), torch::kFloat32);
  return (row.to(torch::kFloat32) - want).abs().max().item<double>();
}

class ModelParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    at::set_num_threads(1);
    auto m = load_causal_lm(data_dir(GetParam()));
    ASSERT_TRUE(m.has_value()) << m.error().message();
    model_ = *m;
    goldens_ = load_goldens(GetParam());
  }
  CausalLM model_{nullptr};
  Json goldens_;
};

TEST_P(ModelParity, LogitsMatchGoldens) {
  torch::NoGradGuard no_grad;
  for (const auto& c : goldens_["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto ids = c["input_ids"].get<std::vector<int64_t>>();
    auto logits = model_->forward(ids_tensor(ids))[0];  // [L,V]
    ASSERT_EQ(logits.size(0), static_cast<int64_t>(ids.size()));
    for (const char* which : {"first", "mid", "last"}) {
      int64_t pos = c["positions"][which].get<int64_t>();
      EXPECT_LE(max_abs_diff(logits[pos], c[std::string("logits_") + which]), 1e-4) << which;
    }
    auto l64 = logits.to(torch::kFloat64);
    EXPECT_NEAR(l64.sum().item<double>(), c["logits_sum"].get<double>(), 1e-3);
    EXPECT_NEAR(l64.pow(2).sum().item<double>(), c["logits_sum_sq"].get<double>(), 1e-3);
    EXPECT_EQ(logits[-1].argmax().item<int64_t>(), c["argmax_last"].get<int64_t>());
  }
}

// Greedy decoding with the KV cache, step by step: tokens, the winning logit of each step
// and the full last-step row; and the same without a cache.
TEST_P(ModelParity, GreedyWithAndWithoutCacheMatchesGoldens) {
  c10::InferenceMode guard;
  for (const auto& c : goldens_["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto ids = c["input_ids"].get<std::vector<int64_t>>();
    auto want = c["greedy_new_tokens"].get<std::vector<int64_t>>();
    auto top1 = c["greedy_step_top1_logit"].get<std::vector<double>>();
    KvCache cache = model_->make_cache(1, static_cast<int64_t>(ids.size() + want.size()));
    auto logits = model_->forward(ids_tensor(ids), {}, {}, &cache)[0][-1];
    std::vector<int64_t> got, seq = ids;
    torch::Tensor last_row;
    for (size_t step = 0; step < want.size(); ++step) {
      int64_t tok = logits.argmax().item<int64_t>();
      EXPECT_NEAR(logits[tok].item<double>(), top1[step], 1e-4) << "step " << step;
      got.push_back(tok);
      seq.push_back(tok);
      last_row = logits;
      if (step + 1 < want.size())
        logits = model_->forward(ids_tensor({tok}), {}, {}, &cache)[0][-1];
    }
    EXPECT_EQ(got, want);
    EXPECT_LE(max_abs_diff(last_row, c["greedy_last_step_logits"]), 1e-4);
    // Uncached: the full sequence at once gives the same last-step row.
    auto full =
        model_->forward(ids_tensor(std::vector<int64_t>(seq.begin(), seq.end() - 1)))[0][-1];
    EXPECT_LE(max_abs_diff(full, c["greedy_last_step_logits"]), 1e-4);
  }
}

// batch0 (5 tokens) and batch1 (12 tokens) in one padded batch: right-padded without a
// cache, left-padded with a cache (positions from the mask), both equal to single runs.
TEST_P(ModelParity, PaddedBatchesMatchSingleRuns) {
  c10::InferenceMode guard;
  const Json& c0 = find_case(goldens_, "batch0");
  const Json& c1 = find_case(goldens_, "batch1");
  auto a = c0["input_ids"].get<std::vector<int64_t>>();
  auto b = c1["input_ids"].get<std::vector<int64_t>>();
  const int64_t L = static_cast<int64_t>(std::max(a.size(), b.size()));
  for (bool left : {false, true}) {
    SCOPED_TRACE(left ? "left-padded, cached" : "right-padded, no cache");
    auto input = torch::zeros({2, L}, torch::kInt64);
    auto mask = torch::zeros({2, L}, torch::kInt64);
    std::vector<int64_t> offset(2);
    for (int r = 0; r < 2; ++r) {
      const auto& s = r == 0 ? a : b;
      offset[r] = left ? L - static_cast<int64_t>(s.size()) : 0;
      for (size_t t = 0; t < s.size(); ++t) {
        input[r][offset[r] + t] = s[t];
        mask[r][offset[r] + t] = 1;
      }
    }
    KvCache cache;
    if (left) cache = model_->make_cache(2, L + 16);
    auto logits = model_->forward(input, mask, {}, left ? &cache : nullptr);
    for (int r = 0; r < 2; ++r) {
      const Json& c = r == 0 ? c0 : c1;
      for (const char* which : {"first", "mid", "last"}) {
        int64_t pos = c["positions"][which].get<int64_t>() + offset[r];
        EXPECT_LE(max_abs_diff(logits[r][pos], c[std::string("logits_") + which]), 1e-4)
            << "row " << r << " " << which;
      }
    }
    if (!left) continue;
    // Continue both rows greedily with the cache.
    std::vector<std::vector<int64_t>> got(2);
    auto last = logits.select(1, -1);
    for (int step = 0; step < 16; ++step) {
      auto next = last.argmax(-1);  // [2]
      for (int r = 0; r < 2; ++r) got[r].push_back(next[r].item<int64_t>());
      last = model_->forward(next.unsqueeze(1), {}, {}, &cache).select(1, -1);
    }
    EXPECT_EQ(got[0], c0["greedy_new_tokens"].get<std::vector<int64_t>>());
    EXPECT_EQ(got[1], c1["greedy_new_tokens"].get<std::vector<int64_t>>());
  }
}

// The engine (batched, cached, per-row lengths) gives the golden greedy tokens, batched
// or alone, cached or not.
TEST_P(ModelParity, EngineGreedyMatchesGoldens) {
  for (bool use_cache : {true, false}) {
    EngineOptions opts;
    opts.use_cache = use_cache;
    auto engine = LocalEngine::load(data_dir(GetParam()), opts);
    ASSERT_TRUE(engine.has_value()) << engine.error().message();
    std::vector<Prompt> prompts;
    std::vector<std::vector<int32_t>> want;
    for (const auto& c : goldens_["cases"]) {
      prompts.push_back(Prompt::from_ids(c["input_ids"].get<std::vector<int32_t>>()));
      want.push_back(c["greedy_new_tokens"].get<std::vector<int32_t>>());
    }
    SamplingParams p;
    p.greedy = true;
    p.max_new_tokens = 16;
    p.ignore_eos = true;
    auto out = (*engine)->generate(prompts, p);
    ASSERT_TRUE(out.has_value()) << out.error().message();
    ASSERT_EQ(out->size(), prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      ASSERT_EQ((*out)[i].size(), 1u);
      EXPECT_EQ((*out)[i][0].ids, want[i]) << "prompt " << i << " cache " << use_cache;
      EXPECT_EQ((*out)[i][0].finish_reason, "length");
    }
    auto logits = (*engine)->prompt_logits(prompts[2].ids);
    ASSERT_TRUE(logits.has_value());
    EXPECT_LE(max_abs_diff(torch::tensor(*logits), goldens_["cases"][2]["logits_last"]), 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, ModelParity, kGoldenCheckpoints, golden_test_name);

TEST(Model, ParameterNamesAreHuggingFaceNames) {
  auto ckpt = Checkpoint::open(data_dir("tiny-qwen2"));
  ASSERT_TRUE(ckpt.has_value());
  CausalLM m(ckpt->config());
  std::set<std::string> names;
  for (const auto& p : m->named_parameters()) names.insert(p.key());
  std::set<std::string> want;
  for (const auto& [n, s] : expected_tensors(ckpt->config())) want.insert(n);
  EXPECT_EQ(names, want);
  EXPECT_TRUE(names.count("model.layers.1.self_attn.q_proj.bias"));
  auto tied = Checkpoint::open(data_dir("tiny-llama3-tied"));
  ASSERT_TRUE(tied.has_value());
  CausalLM t(tied->config());
  for (const auto& p : t->named_parameters()) EXPECT_NE(p.key(), "lm_head.weight");
}

// The training path: gradients reach every parameter through a padded batch.
TEST(Model, TrainableForwardBackward) {
  auto m = load_causal_lm(data_dir("tiny-llama3-tied"));
  ASSERT_TRUE(m.has_value());
  auto& model = *m;
  model->train();
  auto input = torch::tensor({{0, 0, 1, 5, 9}, {1, 7, 3, 4, 8}}, torch::kInt64);
  auto mask = torch::tensor({{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}}, torch::kInt64);
  auto logits = model->forward(input, mask);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 5, 320}));
  auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, 320}).slice(0, 0, 9),
                                                   input.reshape({-1}).slice(0, 1, 10));
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  // Padding does not change the real tokens' logits of row 0.
  torch::NoGradGuard ng;
  auto alone = model->forward(torch::tensor({{1, 5, 9}}, torch::kInt64));
  EXPECT_LE((alone[0] - logits[0].slice(0, 2, 5)).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace dstc::generator
