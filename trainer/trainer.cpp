#include "trainer/trainer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/log.h"
#include "generator/text/tokenizer.h"
#include "trainer/engine.h"

namespace dstc::trainer {
namespace fs = std::filesystem;
namespace {

Status bad(const std::string& message) { return fail(ErrorCode::kInvalidArgument, message); }

// Files a tokenizer needs beside the weights (HF AutoTokenizer + generation defaults).
constexpr const char* kTokenizerFiles[] = {"tokenizer.json",
                                           "tokenizer_config.json",
                                           "special_tokens_map.json",
                                           "generation_config.json",
                                           "vocab.json",
                                           "merges.txt",
                                           "tokenizer.model",
                                           "added_tokens.json"};

struct LoadedData {
  std::vector<PairText> pairs;
  std::vector<KtoText> kto;
  bool is_pairs = true;
};

Result<LoadedData> load_data(const TrainOptions& o) {
  LoadedData d;
  const LossType type = o.loss.type;
  const bool want_kto = type == LossType::kKto;
  if (fs::is_directory(o.data)) {
    // A run store: KTO reads the store's KTO examples; everything else its pairs.
    if (want_kto) {
      DSTC_TRY(d.kto, read_store_kto(o.data, o.round, o.selector));
      d.is_pairs = false;
    } else {
      DSTC_TRY(d.pairs, read_store_pairs(o.data, o.round, o.selector));
    }
    return d;
  }
  if (!fs::exists(o.data)) {
    return fail(ErrorCode::kNotFound, "--data " + o.data + ": no such file or run directory");
  }
  DSTC_TRY(auto format, detect_jsonl_format(o.data));
  if (format == DataFormat::kPairs) {
    DSTC_TRY(d.pairs, read_pairs_jsonl(o.data));
  } else {
    DSTC_TRY(d.kto, read_kto_jsonl(o.data));
    d.is_pairs = false;
  }
  return d;
}

}  // namespace

Status validate(const TrainOptions& o) {
  DSTC_CHECK_OK(o.loss.validate());
  if (o.model_dir.empty()) return bad("--model is required");
  if (o.data.empty()) return bad("--data is required");
  if (o.out_dir.empty()) return bad("--out is required");
  if (!(o.lr > 0)) return bad("--lr must be positive");
  if (o.epochs < 1) return bad("--epochs must be ≥ 1");
  if (o.batch_size < 1) return bad("--batch-size must be ≥ 1");
  if (o.loss.type == LossType::kKto && o.batch_size < 2) {
    return bad(
        "KTO needs --batch-size ≥ 2: its reference point pairs each prompt with another "
        "example's completion in the micro-batch");
  }
  if (o.grad_accum < 1) return bad("--grad-accum must be ≥ 1");
  if (o.scheduler != "linear" && o.scheduler != "cosine" && o.scheduler != "constant") {
    return bad("--scheduler must be linear, cosine or constant, got '" + o.scheduler + "'");
  }
  if (o.warmup_ratio < 0 || o.warmup_ratio >= 1) return bad("--warmup-ratio must be in [0, 1)");
  if (o.lora_rank < 0) return bad("--lora-rank must be ≥ 0");
  if (o.save_every < 0) return bad("--save-every must be ≥ 0");
  if (o.save_every > 0 && o.lora_rank > 0) {
    return bad("--save-every needs full fine-tuning (LoRA adapters merge only at the end)");
  }
  if (o.lora_rank > 0 && o.lora_targets.empty()) return bad("--lora-targets is empty");
  if (o.tokenize.max_length < 2) return bad("--max-length must be ≥ 2");
  if (o.parallel < 1) return bad("--parallel must be ≥ 1");
  if (o.dtype == "float16" || o.dtype == "fp16") {
    return bad(
        "--dtype float16 is not supported for training (fp16 needs loss scaling); use "
        "bfloat16 (fp32 master weights, bf16 autocast) or float32");
  }
  if (o.dtype != "auto" && o.dtype != "float32" && o.dtype != "fp32" && o.dtype != "bfloat16" &&
      o.dtype != "bf16") {
    return bad("--dtype must be auto, float32 or bfloat16, got '" + o.dtype + "'");
  }
  return {};
}

Result<TrainResult> train(const TrainOptions& o) {
  DSTC_CHECK_OK(validate(o));
  auto logger = log::get("trainer");
  const LossType type = o.loss.type;

  // Tokenizer and data first: bad data fails before the model is loaded.
  auto tok = generator::Tokenizer::from_file(o.model_dir);
  if (!tok) return fail(tok.error().context("loading the tokenizer of " + o.model_dir));
  DSTC_TRY(auto config, generator::read_config(o.model_dir));
  TextEncoder enc;
  enc.encode = [&tok](std::string_view text, bool prompt) {
    // Prompts: BOS/post-processor and special tokens (chat templates); completions: plain
    // text, so a sample that writes "<|im_end|>" cannot forge a control token.
    return prompt ? tok->encode(text, true, true) : tok->encode(text, false, false);
  };
  if (tok->eos_id()) {
    enc.eos_id = *tok->eos_id();
  } else if (!config.eos_token_ids.empty()) {
    enc.eos_id = static_cast<int32_t>(config.eos_token_ids[0]);
  } else {
    return fail(ErrorCode::kInvalidArgument,
                o.model_dir +
                    ": no EOS token in tokenizer_config.json or config.json; "
                    "completions need one appended");
  }

  DSTC_TRY(auto data, load_data(o));
  TrainResult result;
  std::vector<TokenizedPair> pairs;
  std::vector<TokenizedKto> kto;
  if (type == LossType::kKto) {
    std::vector<KtoText> items = data.is_pairs ? unpair(data.pairs) : std::move(data.kto);
    seeded_shuffle(items, o.seed);  // after unpairing (research/losses.md §2.3)
    kto = tokenize_kto(enc, o.tokenize, items, result.data);
    size_t nd = 0;
    for (const auto& k : kto) nd += k.desirable ? 1 : 0;
    logger->info("KTO: {} desirable, {} undesirable", nd, kto.size() - nd);
  } else if (type == LossType::kSft) {
    // SFT on the chosen responses (pairs) or the desirable completions (KTO data).
    std::vector<KtoText> items;
    if (data.is_pairs) {
      for (auto& p : data.pairs) items.push_back({p.prompt, p.chosen, true, p.source});
    } else {
      for (auto& k : data.kto) {
        if (k.desirable) items.push_back(std::move(k));
      }
    }
    for (auto& k : tokenize_kto(enc, o.tokenize, items, result.data)) {
      TokenizedPair p;
      p.chosen = std::move(k.seq);
      p.source = std::move(k.source);
      pairs.push_back(std::move(p));
    }
  } else {
    if (!data.is_pairs) {
      return fail(ErrorCode::kInvalidArgument, "--loss " + std::string(loss_type_name(type)) +
                                                   " needs preference pairs " +
                                                   "{prompt, chosen, rejected}, but " + o.data +
                                                   " holds KTO examples; use --loss kto or sft");
    }
    if (type == LossType::kSelm) {
      for (const auto& p : data.pairs) {
        if (p.reference_response.empty()) {
          return fail(ErrorCode::kInvalidArgument,
                      p.source +
                          ": SELM needs field 'reference_response' (the reference "
                          "model's greedy sample for the prompt) on every pair");
        }
      }
    }
    pairs = tokenize_pairs(enc, o.tokenize, data.pairs, result.data);
  }
  logger->info("data {}: {}", o.data, result.data.summary());
  if (result.data.kept == 0) {
    return fail(ErrorCode::kInvalidArgument,
                o.data + ": no usable examples (" + result.data.summary() + ")");
  }

  // Master weights are always fp32; bf16 is a compute precision (autocast), never a
  // storage one: AdamW on bf16 weights would round its updates away (a first step moves a
  // weight by ≈ lr = 1e-6; half a bf16 step at 0.02 is 6e-5) and silently not train.
  generator::LoadOptions lo;
  lo.device = o.device;
  lo.dtype = "float32";
  DSTC_TRY(auto policy, generator::load_causal_lm(o.model_dir, lo));
  const torch::ScalarType compute = compute_dtype(o.dtype, policy->device());
  const std::string precision =
      compute == torch::kFloat32
          ? std::string(torch::toString(torch::kFloat32))  // "Float": the key fp32 always had
          : "autocast-" + std::string(torch::toString(compute)) + "@" +
                c10::DeviceTypeName(policy->device().type(), /*lower_case=*/true);
  logger->info("precision: {}", compute == torch::kFloat32
                                    ? "float32"
                                    : "fp32 master weights, bf16 autocast forward/backward");
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) return fail(ErrorCode::kIo, "creating " + o.out_dir + ": " + ec.message());

  Trainer trainer(policy, o);
  if (type == LossType::kKto) {
    trainer.set_kto(std::move(kto));
  } else {
    trainer.set_pairs(std::move(pairs));
  }

  if (type != LossType::kSft) {
    // Reference log-probs once, before any update; the policy's own initial weights
    // serve as the reference unless another folder is given. Computed in the policy's
    // compute precision (bf16 autocast included) and keyed by it, so step 0 reproduces
    // them exactly and a cache of another precision is never reused.
    const std::string ref_dir = o.reference_dir.empty() ? o.model_dir : o.reference_dir;
    auto cache = std::make_unique<ReferenceCache>(model_fingerprint(ref_dir) + "/" + precision);
    const std::string cache_path = (fs::path(o.out_dir) / "reference_logps.jsonl").string();
    DSTC_CHECK_OK(cache->load(cache_path));
    const size_t before = cache->size();
    if (o.reference_dir.empty() || o.reference_dir == o.model_dir) {
      trainer.compute_reference(trainer.model(), *cache);
    } else {
      DSTC_TRY(auto reference, generator::load_causal_lm(ref_dir, lo));
      trainer.compute_reference(*reference, *cache);
    }  // the reference model is freed here
    logger->info("reference log-probs: {} cached, {} computed", before, cache->size() - before);
    DSTC_CHECK_OK(cache->save(cache_path));
    trainer.set_cache(std::move(cache));
  }

  result.metrics_path = (fs::path(o.out_dir) / "metrics.jsonl").string();
  std::ofstream metrics(result.metrics_path, std::ios::trunc);
  if (!metrics) return fail(ErrorCode::kIo, "cannot write " + result.metrics_path);
  logger->info("training: {} steps, loss {}, lr {}, batch {} x {} accumulation{}",
               trainer.total_steps(), loss_type_name(type), o.lr, o.batch_size, o.grad_accum,
               o.lora_rank > 0 ? ", LoRA rank " + std::to_string(o.lora_rank) : "");
  auto save_with_tokenizer = [&](const std::string& dir) -> Status {
    // The fp32 master weights, whatever the compute precision: rounding them to bf16 would
    // discard the small updates that mixed precision exists to keep. The generator loads
    // a float32 checkpoint in bf16 on CUDA anyway (--dtype auto).
    DSTC_CHECK_OK(generator::save_checkpoint(trainer.model(), dir, generator::DType::kF32));
    for (const char* name : kTokenizerFiles) {
      fs::path src = fs::path(o.model_dir) / name;
      if (!fs::exists(src)) continue;
      fs::copy_file(src, fs::path(dir) / name, fs::copy_options::overwrite_existing, ec);
      if (ec) return fail(ErrorCode::kIo, "copying " + src.string() + ": " + ec.message());
    }
    return {};
  };
  Status saved;
  auto st = trainer.run([&](int64_t step, const std::map<std::string, double>& m) {
    Json line = {{"step", step}};
    for (const auto& [k, v] : m) line[k] = v;
    metrics << line.dump() << '\n';
    metrics.flush();
    result.last = m;
    result.steps = step;
    if (o.save_every > 0 && step % o.save_every == 0 && saved) {
      const std::string dir = (fs::path(o.out_dir) / ("step-" + std::to_string(step))).string();
      fs::create_directories(dir, ec);
      saved = ec ? fail(ErrorCode::kIo, "creating " + dir + ": " + ec.message())
                 : save_with_tokenizer(dir);
    }
  });
  if (!st) return fail(st.error());
  if (!saved) return fail(saved.error());

  // The checkpoint (LoRA already merged by run()), then the tokenizer files.
  result.checkpoint_dir = o.out_dir;
  DSTC_CHECK_OK(save_with_tokenizer(o.out_dir));
  return result;
}

Result<BenchResult> bench_dpo_step(const BenchShape& shape, int64_t steps, int64_t parallel,
                                   int64_t seq_len, int64_t batch) {
  generator::ModelConfig c;
  c.vocab_size = shape.vocab;
  c.hidden_size = shape.hidden;
  c.num_hidden_layers = shape.layers;
  c.num_attention_heads = shape.heads;
  c.num_key_value_heads = shape.heads;
  c.head_dim = shape.hidden / shape.heads;
  c.intermediate_size = shape.intermediate;
  c.max_position_embeddings = std::max<int64_t>(2048, seq_len);
  DSTC_CHECK_OK(c.validate());
  generator::CausalLM policy(c), reference(c);
  generator::init_random(*policy, 1);
  generator::init_random(*reference, 1);
  reference->eval();
  for (auto& p : reference->parameters()) p.requires_grad_(false);

  // 8 pairs of seq_len tokens; the last half of each is the completion.
  std::vector<TokenizedPair> pairs;
  uint64_t state = 7;
  auto next_id = [&]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(shape.vocab));
  };
  for (int64_t i = 0; i < batch; ++i) {
    TokenizedPair p;
    for (Sequence* s : {&p.chosen, &p.rejected}) {
      s->prompt_len = seq_len / 2;
      for (int64_t t = 0; t < seq_len; ++t) s->ids.push_back(next_id());
    }
    p.rejected.ids.assign(p.chosen.ids.begin(), p.chosen.ids.begin() + seq_len / 2);
    for (int64_t t = seq_len / 2; t < seq_len; ++t) p.rejected.ids.push_back(next_id());
    pairs.push_back(std::move(p));
  }
  TrainOptions o;
  o.batch_size = batch;
  o.parallel = parallel;
  o.lr = 1e-6;
  Trainer trainer(policy, o);
  trainer.set_pairs(std::move(pairs));
  trainer.set_reference_model(reference);
  std::vector<size_t> all(static_cast<size_t>(batch));
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  BenchResult r;
  r.size = shape.name;
  for (const auto& p : policy->parameters()) r.parameters += p.numel();
  trainer.train_step({all}, o.lr);  // warm-up
  for (int64_t s = 0; s < steps; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    trainer.train_step({all}, o.lr);
    r.step_s.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  auto sorted = r.step_s;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  r.step_median_s = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  return r;
}

}  // namespace dstc::trainer
