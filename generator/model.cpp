#include "generator/model.h"

#include <cmath>
#include <filesystem>
#include <numbers>

#include "common/file.h"
#include "generator/cpu_decode.h"
#include "generator/sampling.h"

namespace dstc::generator {
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Modules

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto xf = x.to(torch::kFloat32);
  auto normed = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * normed.to(x.scalar_type());
}

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  const int64_t q = heads_ * head_dim_, kv = kv_heads_ * head_dim_;
  using torch::nn::LinearOptions;
  q_proj = register_module("q_proj",
                           torch::nn::Linear(LinearOptions(c.hidden_size, q).bias(c.qkv_bias())));
  k_proj = register_module("k_proj",
                           torch::nn::Linear(LinearOptions(c.hidden_size, kv).bias(c.qkv_bias())));
  v_proj = register_module("v_proj",
                           torch::nn::Linear(LinearOptions(c.hidden_size, kv).bias(c.qkv_bias())));
  o_proj = register_module("o_proj",
                           torch::nn::Linear(LinearOptions(q, c.hidden_size).bias(c.o_bias())));
}

namespace {
// rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2]); x [..., d].
torch::Tensor rotate_half(const torch::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return torch::cat({-halves[1], halves[0]}, -1);
}
}  // namespace

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, const torch::Tensor& allowed,
                                     KvCache* cache, int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1), R = heads_ / kv_heads_, d = head_dim_;
  auto q = q_proj(x).view({B, T, heads_, d});
  auto k = k_proj(x).view({B, T, kv_heads_, d});
  auto v = v_proj(x).view({B, T, kv_heads_, d});
  auto c = cos.unsqueeze(2), s = sin.unsqueeze(2);  // [B,T,1,d]
  q = q * c + rotate_half(q) * s;
  k = k * c + rotate_half(k) * s;
  // Query heads of one kv group side by side: [B,KV,R*T,d], so one matmul per kv head
  // serves the whole group without repeating k/v (HF repeat_kv copies them).
  q = q.view({B, T, kv_heads_, R, d}).permute({0, 2, 3, 1, 4}).reshape({B, kv_heads_, R * T, d});
  k = k.transpose(1, 2);  // [B,KV,T,d]
  v = v.transpose(1, 2);
  if (cache != nullptr) {
    cache->k[layer].narrow(2, cache->length, T).copy_(k);
    cache->v[layer].narrow(2, cache->length, T).copy_(v);
    k = cache->k[layer].narrow(2, 0, cache->length + T);
    v = cache->v[layer].narrow(2, 0, cache->length + T);
  }
  const int64_t S = k.size(2);
  auto scores = torch::matmul(q, k.transpose(-1, -2)).to(torch::kFloat32) *
                (1.0 / std::sqrt(static_cast<double>(d)));  // [B,KV,R*T,S]
  if (allowed.defined()) {
    scores = scores.view({B, kv_heads_, R, T, S})
                 .masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity())
                 .view({B, kv_heads_, R * T, S});
  }
  auto probs = torch::softmax(scores, -1).to(v.scalar_type());
  auto out = torch::matmul(probs, v);  // [B,KV,R*T,d]
  out = out.view({B, kv_heads_, R, T, d}).permute({0, 3, 1, 2, 4}).reshape({B, T, heads_ * d});
  return o_proj(out);
}

MlpImpl::MlpImpl(const ModelConfig& c) {
  using torch::nn::LinearOptions;
  gate_proj = register_module(
      "gate_proj",
      torch::nn::Linear(LinearOptions(c.hidden_size, c.intermediate_size).bias(c.mlp_bias)));
  up_proj = register_module(
      "up_proj",
      torch::nn::Linear(LinearOptions(c.hidden_size, c.intermediate_size).bias(c.mlp_bias)));
  down_proj = register_module(
      "down_proj",
      torch::nn::Linear(LinearOptions(c.intermediate_size, c.hidden_size).bias(c.mlp_bias)));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c) {
  self_attn = register_module("self_attn", Attention(c));
  mlp = register_module("mlp", Mlp(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                        const torch::Tensor& sin, const torch::Tensor& allowed,
                                        KvCache* cache, int64_t layer) {
  auto h = x + self_attn(input_layernorm(x), cos, sin, allowed, cache, layer);
  return h + mlp(post_attention_layernorm(h));
}

DecoderImpl::DecoderImpl(const ModelConfig& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor rope_inv_freq(const ModelConfig& c) {
  // HF: 1 / base ** (arange(0, d, 2).float() / d), in float32.
  const int64_t d = c.head_dim;
  auto exponent = torch::arange(0, d, 2, torch::kInt64).to(torch::kFloat32) / static_cast<float>(d);
  auto inv = 1.0f / torch::pow(torch::tensor(static_cast<float>(c.rope_theta)), exponent);
  if (c.rope_scaling.type == "llama3") {
    // modeling_rope_utils._compute_llama3_parameters.
    const auto& r = c.rope_scaling;
    const double old_ctx = static_cast<double>(r.original_max_position_embeddings);
    const double lo_wl = old_ctx / r.low_freq_factor, hi_wl = old_ctx / r.high_freq_factor;
    auto wavelen = 2 * std::numbers::pi / inv;
    auto scaled = torch::where(wavelen > lo_wl, inv / r.factor, inv);
    auto smooth =
        (old_ctx / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    auto smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
    auto is_medium = (wavelen >= hi_wl).logical_and(wavelen <= lo_wl);
    inv = torch::where(is_medium, smoothed, scaled).to(torch::kFloat32);
  }
  return inv;
}

CausalLMImpl::CausalLMImpl(const ModelConfig& c) : config_(c) {
  model = register_module("model", Decoder(c));
  if (!c.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.vocab_size).bias(false)));
  }
  inv_freq_ = rope_inv_freq(c);
}

torch::Device CausalLMImpl::device() const { return model->norm->weight.device(); }
torch::ScalarType CausalLMImpl::dtype() const { return model->norm->weight.scalar_type(); }

std::pair<torch::Tensor, torch::Tensor> CausalLMImpl::rope(const torch::Tensor& positions,
                                                           torch::ScalarType dtype) const {
  auto inv = inv_freq_.to(positions.device());
  auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv;  // [B,T,d/2]
  auto emb = torch::cat({freqs, freqs}, -1);                       // [B,T,d]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

KvCache CausalLMImpl::make_cache(int64_t batch, int64_t capacity) {
  KvCache cache;
  auto opts = torch::TensorOptions().device(device()).dtype(dtype());
  // Zeroed, not empty: on the CPU an empty cache's pages are first touched by the decode
  // steps that write their slots, each fault costing more than a step's attention reads.
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    cache.k.push_back(
        torch::zeros({batch, config_.num_key_value_heads, capacity, config_.head_dim}, opts));
    cache.v.push_back(
        torch::zeros({batch, config_.num_key_value_heads, capacity, config_.head_dim}, opts));
  }
  cache.key_valid = torch::zeros({batch, capacity}, opts.dtype(torch::kBool));
  cache.next_position = torch::zeros({batch}, opts.dtype(torch::kInt64));
  cache.capacity = capacity;
  return cache;
}

void KvCache::select_rows(const torch::Tensor& rows) {
  for (auto& t : k) t = t.index_select(0, rows);
  for (auto& t : v) t = t.index_select(0, rows);
  key_valid = key_valid.index_select(0, rows);
  next_position = next_position.index_select(0, rows);
}

torch::Tensor CausalLMImpl::hidden_states(const torch::Tensor& input_ids,
                                          const torch::Tensor& attention_mask,
                                          const torch::Tensor& positions, KvCache* cache) {
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  const auto dev = input_ids.device();
  torch::Tensor mask;  // [B,T] bool, or undefined = all real
  if (attention_mask.defined()) mask = attention_mask.to(dev).to(torch::kBool);
  torch::Tensor pos = positions;
  if (!pos.defined()) {
    if (mask.defined()) {
      pos = mask.to(torch::kInt64).cumsum(1) - 1;
      pos = pos.clamp_min(0);
    } else {
      pos = torch::arange(T, torch::TensorOptions().device(dev).dtype(torch::kInt64))
                .unsqueeze(0)
                .expand({B, T});
    }
    if (cache != nullptr) pos = pos + cache->next_position.unsqueeze(1);
  }
  auto [cos, sin] = rope(pos, dtype());

  // allowed[b, t, s]: key slot s is visible to query t. Keys: the cache's valid slots, then
  // the new tokens (causal). A query always sees itself, so padding rows never softmax over
  // nothing (their outputs are ignored; real queries never see padding keys).
  const int64_t past = cache != nullptr ? cache->length : 0;
  const int64_t S = past + T;
  torch::Tensor allowed;
  // Without padding, a single new token may see every key: skip the mask (decode fast path).
  bool mask_all_real = !mask.defined();
  if (mask.defined() && cache != nullptr) mask_all_real = mask.all().item<bool>();
  bool trivial = T == 1 && mask_all_real && (cache == nullptr || cache->all_valid);
  if (cache != nullptr) {
    if (mask_all_real) {
      cache->key_valid.narrow(1, past, T).fill_(true);
    } else {
      cache->key_valid.narrow(1, past, T).copy_(mask);
      cache->all_valid = false;
    }
  }
  if (!trivial) {
    auto idx = torch::TensorOptions().device(dev).dtype(torch::kInt64);
    auto q_slot = torch::arange(past, S, idx).unsqueeze(1);  // [T,1]
    auto k_slot = torch::arange(0, S, idx).unsqueeze(0);     // [1,S]
    auto causal = (k_slot <= q_slot).unsqueeze(0);           // [1,T,S]
    auto diag = (k_slot == q_slot).unsqueeze(0);
    torch::Tensor key_ok;  // [B,S] or undefined (all keys real)
    if (cache != nullptr) {
      if (!cache->all_valid) key_ok = cache->key_valid.narrow(1, 0, S);
    } else if (mask.defined()) {
      key_ok = mask;
    }
    allowed = key_ok.defined() ? causal.logical_and(key_ok.unsqueeze(1)).logical_or(diag)
                               : causal.expand({B, T, S});
    allowed = allowed.reshape({B, 1, 1, T, S});
  }

  auto x = model->embed_tokens(input_ids);
  for (int64_t i = 0; i < static_cast<int64_t>(model->layers->size()); ++i) {
    x = model->layers[i]->as<DecoderLayer>()->forward(x, cos, sin, allowed, cache, i);
  }
  if (cache != nullptr) {
    cache->length += T;
    auto added =
        mask.defined() ? mask.to(torch::kInt64).sum(1) : torch::full({B}, T, pos.options());
    cache->next_position = cache->next_position + added;
  }
  return model->norm(x);
}

torch::Tensor CausalLMImpl::logits_from_hidden(const torch::Tensor& hidden) {
  if (lm_head) return lm_head(hidden);
  return torch::nn::functional::linear(hidden, model->embed_tokens->weight);
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& input_ids,
                                    const torch::Tensor& attention_mask,
                                    const torch::Tensor& positions, KvCache* cache) {
  return logits_from_hidden(hidden_states(input_ids, attention_mask, positions, cache));
}

// ---------------------------------------------------------------------------------------
// CPU decode fast path

std::unique_ptr<CpuDecoder> make_cpu_decoder(CausalLMImpl& model) {
  if (!model.device().is_cpu() || model.dtype() != torch::kFloat32) return nullptr;
  for (const auto& p : model.parameters())
    if (!p.is_contiguous() || p.scalar_type() != torch::kFloat32) return nullptr;
  const ModelConfig& c = model.config();
  auto ptr = [](const torch::Tensor& t) -> const float* {
    return t.defined() ? t.data_ptr<float>() : nullptr;
  };
  CpuModelView v;
  v.hidden = c.hidden_size;
  v.intermediate = c.intermediate_size;
  v.heads = c.num_attention_heads;
  v.kv_heads = c.num_key_value_heads;
  v.head_dim = c.head_dim;
  v.vocab = c.vocab_size;
  v.rms_eps = static_cast<float>(c.rms_norm_eps);
  v.embed = ptr(model.model->embed_tokens->weight);
  v.final_norm = ptr(model.model->norm->weight);
  v.lm_head = model.lm_head ? ptr(model.lm_head->weight) : v.embed;
  auto inv = rope_inv_freq(c).contiguous();
  v.inv_freq.assign(inv.data_ptr<float>(), inv.data_ptr<float>() + inv.numel());
  for (const auto& module : *model.model->layers) {
    auto& layer = *module->as<DecoderLayer>();
    auto& a = *layer.self_attn;
    auto& m = *layer.mlp;
    CpuModelView::Layer l;
    l.input_norm = ptr(layer.input_layernorm->weight);
    l.post_norm = ptr(layer.post_attention_layernorm->weight);
    l.q = ptr(a.q_proj->weight);
    l.k = ptr(a.k_proj->weight);
    l.v = ptr(a.v_proj->weight);
    l.o = ptr(a.o_proj->weight);
    l.q_bias = ptr(a.q_proj->bias);
    l.k_bias = ptr(a.k_proj->bias);
    l.v_bias = ptr(a.v_proj->bias);
    l.o_bias = ptr(a.o_proj->bias);
    l.gate = ptr(m.gate_proj->weight);
    l.up = ptr(m.up_proj->weight);
    l.down = ptr(m.down_proj->weight);
    l.gate_bias = ptr(m.gate_proj->bias);
    l.up_bias = ptr(m.up_proj->bias);
    l.down_bias = ptr(m.down_proj->bias);
    v.layers.push_back(l);
  }
  return std::make_unique<CpuDecoder>(std::move(v));
}

void cpu_decode_step(CpuDecoder& decoder, KvCache& cache, const std::vector<int64_t>& tokens,
                     float* logits, cpu::WorkerPool& pool, float* block_max, int64_t block) {
  const int64_t B = static_cast<int64_t>(tokens.size());
  const CpuModelView& m = decoder.model();
  TORCH_CHECK(B == cache.batch(), "cpu_decode_step: ", B, " tokens for ", cache.batch(),
              " cache rows");
  TORCH_CHECK(cache.length < cache.capacity, "cpu_decode_step: the cache is full (", cache.capacity,
              " slots)");
  TORCH_CHECK(cache.k.size() == m.layers.size(), "cpu_decode_step: cache of another model");
  for (int64_t t : tokens)
    TORCH_CHECK(t >= 0 && t < m.vocab, "cpu_decode_step: token id ", t, " outside the vocabulary");
  auto check = [&](const torch::Tensor& t, torch::ScalarType type) {
    TORCH_CHECK(
        t.device().is_cpu() && t.scalar_type() == type && t.is_contiguous() && t.size(0) == B,
        "cpu_decode_step: the cache is not a contiguous CPU cache of this model");
  };
  CpuCacheView view;
  for (size_t l = 0; l < cache.k.size(); ++l) {
    check(cache.k[l], torch::kFloat32);
    check(cache.v[l], torch::kFloat32);
    TORCH_CHECK(cache.k[l].size(1) == m.kv_heads && cache.k[l].size(2) == cache.capacity &&
                    cache.k[l].size(3) == m.head_dim && cache.v[l].sizes() == cache.k[l].sizes(),
                "cpu_decode_step: cache shape does not match the model");
    view.k.push_back(cache.k[l].data_ptr<float>());
    view.v.push_back(cache.v[l].data_ptr<float>());
  }
  check(cache.key_valid, torch::kBool);
  check(cache.next_position, torch::kInt64);
  bool* key_valid = cache.key_valid.data_ptr<bool>();
  int64_t* next_position = cache.next_position.data_ptr<int64_t>();
  view.key_valid = cache.all_valid ? nullptr : key_valid;
  view.next_position = next_position;
  view.length = cache.length;
  view.capacity = cache.capacity;
  TORCH_CHECK(block_max == nullptr || block > 0, "cpu_decode_step: block maxima need a block size");
  decoder.step(tokens.data(), B, view, logits, pool, block_max, block);
  // The bookkeeping of hidden_states for one real token per row.
  for (int64_t b = 0; b < B; ++b) {
    key_valid[b * cache.capacity + cache.length] = true;
    ++next_position[b];
  }
  ++cache.length;
}

// ---------------------------------------------------------------------------------------
// Loading, saving, init

Result<torch::Device> parse_device(const std::string& device) {
  try {
    torch::Device d(device);
    if (d.is_cuda() && !torch::cuda::is_available())
      return fail(ErrorCode::kUnavailable,
                  "device '" + device + "': this LibTorch has no CUDA or no GPU is visible");
    if (!d.is_cpu() && !d.is_cuda())
      return fail(ErrorCode::kInvalidArgument, "device '" + device + "': use cpu or cuda[:N]");
    return d;
  } catch (const std::exception&) {
    return fail(ErrorCode::kInvalidArgument,
                "unknown device '" + device + "' (use cpu or cuda[:N])");
  }
}

Result<torch::ScalarType> parse_compute_dtype(const std::string& dtype,
                                              const torch::Device& device) {
  if (dtype == "auto") return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  if (dtype == "float32" || dtype == "fp32") return torch::kFloat32;
  if (dtype == "bfloat16" || dtype == "bf16") return torch::kBFloat16;
  if (dtype == "float16" || dtype == "fp16") return torch::kFloat16;
  return fail(ErrorCode::kInvalidArgument,
              "unknown dtype '" + dtype + "' (use float32, bfloat16, float16 or auto)");
}

Result<CausalLM> load_causal_lm(const Checkpoint& ckpt, const LoadOptions& options) {
  DSTC_TRY(torch::Device device, parse_device(options.device));
  DSTC_TRY(torch::ScalarType dtype, parse_compute_dtype(options.dtype, device));
  DSTC_CHECK_OK(ckpt.check_complete());
  CausalLM model(ckpt.config());
  {
    torch::NoGradGuard no_grad;
    for (auto& item : model->named_parameters()) {
      DSTC_TRY(auto entry, ckpt.tensor(item.key()));
      auto& param = item.value();
      std::vector<int64_t> shape(param.sizes().begin(), param.sizes().end());
      if (entry.info->shape != shape)
        return fail(ErrorCode::kCorrupt, entry.file->path() + ": tensor '" + item.key() +
                                             "' shape does not match config.json");
      convert_to_f32(entry.info->dtype, entry.file->data(*entry.info),
                     static_cast<size_t>(entry.info->numel()), param.data_ptr<float>());
    }
  }
  model->to(device, dtype);
  model->eval();
  return model;
}

Result<CausalLM> load_causal_lm(const std::string& model_dir, const LoadOptions& options) {
  DSTC_TRY(Checkpoint ckpt, Checkpoint::open(model_dir));
  auto m = load_causal_lm(ckpt, options);
  if (!m) return fail(std::move(m).error().context("loading " + model_dir));
  return m;
}

Status save_checkpoint(CausalLMImpl& model, const std::string& model_dir, DType storage,
                       uint64_t max_shard_bytes) {
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  if (ec) return fail(ErrorCode::kIo, model_dir + ": " + ec.message());
  ModelConfig config = model.config();
  config.torch_dtype = storage == DType::kF32    ? "float32"
                       : storage == DType::kBF16 ? "bfloat16"
                                                 : "float16";
  // Convert every parameter to the storage dtype in host memory.
  struct Buf {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Buf> bufs;
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : model.named_parameters()) {
      auto t = item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
      Buf b;
      b.name = item.key();
      b.shape.assign(t.sizes().begin(), t.sizes().end());
      const float* src = t.data_ptr<float>();
      const size_t n = static_cast<size_t>(t.numel());
      b.bytes.resize(n * dtype_size(storage));
      if (storage == DType::kF32) {
        std::memcpy(b.bytes.data(), src, n * 4);
      } else {
        auto* dst = reinterpret_cast<uint16_t*>(b.bytes.data());
        for (size_t i = 0; i < n; ++i)
          dst[i] = storage == DType::kBF16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
      }
      bufs.push_back(std::move(b));
    }
  }
  std::sort(bufs.begin(), bufs.end(), [](const Buf& a, const Buf& b) { return a.name < b.name; });
  // Group into shards in name order.
  std::vector<std::vector<TensorBytes>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& b : bufs) {
    if (max_shard_bytes > 0 && in_shard > 0 && in_shard + b.bytes.size() > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back({b.name, storage, b.shape, b.bytes.data(), b.bytes.size()});
    in_shard += b.bytes.size();
    total += b.bytes.size();
  }
  fs::remove(fs::path(model_dir) / "model.safetensors", ec);
  fs::remove(fs::path(model_dir) / "model.safetensors.index.json", ec);
  if (shards.size() == 1) {
    DSTC_CHECK_OK(
        write_safetensors((fs::path(model_dir) / "model.safetensors").string(), shards[0]));
  } else {
    Json weight_map = Json::object();
    char name[64];
    for (size_t i = 0; i < shards.size(); ++i) {
      std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      DSTC_CHECK_OK(write_safetensors((fs::path(model_dir) / name).string(), shards[i]));
      for (const auto& t : shards[i]) weight_map[t.name] = name;
    }
    Json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    DSTC_CHECK_OK(write_file_atomic((fs::path(model_dir) / "model.safetensors.index.json").string(),
                                    index.dump(2) + "\n"));
  }
  return write_config(model_dir, config);
}

void init_random(CausalLMImpl& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  Rng rng(seed);
  for (auto& item : model.named_parameters()) {
    auto t = torch::empty(item.value().sizes(), torch::kFloat32);
    float* p = t.data_ptr<float>();
    const int64_t n = t.numel();
    const std::string& name = item.key();
    const bool is_norm = name.find("norm.weight") != std::string::npos;
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    for (int64_t i = 0; i < n; ++i) {
      p[i] = is_norm ? 1.0f : is_bias ? 0.0f : static_cast<float>(0.02 * rng.normal());
    }
    item.value().copy_(t);
  }
}

}  // namespace dstc::generator
