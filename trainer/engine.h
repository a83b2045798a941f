// The trainer's LibTorch internals: sequence log-probs, LoRA, the reference cache, the
// schedule and the optimisation loop. Included by trainer/*.cpp and tests only (it pulls
// in <torch/torch.h> through generator/model.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/thread_pool.h"
#include "generator/model.h"
#include "trainer/data.h"
#include "trainer/losses.h"
#include "trainer/trainer.h"

namespace dstc::trainer {

// Right-padded token batch with the positions of its completion tokens. Padding needs no
// attention mask: attention is causal and padding sits after every real token, so it never
// influences them, and only completion positions are read (mask built from lengths, never
// from pad ids: research/losses.md §6.1).
struct PackedBatch {
  torch::Tensor ids;      // [B,T] int64, pad = 0
  torch::Tensor rows;     // [N] int64: the row of each completion token
  torch::Tensor cols;     // [N] int64: the position whose logits predict it (t − 1)
  torch::Tensor targets;  // [N] int64: the token
  torch::Tensor tokens;   // [B] float32: completion tokens per row
  int64_t batch = 0;
};
PackedBatch pack(const std::vector<const Sequence*>& seqs, const torch::Device& device);

// Mixed precision as HF Trainer / TRL with bf16=True: the weights and AdamW state stay fp32
// (master weights) and the forward runs under LibTorch autocast, which casts each matmul's
// operands (linear, matmul) to `dtype`; its backward follows the same casts, so gradients
// arrive in fp32 on the fp32 weights. Autocast state is thread-local: the guard sets it
// for the calling thread only, so every thread that runs a forward needs its own
// (sequence_logps makes one). On exit it restores the thread's previous state and, when
// the outermost guard ends, clears the thread's cache of casted weights (a stale bf16 copy
// of a weight that the optimizer has since updated must never be reused). kFloat32: does
// nothing (plain fp32).
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, torch::ScalarType dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool prev_enabled_ = false;
  torch::ScalarType prev_dtype_ = torch::kFloat32;
};

// The compute dtype of TrainOptions::dtype on `device`: kFloat32 (plain fp32) or kBFloat16
// (fp32 master weights + bf16 autocast). "auto": bf16 on CUDA, fp32 elsewhere. float16 is
// refused (it would need loss scaling); validate() rejects it and unknown names first.
torch::ScalarType compute_dtype(const std::string& dtype, const torch::Device& device);

// S(x, y) = Σ_t log softmax(logits[t−1])[y_t] over completion tokens: [B] float32. The
// lm_head runs only on the N completion positions. `compute` kBFloat16: the model's
// forward (lm_head included) runs under bf16 autocast; the logits are cast to fp32 and
// log-softmax, gather and sum run in fp32 outside autocast.
torch::Tensor sequence_logps(generator::CausalLMImpl& model, const PackedBatch& batch,
                             torch::ScalarType compute = torch::kFloat32);

// LoRA (Hu et al. 2021, as PEFT): W = W0 + (α/r)·B·A with A [r,in] ~ kaiming-uniform(a=√5),
// B [out,r] = 0, W0 frozen. Implemented as a re-parameterisation: before each forward
// `apply()` sets each target Linear's weight to the merged product (gradients reach A and
// B through it), so the model code needs no adapter hooks; the cost is one extra weight
// copy per target. `merge()` writes W0 + (α/r)·B·A into the module's parameters for good.
class Lora {
 public:
  Lora(generator::CausalLMImpl& model, int64_t rank, double alpha,
       const std::vector<std::string>& targets, uint64_t seed);
  void apply();
  void merge();
  std::vector<torch::Tensor> parameters() const;  // A and B of every target
  size_t size() const { return adapters_.size(); }

 private:
  struct Adapter {
    std::string name;
    torch::nn::Linear linear{nullptr};
    torch::Tensor w0, a, b;
  };
  std::vector<Adapter> adapters_;
  double scale_;
};

// A content fingerprint of a checkpoint folder (config.json + safetensors bytes, sampled
// every 1 MiB beyond the first 64 MiB) for cache keys.
std::string model_fingerprint(const std::string& model_dir);

// Reference log-probs keyed by (model fingerprint, token ids, prompt length).
class ReferenceCache {
 public:
  explicit ReferenceCache(std::string fingerprint) : fingerprint_(std::move(fingerprint)) {}
  uint64_t key(const Sequence& s) const;
  std::optional<double> get(const Sequence& s) const;
  void put(const Sequence& s, double value) { values_[key(s)] = value; }
  size_t size() const { return values_.size(); }
  // Computes the missing ones with `model` (no grad), `batch` sequences per forward, in
  // `compute` precision (sequence_logps).
  void fill(generator::CausalLMImpl& model, const std::vector<const Sequence*>& seqs, int64_t batch,
            torch::ScalarType compute = torch::kFloat32);
  // Computes `seqs` as one batch (exactly that padding) when any is missing.
  void fill_exact(generator::CausalLMImpl& model, const std::vector<const Sequence*>& seqs,
                  torch::ScalarType compute = torch::kFloat32);
  // [B] float32 on `device`; every sequence must be present (a programming error if not).
  torch::Tensor lookup(const std::vector<const Sequence*>& seqs, const torch::Device& device) const;
  // JSONL {"key": hex, "logp": value}; entries of other fingerprints never match.
  Status load(const std::string& path);
  Status save(const std::string& path) const;

 private:
  std::string fingerprint_;
  std::unordered_map<uint64_t, double> values_;
};

// HF transformers' schedules: linear (warm-up then linear decay to 0 at `total`), cosine
// (warm-up then half cosine to 0), constant (warm-up then flat). `step` counts from 0.
double schedule_lr(const std::string& kind, double base, int64_t step, int64_t total,
                   int64_t warmup);

// The micro-batches (indices into the examples) of every optimizer step.
using StepPlan = std::vector<std::vector<std::vector<size_t>>>;
// Paired/SFT: reshuffled each epoch with seed + epoch. KTO: the given order every epoch
// (TRL's sequential sampler; the data was shuffled once after unpairing).
StepPlan plan_steps(size_t examples, int64_t epochs, int64_t batch_size, int64_t grad_accum,
                    bool shuffle_each_epoch, uint64_t seed, int64_t max_steps);

// The optimisation loop over tokenised data with an already loaded policy. The policy's
// parameters are the master weights the optimizer updates (fp32 for training; train()
// always loads them so); `options.dtype` picks the compute precision (compute_dtype()).
class Trainer {
 public:
  Trainer(generator::CausalLM policy, TrainOptions options);
  ~Trainer();

  void set_pairs(std::vector<TokenizedPair> pairs);
  void set_kto(std::vector<TokenizedKto> examples);

  // Every sequence whose reference log-prob the run needs (after the plan is fixed).
  std::vector<const Sequence*> reference_sequences();
  // Fills `cache` with `reference` (no grad), forward by forward as training will batch,
  // in the policy's compute precision (so step 0 reproduces the cached values exactly).
  void compute_reference(generator::CausalLMImpl& reference, ReferenceCache& cache);
  ReferenceCache& cache() { return *cache_; }
  void set_cache(std::unique_ptr<ReferenceCache> cache) { cache_ = std::move(cache); }

  // Keeps a frozen reference model in memory and runs its forwards inside each step
  // (paired losses other than SELM), instead of the cache.
  void set_reference_model(generator::CausalLM reference) { reference_ = std::move(reference); }

  int64_t total_steps();
  const StepPlan& plan();
  // One optimizer step (AdamW, clipping) at learning rate `lr`; returns its metrics.
  std::map<std::string, double> train_step(const std::vector<std::vector<size_t>>& step, double lr);
  // Runs the plan; `on_step(step, metrics)` after each optimizer step.
  Status run(const std::function<void(int64_t, const std::map<std::string, double>&)>& on_step);

  // Gradients of one step's loss without updating (for tests): returns the loss.
  double loss_and_grad(const std::vector<std::vector<size_t>>& micro_batches,
                       std::map<std::string, double>* metrics = nullptr);

  generator::CausalLMImpl& model() { return *policy_; }
  // kFloat32, or kBFloat16 for fp32 master weights with a bf16 autocast forward/backward.
  torch::ScalarType compute_dtype() const { return compute_; }
  std::vector<torch::Tensor> trainable() const { return trainable_; }
  Lora* lora() { return lora_.get(); }

 private:
  struct Job;
  std::vector<const Sequence*> kl_sequences(const std::vector<size_t>& micro);
  // The sequence groups one micro-batch's forwards use (chosen, rejected[, selm]; or the
  // KTO halves[, KL]).
  std::vector<std::vector<const Sequence*>> forward_groups(const std::vector<size_t>& micro);
  void run_jobs(std::vector<Job>& jobs);

  generator::CausalLM policy_;
  TrainOptions o_;
  torch::ScalarType compute_ = torch::kFloat32;
  std::vector<TokenizedPair> pairs_;
  std::vector<TokenizedKto> kto_;
  std::vector<std::vector<Sequence>> kl_store_;  // KL sequences per planned micro-batch
  std::map<std::vector<size_t>, size_t> kl_index_;
  std::optional<StepPlan> plan_;
  std::unique_ptr<ReferenceCache> cache_;
  std::unique_ptr<Lora> lora_;
  std::vector<torch::Tensor> trainable_;
  std::unique_ptr<ThreadPool> pool_;
  generator::CausalLM reference_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

}  // namespace dstc::trainer
