// The trainer's public API (no LibTorch): train a Hugging Face checkpoint on DSTC pairs,
// KTO examples or SFT data, and write the trained model back as a checkpoint folder.
//
//   trainer::TrainOptions o;
//   o.model_dir = "models/qwen"; o.data = "runs/r1"; o.out_dir = "runs/r1/ckpt-0";
//   o.loss.type = trainer::LossType::kDpo;
//   DSTC_TRY(auto result, trainer::train(o));   // result.metrics_path: metrics.jsonl
//
// Semantics (research/losses.md): per-example losses on summed completion log-probs, mean
// over the effective batch (micro-batch × grad_accum: accumulation equals one large batch
// exactly, for every loss; KTO's reference point z0 is per micro-batch, as TRL), AdamW,
// HF's linear/cosine schedules with warm-up (lr at step s = schedule(s), s from 0, so a
// warm-up's first step has lr 0 as in transformers), gradient clipping of the global norm
// (`grad_norm` logs the norm before clipping). Reference log-probs are computed once, before
// training, with the frozen reference model (the policy's own initial weights when
// reference_dir is empty, so only one model is ever in memory) and cached in
// `<out>/reference_logps.jsonl` keyed by the model's fingerprint and the token ids.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "trainer/data.h"
#include "trainer/options.h"

namespace dstc::trainer {

struct TrainOptions {
  std::string model_dir;      // HF checkpoint folder (config.json, safetensors, tokenizer)
  std::string reference_dir;  // frozen reference; empty = model_dir
  std::string data;           // a run directory (store) or a TRL JSONL file
  int64_t round = -1;         // store round; −1 = the latest that has data
  std::string selector = "dstc";
  std::string out_dir;  // checkpoint + metrics.jsonl + reference_logps.jsonl

  LossOptions loss;
  TokenizeOptions tokenize;

  double lr = 1e-6;  // TRL DPOConfig default
  int64_t epochs = 1;
  int64_t batch_size = 8;  // per micro-batch (pairs or examples)
  int64_t grad_accum = 1;
  int64_t max_steps = -1;  // stop after this many optimizer steps (−1: all epochs)
  // Also write a checkpoint to out_dir/step-N every N optimizer steps (0: off; full
  // fine-tuning only): one run then gives the checkpoints to pick an early stop from.
  int64_t save_every = 0;
  std::string scheduler = "linear";  // linear, cosine, constant
  double warmup_ratio = 0.0;         // of the total steps, unless warmup_steps > 0
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;
  double max_grad_norm = 1.0;  // ≤ 0: no clipping
  uint64_t seed = 42;          // data order, LoRA init

  int64_t lora_rank = 0;  // 0 = full fine-tuning
  double lora_alpha = 16;
  // Module names (last path component) that get adapters; PEFT's "all-linear" for Llama.
  std::vector<std::string> lora_targets = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                           "gate_proj", "up_proj", "down_proj"};

  std::string device = "cpu";  // "cpu", "cuda", "cuda:1"
  // Compute precision: "float32", "bfloat16" or "auto" (float32 on CPU, bfloat16 on CUDA).
  // bfloat16 is mixed precision as HF Trainer's bf16=True: fp32 master weights and AdamW
  // state, forward and backward matmuls in bf16 under LibTorch autocast, log-softmax and
  // losses in fp32. Checkpoints are always written in float32 (the master weights).
  // float16 is refused (no loss scaling).
  std::string dtype = "auto";
  int64_t threads = 0;  // intra-op threads per worker; 0 = 1 when parallel, else default
  // Independent sequence groups (chosen / rejected, or halves of a batch) run forward and
  // backward on this many threads at once: on small models parallel work beats splitting
  // small matmuls (DESIGN.md §8).
  int64_t parallel = 2;
  bool progress = true;
};

struct TrainResult {
  std::string checkpoint_dir;
  std::string metrics_path;
  int64_t steps = 0;
  DataStats data;
  std::map<std::string, double> last;  // the last step's metrics
};

Status validate(const TrainOptions& options);

// Loads the model, tokenizer and data, trains, writes the checkpoint (LoRA merged),
// tokenizer files and metrics. Nothing half-written: the checkpoint is written at the end.
Result<TrainResult> train(const TrainOptions& options);

// One DPO optimizer step's timing on a random Llama (the benchmark): batch 8 pairs
// of `seq_len` tokens (the last half is the completion), policy + reference forwards,
// backward, AdamW, fp32 CPU.
struct BenchShape {
  std::string name;  // "T1-1M"
  int64_t vocab, hidden, layers, heads, intermediate;
};
struct BenchResult {
  std::string size;
  int64_t parameters = 0;
  std::vector<double> step_s;
  double step_median_s = 0;
};
Result<BenchResult> bench_dpo_step(const BenchShape& shape, int64_t steps = 5, int64_t parallel = 2,
                                   int64_t seq_len = 128, int64_t batch = 8);

}  // namespace dstc::trainer
