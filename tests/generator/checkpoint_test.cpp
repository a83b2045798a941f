// safetensors reader/writer validation, config.json parsing, sharded checkpoints,
// save/load round trips. Corrupt files are built here byte by byte.
#include "generator/checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "common/file.h"
#include "generator/model.h"
#include "tests/generator/test_data.h"

namespace dstc::generator {
namespace {
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("dstc-ckpt-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// A raw safetensors file from a header string and a data buffer.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string open_error(const TempDir& dir, const std::string& bytes) {
  std::string path = dir.file("t.safetensors");
  EXPECT_TRUE(write_file_atomic(path, bytes).has_value());
  auto f = SafetensorsFile::open(path);
  EXPECT_FALSE(f.has_value());
  return f ? "" : f.error().message();
}

TEST(Safetensors, WriteThenReadRoundTrip) {
  TempDir dir;
  std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -8.5f};
  std::vector<uint16_t> b = {f32_to_bf16(1.0f), f32_to_bf16(-0.5f)};
  std::vector<uint16_t> h = {f32_to_f16(0.25f), f32_to_f16(-3.0f), f32_to_f16(65504.0f)};
  std::string path = dir.file("x.safetensors");
  ASSERT_TRUE(write_safetensors(path,
                                {{"b", DType::kBF16, {2}, b.data(), 4},
                                 {"a", DType::kF32, {2, 3}, a.data(), 24},
                                 {"h", DType::kF16, {3}, h.data(), 6}},
                                {{"note", "x"}})
                  .has_value());
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.has_value()) << f.error().message();
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_EQ((*f)->metadata().at("note"), "x");
  const TensorInfo* ta = (*f)->find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> got(6);
  convert_to_f32(ta->dtype, (*f)->data(*ta), 6, got.data());
  EXPECT_EQ(got, a);
  const TensorInfo* tb = (*f)->find("b");
  convert_to_f32(tb->dtype, (*f)->data(*tb), 2, got.data());
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], -0.5f);
  const TensorInfo* th = (*f)->find("h");
  convert_to_f32(th->dtype, (*f)->data(*th), 3, got.data());
  EXPECT_EQ(got[0], 0.25f);
  EXPECT_EQ(got[1], -3.0f);
  EXPECT_EQ(got[2], 65504.0f);
  // Header padded to a multiple of 8.
  auto bytes = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes->data(), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, Bf16RoundingIsNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  float just_above_half_ulp;
  uint32_t bits = 0x3f808001;  // 1.0 + a bit more than half a bf16 ulp
  std::memcpy(&just_above_half_ulp, &bits, 4);
  EXPECT_EQ(f32_to_bf16(just_above_half_ulp), 0x3f81);
  bits = 0x3f808000;  // exactly half: ties to even (0x3f80)
  float half;
  std::memcpy(&half, &bits, 4);
  EXPECT_EQ(f32_to_bf16(half), 0x3f80);
}

TEST(Safetensors, RejectsCorruptHeaders) {
  TempDir dir;
  const std::string data8(8, '\0');
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape,
                  int b, int e) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(e) + "]}";
  };
  // Valid baseline: two F32 scalars-in-[1].
  std::string ok =
      "{" + entry("x", "F32", "[1]", 0, 4) + "," + entry("y", "F32", "[1]", 4, 8) + "}";
  {
    std::string path = dir.file("ok.safetensors");
    ASSERT_TRUE(write_file_atomic(path, raw_file(ok, data8)).has_value());
    EXPECT_TRUE(SafetensorsFile::open(path).has_value());
  }
  EXPECT_NE(open_error(dir, "abc").find("truncated"), std::string::npos);
  // Header length larger than the file.
  {
    std::string bytes = raw_file(ok, data8);
    bytes[0] = static_cast<char>(0xff);
    EXPECT_NE(open_error(dir, bytes).find("exceeds"), std::string::npos);
  }
  EXPECT_NE(open_error(dir, raw_file("{not json", data8)).find("not a valid JSON"),
            std::string::npos);
  // Overlap.
  EXPECT_NE(open_error(dir, raw_file("{" + entry("x", "F32", "[1]", 0, 4) + "," +
                                         entry("y", "F32", "[1]", 2, 6) + "}",
                                     data8))
                .find("'y' overlaps"),
            std::string::npos);
  // Gap.
  EXPECT_NE(open_error(dir, raw_file("{" + entry("x", "F32", "[1]", 4, 8) + "}", data8))
                .find("gap before tensor 'x'"),
            std::string::npos);
  // Size != dtype x shape.
  EXPECT_NE(open_error(dir, raw_file("{" + entry("x", "F32", "[3]", 0, 8) + "}", data8))
                .find("tensor 'x'"),
            std::string::npos);
  // Unsupported dtype.
  EXPECT_NE(open_error(dir, raw_file("{" + entry("x", "I64", "[1]", 0, 8) + "}", data8))
                .find("unsupported dtype 'I64'"),
            std::string::npos);
  // Truncated data.
  EXPECT_NE(open_error(dir, raw_file(ok, std::string(6, '\0'))).find("truncated: tensor 'y'"),
            std::string::npos);
  // Trailing bytes.
  EXPECT_NE(open_error(dir, raw_file(ok, std::string(12, '\0'))).find("trailing bytes"),
            std::string::npos);
  // Duplicate names.
  EXPECT_NE(open_error(dir, raw_file("{" + entry("x", "F32", "[1]", 0, 4) + "," +
                                         entry("x", "F32", "[1]", 4, 8) + "}",
                                     data8))
                .find("duplicate tensor 'x'"),
            std::string::npos);
  // Negative shape / overflowing shape.
  EXPECT_FALSE(
      open_error(dir, raw_file("{" + entry("x", "F32", "[-1]", 0, 4) + "}", std::string(4, '\0')))
          .empty());
  EXPECT_FALSE(
      open_error(dir,
                 raw_file("{" + entry("x", "F32", "[281474976710656,281474976710656]", 0, 4) + "}",
                          std::string(4, '\0')))
          .empty());
  // Error names the file.
  EXPECT_NE(open_error(dir, "abc").find("t.safetensors"), std::string::npos);
}

TEST(Config, ParsesGoldenConfigs) {
  auto q = read_config(data_dir("tiny-qwen2"));
  ASSERT_TRUE(q.has_value()) << q.error().message();
  EXPECT_EQ(q->arch, Arch::kQwen2);
  EXPECT_TRUE(q->qkv_bias());
  EXPECT_EQ(q->num_key_value_heads, 2);
  EXPECT_DOUBLE_EQ(q->rope_theta, 1e6);
  auto l = read_config(data_dir("tiny-llama3-tied"));
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->rope_scaling.type, "llama3");
  EXPECT_EQ(l->rope_scaling.original_max_position_embeddings, 64);
  EXPECT_TRUE(l->tie_word_embeddings);
  EXPECT_EQ(l->eos_token_ids, (std::vector<int64_t>{2}));
  // to_json round trip.
  auto again = ModelConfig::from_json(l->to_json());
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(again->to_json(), l->to_json());
}

TEST(Config, ClearErrors) {
  auto base = read_config(data_dir("tiny-llama-gqa"))->to_json();
  auto err = [](Json j) {
    auto c = ModelConfig::from_json(j, "cfg.json");
    EXPECT_FALSE(c.has_value());
    return c ? "" : c.error().message();
  };
  Json j = base;
  j["architectures"] = {"GPT2LMHeadModel"};
  EXPECT_NE(err(j).find("cfg.json: architectures: unsupported 'GPT2LMHeadModel'"),
            std::string::npos);
  j = base;
  j["hidden_size"] = "64";
  EXPECT_NE(err(j).find("'hidden_size' must be an integer"), std::string::npos);
  j = base;
  j.erase("num_hidden_layers");
  EXPECT_NE(err(j).find("missing field 'num_hidden_layers'"), std::string::npos);
  j = base;
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_NE(err(j).find("unsupported rope_type 'yarn'"), std::string::npos);
  j = base;
  j["num_key_value_heads"] = 3;
  EXPECT_NE(err(j).find("multiple of num_key_value_heads"), std::string::npos);
  j = base;
  j["eos_token_id"] = {2, 7};
  auto c = ModelConfig::from_json(j);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{2, 7}));
}

TEST(Checkpoint, MissingAndMismatchedTensors) {
  TempDir dir;
  auto m = load_causal_lm(data_dir("tiny-llama-gqa"));
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(save_checkpoint(**m, dir.str()).has_value());
  // Drop one tensor by rewriting the file without it.
  auto f = SafetensorsFile::open(dir.file("model.safetensors"));
  ASSERT_TRUE(f.has_value());
  std::vector<TensorBytes> keep;
  for (const auto& t : (*f)->tensors())
    if (t.name != "model.layers.1.mlp.up_proj.weight")
      keep.push_back({t.name, t.dtype, t.shape, (*f)->data(t), t.end - t.begin});
  std::string path2 = dir.file("model2.safetensors");
  ASSERT_TRUE(write_safetensors(path2, keep).has_value());
  f->reset();
  fs::rename(path2, dir.file("model.safetensors"));
  auto r = load_causal_lm(dir.str());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("missing tensor 'model.layers.1.mlp.up_proj.weight'"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("model.safetensors"), std::string::npos);
  // Config that disagrees with the weights' shapes.
  TempDir dir2;
  ASSERT_TRUE(save_checkpoint(**m, dir2.str()).has_value());
  auto cfg = read_config(dir2.str());
  cfg->intermediate_size = 100;
  ASSERT_TRUE(write_config(dir2.str(), *cfg).has_value());
  r = load_causal_lm(dir2.str());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("mlp.gate_proj.weight' has shape [172, 64]"),
            std::string::npos)
      << r.error().message();
  // No weights at all.
  TempDir empty;
  ASSERT_TRUE(write_config(empty.str(), *cfg).has_value());
  r = load_causal_lm(empty.str());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("no model.safetensors"), std::string::npos);
}

TEST(Checkpoint, ShardedAndBf16SaveLoadRoundTrip) {
  TempDir dir;
  auto m = load_causal_lm(data_dir("tiny-qwen2"));
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(
      save_checkpoint(**m, dir.str(), DType::kF32, /*max_shard_bytes=*/100'000).has_value());
  EXPECT_TRUE(fs::exists(dir.file("model.safetensors.index.json")));
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors")));
  auto ckpt = Checkpoint::open(dir.str());
  ASSERT_TRUE(ckpt.has_value()) << ckpt.error().message();
  auto r = load_causal_lm(*ckpt);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  torch::NoGradGuard ng;
  auto ids = torch::tensor({{1, 5, 9, 200}}, torch::kInt64);
  auto want = (*m)->forward(ids);
  EXPECT_TRUE(torch::equal((*r)->forward(ids), want));
  // A shard listed in the index but missing is an error naming it.
  for (const auto& e : fs::directory_iterator(dir.str()))
    if (e.path().filename().string().rfind("model-00002-of-", 0) == 0) fs::remove(e.path());
  auto broken = Checkpoint::open(dir.str());
  ASSERT_FALSE(broken.has_value());
  EXPECT_NE(broken.error().message().find("model-00002-of-"), std::string::npos)
      << broken.error().message();
  // BF16 storage: loads back within bf16 rounding.
  TempDir dir2;
  ASSERT_TRUE(save_checkpoint(**m, dir2.str(), DType::kBF16).has_value());
  auto b = load_causal_lm(dir2.str());
  ASSERT_TRUE(b.has_value());
  EXPECT_LE(((*b)->forward(ids) - want).abs().max().item<double>(), 0.05);
  EXPECT_EQ(read_config(dir2.str())->torch_dtype, "bfloat16");
}

TEST(Checkpoint, RandomInitIsDeterministic) {
  ModelConfig c;
  c.vocab_size = 50;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  CausalLM a(c), b(c), d(c);
  init_random(*a, 7);
  init_random(*b, 7);
  init_random(*d, 8);
  auto pa = a->named_parameters(), pb = b->named_parameters(), pd = d->named_parameters();
  EXPECT_TRUE(torch::equal(pa["model.embed_tokens.weight"], pb["model.embed_tokens.weight"]));
  EXPECT_FALSE(torch::equal(pa["model.embed_tokens.weight"], pd["model.embed_tokens.weight"]));
  EXPECT_TRUE(torch::equal(pa["model.norm.weight"], torch::ones({16})));
  double sd = pa["lm_head.weight"].std().item<double>();
  EXPECT_NEAR(sd, 0.02, 0.004);
}

}  // namespace
}  // namespace dstc::generator
