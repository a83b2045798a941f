// `dstc model init|info|generate`: random HF checkpoints, checkpoint summaries, and
// generation from token ids with the built-in engine (JSON on stdout).
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "cli/command.h"
#include "common/json.h"
#include "generator/engine.h"

namespace dstc::cli {
namespace {

using namespace dstc::generator;

struct ModelArgs {
  // init
  std::string arch = "llama";
  int64_t hidden = 64, layers = 2, heads = 4, kv_heads = 0, intermediate = 0, vocab = 320;
  int64_t max_positions = 2048;
  uint64_t seed = 0;
  bool tie = false;
  std::string storage = "F32";
  std::string out;
  // info / generate
  std::string dir;
  std::string ids;
  int64_t max_new_tokens = 16;
  bool greedy = false, ignore_eos = false, logits = false, stats = false;
  double temperature = 1.0, top_p = 1.0;
  int64_t top_k = 0, n = 1;
  uint64_t gen_seed = 0;
  std::string device = "cpu", dtype = "auto";
  int threads = 1;
};

Status run_init(const ModelArgs& a) {
  ModelConfig c;
  if (a.arch == "llama") {
    c.arch = Arch::kLlama;
  } else if (a.arch == "qwen2") {
    c.arch = Arch::kQwen2;
    c.rms_norm_eps = 1e-6;
    c.rope_theta = 1e6;
  } else {
    return fail(ErrorCode::kInvalidArgument, "--arch '" + a.arch + "': use llama or qwen2");
  }
  c.hidden_size = a.hidden;
  c.num_hidden_layers = a.layers;
  c.num_attention_heads = a.heads;
  c.num_key_value_heads = a.kv_heads > 0 ? a.kv_heads : a.heads;
  // Llama's ratio: 2/3 of 4·hidden, rounded up to a multiple of 4.
  c.intermediate_size = a.intermediate > 0 ? a.intermediate : ((8 * a.hidden / 3 + 3) / 4) * 4;
  c.vocab_size = a.vocab;
  c.max_position_embeddings = a.max_positions;
  c.tie_word_embeddings = a.tie;
  if (a.heads <= 0 || a.hidden % a.heads != 0)
    return fail(ErrorCode::kInvalidArgument, "--hidden (" + std::to_string(a.hidden) +
                                                 ") must be a positive multiple of --heads (" +
                                                 std::to_string(a.heads) + ")");
  c.head_dim = a.hidden / a.heads;
  c.bos_token_id = a.vocab > 1 ? 1 : 0;
  c.eos_token_ids = {a.vocab > 2 ? 2 : 0};
  auto valid = c.validate();
  if (!valid) return fail(ErrorCode::kInvalidArgument, valid.error().message());
  DSTC_TRY(DType storage, parse_dtype(a.storage));
  DSTC_CHECK_OK(write_random_checkpoint(c, a.seed, a.out, storage));
  int64_t params = 0;
  for (const auto& [name, shape] : expected_tensors(c)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    params += n;
  }
  std::printf("%s\n",
              Json{{"out", a.out}, {"arch", a.arch}, {"parameters", params}}.dump().c_str());
  return {};
}

Status run_info(const ModelArgs& a) {
  DSTC_TRY(Checkpoint ckpt, Checkpoint::open(a.dir));
  DSTC_CHECK_OK(ckpt.check_complete());
  int64_t params = 0;
  std::map<std::string, int64_t> dtypes;
  for (const auto& name : ckpt.tensor_names()) {
    auto e = ckpt.tensor(name);
    params += e->info->numel();
    dtypes[std::string(dtype_name(e->info->dtype))] += 1;
  }
  Json j = {{"dir", a.dir},
            {"arch", std::string(arch_name(ckpt.config().arch))},
            {"parameters", params},
            {"tensors", ckpt.tensor_names().size()},
            {"bytes", ckpt.total_bytes()},
            {"dtypes", dtypes},
            {"config", ckpt.config().to_json()}};
  std::printf("%s\n", j.dump(2).c_str());
  return {};
}

Result<std::vector<int32_t>> parse_id_list(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 0 || v > INT32_MAX)
      return fail(ErrorCode::kInvalidArgument,
                  "--ids: '" + item + "' is not a token id (expected e.g. --ids 1,5,9)");
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) return fail(ErrorCode::kInvalidArgument, "--ids: no token ids given");
  return ids;
}

Status run_generate(const ModelArgs& a) {
  DSTC_TRY(auto ids, parse_id_list(a.ids));
  EngineOptions eo;
  eo.device = a.device;
  eo.dtype = a.dtype;
  eo.num_threads = a.threads;
  DSTC_TRY(auto engine, LocalEngine::load(a.dir, eo));
  SamplingParams p;
  p.greedy = a.greedy;
  p.temperature = a.temperature;
  p.top_p = a.top_p;
  p.top_k = a.top_k;
  p.n = a.n;
  p.seed = a.gen_seed;
  p.max_new_tokens = a.max_new_tokens;
  p.ignore_eos = a.ignore_eos;
  Json out;
  if (a.logits) {
    auto logits = engine->prompt_logits(ids);
    if (!logits) return fail(ErrorCode::kInvalidArgument, logits.error().message());
    out["logits"] = *logits;
  }
  auto result = engine->generate({Prompt::from_ids(ids)}, p);
  if (!result) {
    auto e = std::move(result).error();
    return fail(e.code() == ErrorCode::kInvalidArgument ? ErrorCode::kInvalidArgument : e.code(),
                e.message());
  }
  const auto& comps = (*result)[0];
  out["ids"] = comps[0].ids;
  out["finish_reason"] = comps[0].finish_reason;
  if (a.n > 1) {
    Json samples = Json::array();
    for (const auto& c : comps) samples.push_back(c.ids);
    out["samples"] = samples;
  }
  if (a.stats) out["tokens_per_s"] = engine->last_stats().tokens_per_s();
  std::printf("%s\n", out.dump().c_str());
  return {};
}

void register_model(CLI::App& app, Globals&, Action& action) {
  auto args = std::make_shared<ModelArgs>();
  auto* cmd = app.add_subcommand("model", "Create, inspect and run Llama/Qwen2 checkpoints");
  cmd->require_subcommand(1);

  auto* init = cmd->add_subcommand("init", "Write a random Hugging Face checkpoint");
  init->add_option("--arch", args->arch, "llama or qwen2")->capture_default_str();
  init->add_option("--hidden", args->hidden, "hidden size")->capture_default_str();
  init->add_option("--layers", args->layers, "number of layers")->capture_default_str();
  init->add_option("--heads", args->heads, "attention heads")->capture_default_str();
  init->add_option("--kv-heads", args->kv_heads, "key/value heads (default: --heads)");
  init->add_option("--intermediate", args->intermediate, "MLP size (default: 8/3 hidden)");
  init->add_option("--vocab", args->vocab, "vocabulary size")->capture_default_str();
  init->add_option("--max-positions", args->max_positions, "max_position_embeddings")
      ->capture_default_str();
  init->add_option("--seed", args->seed, "weight seed (project RNG)")->capture_default_str();
  init->add_flag("--tie", args->tie, "tie lm_head to the embeddings");
  init->add_option("--dtype", args->storage, "storage dtype: F32, BF16, F16")
      ->capture_default_str();
  init->add_option("--out", args->out, "output folder")->required();
  init->callback([args, &action] { action = [args] { return run_init(*args); }; });

  auto* info = cmd->add_subcommand("info", "Summarise a checkpoint folder (JSON)");
  info->add_option("dir", args->dir, "model folder")->required();
  info->callback([args, &action] { action = [args] { return run_info(*args); }; });

  auto* gen = cmd->add_subcommand("generate", "Generate from token ids (JSON: new ids only)");
  gen->add_option("--model", args->dir, "model folder")->required();
  gen->add_option("--ids", args->ids, "prompt token ids, e.g. 1,5,9")->required();
  gen->add_option("--max-new-tokens", args->max_new_tokens, "tokens to generate")
      ->capture_default_str();
  gen->add_flag("--greedy", args->greedy, "argmax decoding");
  gen->add_flag("--ignore-eos", args->ignore_eos, "do not stop at EOS");
  gen->add_flag("--logits", args->logits, "add the logits of the prompt's last position");
  gen->add_flag("--stats", args->stats, "add tokens_per_s (first to last new token)");
  gen->add_option("--temperature", args->temperature, "sampling temperature")
      ->capture_default_str();
  gen->add_option("--top-p", args->top_p, "nucleus mass")->capture_default_str();
  gen->add_option("--top-k", args->top_k, "top-k (0 = off)")->capture_default_str();
  gen->add_option("--n", args->n, "samples (adds \"samples\")")->capture_default_str();
  gen->add_option("--seed", args->gen_seed, "sampling seed")->capture_default_str();
  gen->add_option("--device", args->device, "cpu or cuda[:N]")->capture_default_str();
  gen->add_option("--dtype", args->dtype, "auto, float32, bfloat16, float16")
      ->capture_default_str();
  gen->add_option("--threads", args->threads, "intra-op threads")->capture_default_str();
  gen->callback([args, &action] { action = [args] { return run_generate(*args); }; });
}

}  // namespace
}  // namespace dstc::cli

DSTC_REGISTER_COMMAND(model, dstc::cli::register_model);
