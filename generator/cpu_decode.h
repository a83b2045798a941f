// Inference-only decoding of one new token per sequence on the CPU in fp32, without LibTorch
// operators: the same computation as CausalLMImpl::hidden_states + logits_from_hidden with a
// KV cache and one token per row (generator/model.h), on raw pointers to the model's weights
// and cache. At batch 1 eager LibTorch spends most of a step in per-operator overhead and in
// OpenBLAS packing the weights for sgemm; here every weight is streamed once per step by the
// kernels in generator/cpu_kernels.h, with the rows of each layer split into chunks that the
// threads of a cpu::WorkerPool claim (generator/cpu_pool.h). The layout of the step follows
// llama2.c's run.c forward() (rmsnorm, qkv matvecs, RoPE, attention over the cache, SwiGLU),
// extended to batches, GQA, biases and left-padded caches. Torch-free; generator/model.h builds the
// views (make_cpu_decoder, cpu_decode_step).
#pragma once

#include <cstdint>
#include <vector>

#include "generator/cpu_packed.h"
#include "generator/cpu_pool.h"

namespace dstc::generator {

// An fp32 Llama/Qwen2 model in host memory. The pointers borrow the model's tensors.
struct CpuModelView {
  int64_t hidden = 0, intermediate = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  float rms_eps = 0;
  const float* embed = nullptr;       // [vocab, hidden]
  const float* final_norm = nullptr;  // [hidden]
  const float* lm_head = nullptr;     // [vocab, hidden]; the embedding when tied
  std::vector<float> inv_freq;        // [head_dim/2] RoPE inverse frequencies
  struct Layer {
    const float *input_norm = nullptr, *post_norm = nullptr;             // [hidden]
    const float *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr;  // [out, in]
    const float *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr, *o_bias = nullptr;
    const float *gate = nullptr, *up = nullptr, *down = nullptr;
    const float *gate_bias = nullptr, *up_bias = nullptr, *down_bias = nullptr;  // or null
  };
  std::vector<Layer> layers;
};

// A KvCache's storage (generator/model.h) for one step.
struct CpuCacheView {
  std::vector<float*> k, v;                // per layer [batch, kv_heads, capacity, head_dim]
  const bool* key_valid = nullptr;         // [batch, capacity]; null: every slot < length is real
  const int64_t* next_position = nullptr;  // [batch] RoPE position of each row's new token
  int64_t length = 0, capacity = 0;        // slots used; the new token goes to slot `length`
};

class CpuDecoder {
 public:
  explicit CpuDecoder(CpuModelView model);

  // tokens [batch] -> logits [batch, vocab] (row-major). Writes the new keys and values at
  // slot cache.length (< capacity) of every row; the caller marks that slot valid and advances
  // length and next_position. The pool's threads share every layer's weight rows, or for
  // small models (set_row_split_bytes) the batch's rows through the layers, and then the
  // output layer's weight rows. block_max, when given: the largest logit of each row's blocks
  // of `block` logits as cpu::block_max gives them, [batch, ceil(vocab / block)], taken from
  // each chunk of the output layer while it is in cache (for the sampler: generator/sampling.h).
  void step(const int64_t* tokens, int64_t batch, const CpuCacheView& cache, float* logits,
            cpu::WorkerPool& pool, float* block_max = nullptr, int64_t block = 0);

  const CpuModelView& model() const { return m_; }
  // Layers' weights (bytes) up to which a multi-threaded step at batch >= 2 * threads gives
  // each thread a share of the rows rather than of every layer's weight rows (step()); tests
  // set 0 (never) and INT64_MAX (always) to run both ways.
  void set_row_split_bytes(int64_t bytes) { row_split_bytes_ = bytes; }
  // Weight groups (the output layer; all layers' matrices together) up to this size (bytes)
  // get packed copies (generator/cpu_packed.h) that the steps read instead; larger ones are
  // read where they are. The default is kDefaultMaxPackedBytes; tests set 0 to run without.
  void set_max_packed_bytes(int64_t bytes);
  static constexpr int64_t kDefaultMaxPackedBytes = int64_t{64} << 20;

 private:
  // Rows [b0, b0 + n) through every layer; `parallel` splits each phase on the pool.
  void layers(int64_t b0, int64_t n, const CpuCacheView& cache, cpu::WorkerPool& pool,
              bool parallel, std::vector<float>& xt);

  CpuModelView m_;
  // Copies of the weight matrices in row blocks (generator/cpu_packed.h), read instead of the
  // model's (set_max_packed_bytes). Empty: the model's own.
  struct PackedLayer {
    cpu::PackedRows q, k, v, o, gate, up, down;
  };
  cpu::PackedRows lm_head_packed_;
  std::vector<PackedLayer> layers_packed_;
  int64_t layer_bytes_ = 0;  // all layers' weight matrices
  // S's layers (3.2 MB) gain from the row split; M's (101 MB) would be streamed once per
  // thread.
  int64_t row_split_bytes_ = int64_t{4} << 20;
  // RoPE's cos and sin by position, [positions, head_dim]: head_dim/2 cosines, then as many
  // sines; extended as later positions come (libm's cos and sin for every row of every step
  // were ~10 us of S's 0.9 ms batch-16 step on 2 threads).
  std::vector<float> rope_;
  // Scratch reused between steps: x residual stream [B,C]; xn normed input [B,C];
  // q/att [B,H*d]; k/v [B,KV*d]; gate/up [B,I]; scores [B*KV, H/KV, capacity]; xt the input
  // of the current linear layer in panels of x^T (batches of cpu::kPanel rows and more).
  std::vector<float> x_, xn_, q_, k_, v_, att_, gate_, up_, scores_, xt_;
  std::vector<std::vector<float>> xt_parts_;  // a panel buffer per share of rows
};

}  // namespace dstc::generator
