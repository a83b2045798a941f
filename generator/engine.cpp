#include "generator/engine.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "common/blas_threads.h"
#include "generator/cpu_decode.h"
#include "generator/model.h"

namespace dstc::generator {

namespace {
using Clock = std::chrono::steady_clock;
// at::set_num_threads does not reach OpenBLAS's own pool (DESIGN.md §8); set both
// (common/blas_threads.h).
void set_threads(int n) {
  set_blas_threads(n);
  if (n > 0) at::set_num_threads(n);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One sequence being generated.
struct Row {
  size_t prompt = 0;  // index into the request's prompts
  int64_t sample = 0;
  Rng rng{0};
  std::vector<int32_t> out;
  std::string text;  // decoded output, maintained only when stop strings are in use
  std::string finish;
  bool done = false;
};
}  // namespace

struct LocalEngine::Impl {
  std::shared_ptr<CausalLMImpl> model;
  EngineOptions options;
  std::string model_dir;
  std::shared_ptr<const TextCodec> codec;
  GenerationStats stats;
  // Threads of the CPU decode path and of the sampler (kept between calls; idle helpers
  // sleep).
  std::unique_ptr<cpu::WorkerPool> pool;
  // The CPU decode path's decoder, whose packed weight copies take milliseconds to build
  // (S: 20 MB), kept between calls while the model's parameters are the same storage,
  // unchanged: the same data pointers and version counters (which every in-place change,
  // such as an optimizer step on a model the caller shares, bumps) as when it was built. The
  // parameters it was built from are held, so that their storage (which the decoder reads)
  // cannot be freed and its address reused by a replacement.
  std::unique_ptr<CpuDecoder> decoder;
  struct Held {
    torch::Tensor tensor;
    const void* data;
    int64_t version;
  };
  std::vector<Held> decoder_weights;

  CpuDecoder* cpu_decoder() {
    const auto params = model->parameters();
    bool same = decoder != nullptr && params.size() == decoder_weights.size();
    for (size_t i = 0; same && i < params.size(); ++i)
      same = params[i].data_ptr() == decoder_weights[i].data &&
             params[i]._version() == decoder_weights[i].version;
    if (!same) {
      decoder = make_cpu_decoder(*model);
      decoder_weights.clear();
      for (const auto& p : params) decoder_weights.push_back({p, p.data_ptr(), p._version()});
    }
    return decoder.get();
  }

  // logits [B,V] (any device/dtype) -> host fp32 contiguous.
  static torch::Tensor to_host(const torch::Tensor& logits) {
    return logits.to(torch::kCPU, torch::kFloat32).contiguous();
  }

  Status run_group(const std::vector<std::vector<int32_t>>& prompts, std::vector<Row*> rows,
                   const SamplingParams& params, const std::set<int32_t>& stops);
};

Status write_random_checkpoint(const ModelConfig& config, uint64_t seed, const std::string& dir,
                               DType storage) {
  DSTC_CHECK_OK(config.validate());
  CausalLM model(config);
  init_random(*model, seed);
  return save_checkpoint(*model, dir, storage);
}

LocalEngine::LocalEngine() : impl_(std::make_unique<Impl>()) {}
LocalEngine::~LocalEngine() = default;

Result<std::unique_ptr<LocalEngine>> LocalEngine::load(const std::string& model_dir,
                                                       const EngineOptions& options) {
  set_threads(options.num_threads);
  LoadOptions lo;
  lo.device = options.device;
  lo.dtype = options.dtype;
  DSTC_TRY(CausalLM model, load_causal_lm(model_dir, lo));
  auto engine = from_model(model.ptr(), options);
  engine->impl_->model_dir = model_dir;
  return engine;
}

std::unique_ptr<LocalEngine> LocalEngine::from_model(std::shared_ptr<CausalLMImpl> model,
                                                     const EngineOptions& options) {
  std::unique_ptr<LocalEngine> e(new LocalEngine());
  e->impl_->model = std::move(model);
  e->impl_->options = options;
  e->impl_->model_dir = "<memory>";
  return e;
}

std::string LocalEngine::describe() const { return "local:" + impl_->model_dir; }
void LocalEngine::set_codec(std::shared_ptr<const TextCodec> codec) {
  impl_->codec = std::move(codec);
}
const ModelConfig& LocalEngine::config() const { return impl_->model->config(); }
GenerationStats LocalEngine::last_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_->stats;
}

Result<std::vector<float>> LocalEngine::prompt_logits(const std::vector<int32_t>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& c = impl_->model->config();
  if (ids.empty()) return fail(ErrorCode::kInvalidArgument, "empty prompt");
  for (int32_t id : ids)
    if (id < 0 || id >= c.vocab_size)
      return fail(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                   " outside the vocabulary [0, " +
                                                   std::to_string(c.vocab_size) + ")");
  c10::InferenceMode guard;
  auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64)
                   .unsqueeze(0)
                   .to(impl_->model->device());
  auto hidden = impl_->model->hidden_states(input);
  auto logits = Impl::to_host(impl_->model->logits_from_hidden(hidden.select(1, -1))[0]);
  return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
}

Result<std::vector<std::vector<Completion>>> LocalEngine::generate(
    const std::vector<Prompt>& prompts, const SamplingParams& params) {
  std::lock_guard<std::mutex> lock(mu_);
  Impl& im = *impl_;
  set_threads(im.options.num_threads);
  const auto& cfg = im.model->config();
  if (params.n < 1) return fail(ErrorCode::kInvalidArgument, "n must be >= 1");
  if (params.max_new_tokens < 0)
    return fail(ErrorCode::kInvalidArgument, "max_new_tokens must be >= 0");
  if (!params.is_greedy() && !(params.top_p > 0.0 && params.top_p <= 1.0))
    return fail(ErrorCode::kInvalidArgument, "top_p must be in (0, 1]");
  if (!params.stop.empty() && !im.codec)
    return fail(ErrorCode::kInvalidArgument,
                "stop strings need a tokenizer (tokenizer.json in the model folder)");
  std::vector<std::vector<int32_t>> ids(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].has_ids()) {
      ids[i] = prompts[i].ids;
    } else if (im.codec) {
      ids[i] = im.codec->encode(prompts[i].text);
    }
    if (ids[i].empty())
      return fail(ErrorCode::kInvalidArgument, "prompt " + std::to_string(i) +
                                                   (im.codec || prompts[i].text.empty()
                                                        ? " is empty"
                                                        : " is text but no tokenizer is loaded"));
    for (int32_t id : ids[i])
      if (id < 0 || id >= cfg.vocab_size)
        return fail(ErrorCode::kInvalidArgument,
                    "prompt " + std::to_string(i) + ": token id " + std::to_string(id) +
                        " outside the vocabulary [0, " + std::to_string(cfg.vocab_size) + ")");
  }
  std::set<int32_t> stops(params.stop_token_ids.begin(), params.stop_token_ids.end());
  if (!params.ignore_eos)
    for (int64_t e : cfg.eos_token_ids) stops.insert(static_cast<int32_t>(e));

  std::vector<Row> rows;
  rows.reserve(prompts.size() * params.n);
  for (size_t p = 0; p < prompts.size(); ++p)
    for (int64_t s = 0; s < params.n; ++s) {
      Row r;
      r.prompt = p;
      r.sample = s;
      r.rng = Rng(Rng::derive(params.seed, p, static_cast<uint64_t>(s)));
      rows.push_back(std::move(r));
    }
  im.stats = GenerationStats{};
  im.stats.sequences = static_cast<int64_t>(rows.size());
  const size_t group = static_cast<size_t>(std::max<int64_t>(1, im.options.max_batch));
  for (size_t start = 0; start < rows.size(); start += group) {
    std::vector<Row*> chunk;
    for (size_t i = start; i < std::min(rows.size(), start + group); ++i) chunk.push_back(&rows[i]);
    try {
      DSTC_CHECK_OK(im.run_group(ids, chunk, params, stops));
    } catch (const std::exception& e) {
      return fail(ErrorCode::kInternal, std::string("generation failed: ") + e.what());
    }
  }
  std::vector<std::vector<Completion>> out(prompts.size());
  for (auto& r : rows) {
    Completion c;
    c.ids = std::move(r.out);
    c.finish_reason = r.finish;
    if (im.codec) c.text = r.text.empty() ? im.codec->decode(c.ids) : r.text;
    out[r.prompt].push_back(std::move(c));
  }
  return out;
}

Status LocalEngine::Impl::run_group(const std::vector<std::vector<int32_t>>& prompts,
                                    std::vector<Row*> rows, const SamplingParams& params,
                                    const std::set<int32_t>& stops) {
  c10::InferenceMode guard;
  const auto dev = model->device();
  const int64_t vocab = model->config().vocab_size;
  const int threads = std::max(1, at::get_num_threads());
  if (!pool || pool->threads() != threads) pool = std::make_unique<cpu::WorkerPool>(threads);
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  if (params.max_new_tokens == 0) {
    for (Row* r : rows) r->finish = "length";
    return {};
  }

  // Distinct prompts of this group, prefilled once each (left-padded to the longest).
  std::vector<size_t> uniq;
  std::map<size_t, int64_t> slot_of;
  for (Row* r : rows)
    if (!slot_of.count(r->prompt)) {
      slot_of[r->prompt] = static_cast<int64_t>(uniq.size());
      uniq.push_back(r->prompt);
    }
  int64_t max_len = 0;
  for (size_t p : uniq) max_len = std::max<int64_t>(max_len, prompts[p].size());
  const int64_t U = static_cast<int64_t>(uniq.size());
  auto input = torch::zeros({U, max_len}, i64);
  auto mask = torch::zeros({U, max_len}, i64);
  bool padded = false;
  for (int64_t u = 0; u < U; ++u) {
    const auto& p = prompts[uniq[u]];
    const int64_t pad = max_len - static_cast<int64_t>(p.size());
    padded |= pad > 0;
    auto* in = input[u].data_ptr<int64_t>();
    auto* m = mask[u].data_ptr<int64_t>();
    for (size_t t = 0; t < p.size(); ++t) {
      in[pad + t] = p[t];
      m[pad + t] = 1;
    }
  }
  input = input.to(dev);
  torch::Tensor mask_dev = padded ? mask.to(dev) : torch::Tensor();

  // Each row's token history (prompt, left-padded, then new tokens) for the no-cache baseline.
  const bool use_cache = options.use_cache;
  auto t0 = Clock::now();  // prefill, and building the decoder when it has to
  // fp32 on the CPU, decode steps skip LibTorch (generator/cpu_decode.h); prefill stays eager.
  CpuDecoder* fast = use_cache && options.cpu_decode ? cpu_decoder() : nullptr;
  std::vector<float> fast_logits, fast_max;  // fast_max: the sampler's block maxima
  KvCache cache;
  torch::Tensor last_logits;  // [B,V] host fp32, row order = `rows`
  std::vector<int64_t> row_slot;
  for (Row* r : rows) row_slot.push_back(slot_of[r->prompt]);
  auto row_index = torch::tensor(row_slot, i64);
  torch::Tensor history, history_mask;  // no-cache: [B, len]
  if (use_cache) {
    cache = model->make_cache(U, max_len + params.max_new_tokens);
    auto hidden = model->hidden_states(input, mask_dev, {}, &cache);
    auto logits = model->logits_from_hidden(hidden.select(1, -1));  // [U,V]
    if (U != static_cast<int64_t>(rows.size())) {
      cache.select_rows(row_index.to(dev));
      logits = logits.index_select(0, row_index.to(dev));
    }
    last_logits = to_host(logits);
  } else {
    history = input.index_select(0, row_index.to(dev));
    history_mask = mask.index_select(0, row_index).to(dev);
    auto logits = model->forward(history, padded ? history_mask : torch::Tensor());
    last_logits = to_host(logits.select(1, -1));
  }
  stats.prefill_seconds += seconds_since(t0);

  std::vector<Row*> active = rows;
  const float* L = last_logits.data_ptr<float>();  // [active, vocab]
  std::vector<int32_t> sampled;
  std::vector<Rng*> rngs;
  Clock::time_point first_token_time;
  int64_t decode_tokens = 0;
  for (int64_t step = 0; step < params.max_new_tokens; ++step) {
    // Sample one token per active row (rows in parallel: each has its own RNG stream).
    sampled.resize(active.size());
    rngs.clear();
    for (Row* r : active) rngs.push_back(&r->rng);
    sample_tokens(L, static_cast<int64_t>(active.size()), vocab, params, rngs.data(),
                  sampled.data(), *pool, step > 0 && fast ? fast_max.data() : nullptr);
    std::vector<int64_t> next(active.size());
    std::vector<int64_t> keep;
    for (size_t b = 0; b < active.size(); ++b) {
      Row& r = *active[b];
      const int32_t tok = sampled[b];
      next[b] = tok;
      ++stats.new_tokens;
      if (step > 0) ++decode_tokens;
      if (stops.count(tok)) {
        r.done = true;
        r.finish = "stop";
      } else {
        r.out.push_back(tok);
        if (!params.stop.empty()) {
          r.text = codec->decode(r.out);
          size_t cut = std::string::npos;
          for (const auto& s : params.stop)
            if (!s.empty()) cut = std::min(cut, r.text.find(s));
          if (cut != std::string::npos) {
            r.text.resize(cut);
            r.done = true;
            r.finish = "stop";
          }
        }
        if (!r.done && static_cast<int64_t>(r.out.size()) >= params.max_new_tokens) {
          r.done = true;
          r.finish = "length";
        }
      }
      if (!r.done) keep.push_back(static_cast<int64_t>(b));
    }
    if (step == 0) first_token_time = Clock::now();
    if (keep.empty()) break;
    if (fast) {
      if (keep.size() != active.size()) {
        std::vector<Row*> still;
        std::vector<int64_t> kept_next;
        for (int64_t b : keep) {
          still.push_back(active[b]);
          kept_next.push_back(next[b]);
        }
        active = std::move(still);
        next = std::move(kept_next);
        cache.select_rows(torch::tensor(keep, i64));
      }
      fast_logits.resize(next.size() * vocab);
      fast_max.resize(next.size() * ((vocab + kSampleBlock - 1) / kSampleBlock));
      cpu_decode_step(*fast, cache, next, fast_logits.data(), *pool, fast_max.data(), kSampleBlock);
      L = fast_logits.data();
      continue;
    }
    auto next_t = torch::tensor(next, i64).unsqueeze(1);  // [B,1]
    if (keep.size() != active.size()) {
      auto keep_t = torch::tensor(keep, i64);
      std::vector<Row*> still;
      for (int64_t b : keep) still.push_back(active[b]);
      active = std::move(still);
      next_t = next_t.index_select(0, keep_t);
      auto keep_dev = keep_t.to(dev);
      if (use_cache) {
        cache.select_rows(keep_dev);
      } else {
        history = history.index_select(0, keep_dev);
        history_mask = history_mask.index_select(0, keep_dev);
      }
    }
    next_t = next_t.to(dev);
    torch::Tensor logits;
    if (use_cache) {
      auto hidden = model->hidden_states(next_t, {}, {}, &cache);  // [B,1,C]
      logits = model->logits_from_hidden(hidden.select(1, 0));
    } else {
      history = torch::cat({history, next_t}, 1);
      history_mask = torch::cat({history_mask, torch::ones_like(next_t)}, 1);
      logits = model->forward(history, padded ? history_mask : torch::Tensor()).select(1, -1);
    }
    last_logits = to_host(logits);
    L = last_logits.data_ptr<float>();
  }
  if (params.max_new_tokens > 1 && decode_tokens > 0) {
    stats.decode_seconds += seconds_since(first_token_time);
    stats.decode_tokens += decode_tokens;
  }
  return {};
}

}  // namespace dstc::generator
