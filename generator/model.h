// Llama / Qwen2 decoder in LibTorch, with submodules named like Hugging Face's so that
// named_parameters() keys equal checkpoint keys ("model.layers.0.self_attn.q_proj.weight").
// Used by the generation engine (generator/engine.h) and by trainer/. This header includes
// <torch/torch.h>; only generator/ and trainer/ may include it.
//
// Follows transformers' modeling_llama.py / modeling_qwen2.py (eager attention):
//   h   = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))), n1 = rms(x)
//   out = h + down_proj(silu(gate_proj(n2)) * up_proj(n2)),                 n2 = rms(h)
// RoPE is rotate-half (dimension i pairs with i + d/2), GQA query head h uses kv head
// h / (heads / kv_heads).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "generator/checkpoint.h"

namespace dstc::generator {

// RMSNorm computed in fp32 then cast back: x * rsqrt(mean(x^2) + eps) * weight.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // [..., dim] -> [..., dim]
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// Key/value cache for incremental decoding. Rows are sequences; slots are positions in the
// cache (not token positions: with left padding a row's first real token sits at a later
// slot). Created by CausalLMImpl::make_cache; written in place (inference only).
struct KvCache {
  std::vector<torch::Tensor> k, v;  // per layer [B, kv_heads, capacity, head_dim]
  torch::Tensor key_valid;          // [B, capacity] bool: slot holds a real token
  torch::Tensor next_position;      // [B] int64: RoPE position of the row's next real token
  int64_t length = 0;               // slots used
  int64_t capacity = 0;
  bool all_valid = true;  // no padding slot so far (lets single-token decode skip the mask)

  int64_t batch() const { return key_valid.defined() ? key_valid.size(0) : 0; }
  // Keeps rows `rows` ([N] int64, on the cache's device) in that order, e.g. to drop
  // finished sequences or to repeat a prompt's cache for n samples.
  void select_rows(const torch::Tensor& rows);
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);
  // x [B,T,C]; cos/sin [B,T,head_dim]; allowed [B,1,1,T,S] bool or undefined (attend to all);
  // cache: if given, k/v are written at slots [cache->length, +T) of layer `layer` and the
  // attention runs over slots [0, length+T). Returns [B,T,C].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, KvCache* cache, int64_t layer);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [B,T,C] -> [B,T,C]
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, KvCache* cache, int64_t layer);
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// HF's "model" submodule: embed_tokens, layers, norm.
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(Decoder);

// LlamaForCausalLM / Qwen2ForCausalLM. Trainable: the forward without a cache uses no
// in-place operations on anything that requires grad.
class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& config);

  // input_ids [B,T] int64.
  // attention_mask [B,T] (1 = real token, 0 = padding; bool or integer) or undefined (all
  //   real). Left and right padding both work; padding never influences real tokens.
  // positions [B,T] int64 or undefined: RoPE positions; default cumsum(mask) - 1 (clamped
  //   at 0), continuing from cache->next_position when a cache is given (as HF generate()).
  // cache: optional (inference only, under torch::NoGradGuard / c10::InferenceMode).
  // Returns logits [B,T,vocab] in the model's dtype.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                        const torch::Tensor& positions = {}, KvCache* cache = nullptr);

  // Final hidden states before lm_head, same arguments: [B,T,hidden].
  torch::Tensor hidden_states(const torch::Tensor& input_ids,
                              const torch::Tensor& attention_mask = {},
                              const torch::Tensor& positions = {}, KvCache* cache = nullptr);
  // hidden [...,hidden] -> logits [...,vocab] (tied embeddings or lm_head).
  torch::Tensor logits_from_hidden(const torch::Tensor& hidden);

  // An empty cache for `batch` rows and `capacity` slots on the model's device/dtype.
  KvCache make_cache(int64_t batch, int64_t capacity);

  // RoPE tables for positions [B,T] int64: returns {cos, sin}, each [B,T,head_dim], fp32
  // computed then cast to `dtype`.
  std::pair<torch::Tensor, torch::Tensor> rope(const torch::Tensor& positions,
                                               torch::ScalarType dtype) const;

  const ModelConfig& config() const { return config_; }
  torch::Device device() const;
  torch::ScalarType dtype() const;

  Decoder model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tie_word_embeddings

 private:
  ModelConfig config_;
  torch::Tensor inv_freq_;  // [head_dim/2] fp32 on CPU (llama3 scaling applied)
};
TORCH_MODULE(CausalLM);

// RoPE inverse frequencies [head_dim/2] fp32, as HF modeling_rope_utils (default, llama3).
torch::Tensor rope_inv_freq(const ModelConfig& config);

struct LoadOptions {
  std::string device = "cpu";  // "cpu", "cuda", "cuda:1"
  // "float32", "bfloat16", "float16" or "auto" (float32 on CPU, bfloat16 on CUDA).
  std::string dtype = "float32";
};

// Parses a device/dtype pair; errors for unknown names or CUDA missing from this LibTorch.
Result<torch::Device> parse_device(const std::string& device);
Result<torch::ScalarType> parse_compute_dtype(const std::string& dtype,
                                              const torch::Device& device);

// Builds the model from a checkpoint: checks every expected tensor (name, shape, dtype)
// and copies it (upcast exactly to fp32, then to the requested dtype/device).
Result<CausalLM> load_causal_lm(const Checkpoint& checkpoint, const LoadOptions& options = {});
Result<CausalLM> load_causal_lm(const std::string& model_dir, const LoadOptions& options = {});

// Writes config.json and the weights (one file, or shards of at most max_shard_bytes plus
// model.safetensors.index.json when that is > 0 and exceeded) in `storage` dtype. The folder
// is created if missing. Tied models write no lm_head.weight.
Status save_checkpoint(CausalLMImpl& model, const std::string& model_dir,
                       DType storage = DType::kF32, uint64_t max_shard_bytes = 0);

class CpuDecoder;  // generator/cpu_decode.h
namespace cpu {
class WorkerPool;  // generator/cpu_pool.h
}

// The inference-only CPU fast path for single-token decode steps (generator/cpu_decode.h):
// null unless the model is fp32 on the CPU with contiguous parameters. The decoder borrows
// the parameters' storage: it sees in-place updates, and must not outlive the model or a
// change of its device or dtype.
std::unique_ptr<CpuDecoder> make_cpu_decoder(CausalLMImpl& model);

// The same step as forward(tokens [B,1], {}, {}, &cache) (within float rounding), on the fast
// path: tokens [B] (one per cache row, each in the vocabulary) -> logits [B, vocab] written to
// `logits`, with the cache advanced by one slot. The cache comes from make_cache of the same
// model (fp32, CPU) and has room for one more slot. The pool's threads share the work.
// block_max: also each row's maxima of blocks of `block` logits (CpuDecoder::step).
void cpu_decode_step(CpuDecoder& decoder, KvCache& cache, const std::vector<int64_t>& tokens,
                     float* logits, cpu::WorkerPool& pool, float* block_max = nullptr,
                     int64_t block = 0);

// Deterministic random init from the project's RNG (same weights for a seed on every
// platform): linear/embedding N(0, 0.02), norms 1, biases 0.
void init_random(CausalLMImpl& model, uint64_t seed);

}  // namespace dstc::generator
