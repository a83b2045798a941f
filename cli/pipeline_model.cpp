#include "cli/pipeline_model.h"

#include <filesystem>

#include "common/file.h"
#include "common/hash.h"
#include "generator/engine.h"
#include "generator/openai.h"
#include "generator/text/tokenizer.h"

namespace dstc::cli {
namespace {

namespace fs = std::filesystem;

// generator::TextCodec over a tokenizer.json tokenizer.
class TokenizerCodec : public generator::TextCodec {
 public:
  explicit TokenizerCodec(generator::Tokenizer tokenizer) : tok_(std::move(tokenizer)) {}
  std::vector<int32_t> encode(const std::string& text) const override { return tok_.encode(text); }
  std::string decode(const std::vector<int32_t>& ids) const override {
    return tok_.decode(ids, /*skip_special=*/true);
  }

 private:
  generator::Tokenizer tok_;
};

// A short content id of a checkpoint: its config plus the sizes and first MiB of its
// weight files, enough to tell trained rounds apart without reading gigabytes.
std::string checkpoint_id(const std::string& dir) {
  uint64_t h = fnv1a64(read_file((fs::path(dir) / "config.json").string()).value_or(""));
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".safetensors") continue;
    h = fnv1a64(entry.path().filename().string() + std::to_string(entry.file_size()), h);
    if (auto bytes = read_file(entry.path().string())) {
      h = fnv1a64(std::string_view(*bytes).substr(0, 1 << 20), h);
    }
  }
  return hex64(h);
}

// Either backend: the LibTorch engine or an OpenAI-compatible server (vLLM, SGLang,
// `dstc serve model`); both take text prompts and apply the same stop strings.
class GeneratorModel : public SamplingModel {
 public:
  GeneratorModel(std::unique_ptr<generator::Generator> engine, std::string id)
      : engine_(std::move(engine)), id_(std::move(id)) {}

  Result<std::vector<std::vector<std::string>>> sample(const std::vector<std::string>& queries,
                                                       const SampleRequest& r) override {
    std::vector<generator::Prompt> prompts;
    for (const auto& q : queries) prompts.push_back(generator::Prompt::from_text(q));
    generator::SamplingParams params;
    params.n = r.n;
    params.temperature = r.temperature;
    params.greedy = r.temperature <= 0.0;
    params.top_p = r.top_p;
    params.top_k = r.top_k;
    params.max_new_tokens = r.max_new_tokens;
    params.seed = r.seed;
    params.stop = r.stop;
    DSTC_TRY(auto completions, engine_->generate(prompts, params));
    std::vector<std::vector<std::string>> out(completions.size());
    for (size_t i = 0; i < completions.size(); ++i) {
      for (auto& c : completions[i]) out[i].push_back(std::move(c.text));
    }
    return out;
  }
  std::string id() const override { return id_; }

 private:
  std::unique_ptr<generator::Generator> engine_;
  std::string id_;
};

}  // namespace

Result<std::unique_ptr<SamplingModel>> load_model(const RunConfig& config,
                                                  const std::string& model_dir) {
  if (config.model.backend == "openai") {
    // The server decides which weights answer: it must serve `model_dir` (the base model
    // in round 0, round-<r-1>/model after that; configs/qwen2.5-coder-1.5b-vllm.toml).
    generator::OpenAIClientOptions options;
    options.base_url = config.model.url;
    DSTC_TRY(auto client, generator::OpenAIClient::create(options));
    return std::unique_ptr<SamplingModel>(
        new GeneratorModel(std::move(client), "openai:" + config.model.url + " for " + model_dir));
  }
  std::string tokenizer_path = (fs::path(model_dir) / "tokenizer.json").string();
  auto tokenizer = generator::Tokenizer::from_file(tokenizer_path);
  if (!tokenizer) return fail(std::move(tokenizer).error().context("loading " + tokenizer_path));
  generator::EngineOptions options;
  options.device = config.model.device;
  options.dtype = config.model.dtype;
  options.num_threads = static_cast<int>(config.model.threads);
  options.max_batch = config.model.max_batch;
  DSTC_TRY(auto engine, generator::LocalEngine::load(model_dir, options));
  engine->set_codec(std::make_shared<TokenizerCodec>(std::move(*tokenizer)));
  return std::unique_ptr<SamplingModel>(
      new GeneratorModel(std::move(engine), "local:" + model_dir + "@" + checkpoint_id(model_dir)));
}

}  // namespace dstc::cli
