// trainer::train end to end: a tiny random Llama with a freshly trained BPE tokenizer in an
// HF folder, TRL JSONL data, every loss; checks the metrics file, the written checkpoint
// (loads, tokenizer copied) and the data errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "common/json.h"
#include "generator/text/bpe_trainer.h"
#include "trainer/engine.h"

namespace dstc::trainer {
namespace {

namespace fs = std::filesystem;

class TrainIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("dstc_train_e2e_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    model_ = (root_ / "model").string();
    fs::create_directories(model_);
    generator::BpeTrainerOptions bo;
    bo.vocab_size = 300;
    auto trainer = generator::BpeTrainer::create(bo);
    ASSERT_TRUE(trainer);
    for (int i = 0; i < 50; ++i) {
      trainer->add_text("def add(a, b):\n    return a + b\nassert add(1, 2) == 3\n");
    }
    auto json = trainer->train_json();
    ASSERT_TRUE(json) << json.error().message();
    ASSERT_TRUE(write_file_atomic(model_ + "/tokenizer.json", *json));
    ASSERT_TRUE(write_file_atomic(model_ + "/tokenizer_config.json",
                                  generator::trained_tokenizer_config(bo).dump()));
    generator::ModelConfig c;
    c.vocab_size = 320;
    c.hidden_size = 32;
    c.intermediate_size = 48;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 4;
    c.head_dim = 8;
    c.max_position_embeddings = 256;
    generator::CausalLM m(c);
    generator::init_random(*m, 3);
    ASSERT_TRUE(generator::save_checkpoint(*m, model_));

    pairs_ = (root_ / "pairs.jsonl").string();
    std::string lines;
    for (int i = 0; i < 12; ++i) {
      Json p = {{"prompt", "def add(a, b):\n"},
                {"chosen", "    return a + b\n"},
                {"rejected", "    return a - b + " + std::to_string(i) + "\n"},
                {"reference_response", "    return b + a\n"}};
      lines += p.dump() + "\n";
    }
    ASSERT_TRUE(write_file_atomic(pairs_, lines));
  }
  void TearDown() override { fs::remove_all(root_); }

  TrainOptions options(LossType type, const std::string& out) {
    TrainOptions o;
    o.model_dir = model_;
    o.data = pairs_;
    o.out_dir = (root_ / out).string();
    o.loss.type = type;
    o.loss.label_smoothing = type == LossType::kCdpo ? 0.1 : 0.0;
    o.batch_size = 4;
    o.lr = 1e-3;
    o.epochs = 2;
    o.progress = false;
    return o;
  }

  fs::path root_;
  std::string model_, pairs_;
};

TEST_F(TrainIntegration, EveryLossTrainsAndWritesALoadableCheckpoint) {
  for (LossType type : {LossType::kDpo, LossType::kCdpo, LossType::kIpo, LossType::kKto,
                        LossType::kRpo, LossType::kSelm, LossType::kSft}) {
    const std::string name(loss_type_name(type));
    auto o = options(type, "out-" + name);
    auto r = train(o);
    ASSERT_TRUE(r) << name << ": " << r.error().message();
    EXPECT_EQ(r->data.kept, type == LossType::kKto ? 24u : 12u) << name;
    // 12 pairs (24 KTO examples), batch 4, 2 epochs.
    EXPECT_EQ(r->steps, type == LossType::kKto ? 12 : 6) << name;
    auto text = read_file(r->metrics_path);
    ASSERT_TRUE(text);
    size_t lines = 0;
    Json first;
    ASSERT_TRUE(for_each_jsonl(*text, r->metrics_path, [&](size_t, const Json& j) -> Status {
      if (lines++ == 0) first = j;
      for (const char* k : {"loss", "grad_norm", "learning_rate", "epoch", "step"}) {
        EXPECT_TRUE(j.contains(k)) << name << " metric " << k;
      }
      return {};
    }));
    EXPECT_EQ(lines, static_cast<size_t>(r->steps));
    if (type == LossType::kDpo) {
      EXPECT_DOUBLE_EQ(first["loss"].get<double>(), std::log(2.0));
      EXPECT_EQ(first["rewards/chosen"].get<double>(), 0.0);
      for (const char* k : {"rewards/rejected", "rewards/accuracies", "rewards/margins",
                            "logps/chosen", "logps/rejected"}) {
        EXPECT_TRUE(first.contains(k)) << k;
      }
    }
    if (type == LossType::kKto) {
      EXPECT_TRUE(first.contains("kl"));
    }
    EXPECT_TRUE(fs::exists(o.out_dir + "/tokenizer.json"));
    EXPECT_TRUE(fs::exists(o.out_dir + "/tokenizer_config.json"));
    auto loaded = generator::load_causal_lm(o.out_dir);
    ASSERT_TRUE(loaded) << loaded.error().message();
  }
}

TEST_F(TrainIntegration, LoraAndStepsLimit) {
  auto o = options(LossType::kDpo, "lora");
  o.lora_rank = 2;
  o.max_steps = 2;
  auto r = train(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->steps, 2);
  auto loaded = generator::load_causal_lm(o.out_dir);
  ASSERT_TRUE(loaded);
  auto base = generator::load_causal_lm(model_);
  ASSERT_TRUE(base);
  auto ids = torch::tensor({{5, 6, 7, 8}}, torch::kInt64);
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(torch::equal((*loaded)->forward(ids), (*base)->forward(ids)))
      << "merged LoRA weights should differ from the base";
}

TEST_F(TrainIntegration, ReferenceCacheIsReused) {
  auto o = options(LossType::kDpo, "cache");
  o.max_steps = 1;
  ASSERT_TRUE(train(o));
  auto cache_path = o.out_dir + "/reference_logps.jsonl";
  ASSERT_TRUE(fs::exists(cache_path));
  ReferenceCache cache(model_fingerprint(model_) + "/Float");
  ASSERT_TRUE(cache.load(cache_path));
  // One step of 4 pairs: their chosen responses are all the same sequence, the rejected
  // ones differ, so 1 + 4 entries (the cache is keyed by content).
  EXPECT_EQ(cache.size(), 5u);
}

TEST_F(TrainIntegration, Bf16WritesFloat32Checkpoint) {
  // --dtype bfloat16: fp32 master weights, bf16 autocast; the checkpoint stays float32.
  auto o = options(LossType::kDpo, "bf16");
  o.dtype = "bfloat16";
  o.max_steps = 2;
  auto r = train(o);
  ASSERT_TRUE(r) << r.error().message();
  auto text = read_file(r->metrics_path);
  ASSERT_TRUE(text);
  Json first;
  size_t lines = 0;
  ASSERT_TRUE(for_each_jsonl(*text, r->metrics_path, [&](size_t, const Json& j) -> Status {
    if (lines++ == 0) first = j;
    return {};
  }));
  ASSERT_TRUE(first.contains("loss")) << *text;
  EXPECT_NEAR(first["loss"].get<double>(), std::log(2.0), 1e-6);
  EXPECT_EQ(first["rewards/margins"].get<double>(), 0.0);
  auto config = read_file(o.out_dir + "/config.json");
  ASSERT_TRUE(config);
  EXPECT_EQ(Json::parse(*config)["torch_dtype"], "float32");
  auto loaded = generator::load_causal_lm(o.out_dir);
  ASSERT_TRUE(loaded) << loaded.error().message();
  auto base = generator::load_causal_lm(model_);
  ASSERT_TRUE(base);
  {
    auto ids = torch::tensor({{5, 6, 7, 8}}, torch::kInt64);
    torch::NoGradGuard no_grad;
    EXPECT_FALSE(torch::equal((*loaded)->forward(ids), (*base)->forward(ids)));
  }
  // The reference cache is keyed by the compute precision: an fp32 run in the same folder
  // computes its own entries beside the bf16 ones instead of reusing them. (Two steps of 4
  // pairs: one shared chosen sequence + 8 rejected = 9; the fp32 run's first step: 1 + 4.)
  const std::string cache_path = o.out_dir + "/reference_logps.jsonl";
  ReferenceCache cache("any");
  ASSERT_TRUE(cache.load(cache_path));
  EXPECT_EQ(cache.size(), 9u);
  o.dtype = "float32";
  o.max_steps = 1;
  auto r32 = train(o);
  ASSERT_TRUE(r32) << r32.error().message();
  ReferenceCache both("any");
  ASSERT_TRUE(both.load(cache_path));
  EXPECT_EQ(both.size(), 14u);

  o.dtype = "float16";
  auto refused = train(o);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("float16"), std::string::npos);
}

TEST_F(TrainIntegration, BadDataIsAClearError) {
  auto bad = (root_ / "bad.jsonl").string();
  ASSERT_TRUE(write_file_atomic(bad, "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": 3}\n"));
  auto o = options(LossType::kDpo, "bad");
  o.data = bad;
  auto r = train(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("bad.jsonl:1"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("rejected"), std::string::npos);

  // Every prompt too long: no usable examples, with the counts in the message.
  o.data = pairs_;
  o.tokenize.max_prompt_length = 1;
  r = train(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("12 prompt too long"), std::string::npos)
      << r.error().message();

  // KTO data for a paired loss.
  auto kto = (root_ / "kto.jsonl").string();
  ASSERT_TRUE(
      write_file_atomic(kto, "{\"prompt\": \"p\", \"completion\": \"c\", \"label\": true}\n"));
  o = options(LossType::kDpo, "kto-for-dpo");
  o.data = kto;
  r = train(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace dstc::trainer
