#include "trainer/engine.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "common/blas_threads.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/progress.h"
#include "common/thread_pool.h"

namespace dstc::trainer {
namespace fs = std::filesystem;

PackedBatch pack(const std::vector<const Sequence*>& seqs, const torch::Device& device) {
  PackedBatch p;
  p.batch = static_cast<int64_t>(seqs.size());
  int64_t T = 1;
  for (const auto* s : seqs) T = std::max<int64_t>(T, static_cast<int64_t>(s->ids.size()));
  auto ids = torch::zeros({p.batch, T}, torch::kInt64);
  auto tokens = torch::zeros({p.batch}, torch::kFloat32);
  std::vector<int64_t> rows, cols, targets;
  auto* id = ids.data_ptr<int64_t>();
  for (int64_t b = 0; b < p.batch; ++b) {
    const Sequence& s = *seqs[static_cast<size_t>(b)];
    const int64_t n = static_cast<int64_t>(s.ids.size());
    for (int64_t t = 0; t < n; ++t) id[b * T + t] = s.ids[static_cast<size_t>(t)];
    // Token t is predicted by the logits at t − 1; a completion token at position 0
    // (empty prompt) has no prediction and is not counted.
    int64_t counted = 0;
    for (int64_t t = std::max<int64_t>(s.prompt_len, 1); t < n; ++t) {
      rows.push_back(b);
      cols.push_back(t - 1);
      targets.push_back(s.ids[static_cast<size_t>(t)]);
      ++counted;
    }
    tokens[b] = static_cast<float>(counted);
  }
  auto vec = [&](const std::vector<int64_t>& v) {
    return torch::tensor(v, torch::kInt64).to(device);
  };
  p.ids = ids.to(device);
  p.rows = rows.empty() ? torch::zeros({0}, torch::kInt64).to(device) : vec(rows);
  p.cols = cols.empty() ? torch::zeros({0}, torch::kInt64).to(device) : vec(cols);
  p.targets = targets.empty() ? torch::zeros({0}, torch::kInt64).to(device) : vec(targets);
  p.tokens = tokens.to(device);
  return p;
}

namespace {
// LibTorch ≥ 2.4 takes the device type (the older per-device calls are deprecated there);
// 1.13 (Debian) has only the per-device ones. Both are thread-local.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(bool cuda) {
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast(bool cuda, bool on, torch::ScalarType dtype) {
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on);
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
}
torch::ScalarType autocast_dtype(bool cuda) {
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
}
#else
bool autocast_enabled(bool cuda) {
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast(bool cuda, bool on, torch::ScalarType dtype) {
  if (cuda) {
    at::autocast::set_enabled(on);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(on);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}
torch::ScalarType autocast_dtype(bool cuda) {
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
#endif
}  // namespace

AutocastGuard::AutocastGuard(const torch::Device& device, torch::ScalarType dtype) {
  if (dtype == torch::kFloat32) return;
  active_ = true;
  cuda_ = device.is_cuda();
  prev_enabled_ = autocast_enabled(cuda_);
  prev_dtype_ = autocast_dtype(cuda_);
  set_autocast(cuda_, true, dtype);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // As torch.autocast.__exit__: the outermost exit drops the cached weight casts.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(cuda_, prev_enabled_, prev_dtype_);
}

torch::ScalarType compute_dtype(const std::string& dtype, const torch::Device& device) {
  if (dtype == "bfloat16" || dtype == "bf16") return torch::kBFloat16;
  if (dtype == "auto" && device.is_cuda()) return torch::kBFloat16;
  return torch::kFloat32;
}

torch::Tensor sequence_logps(generator::CausalLMImpl& model, const PackedBatch& b,
                             torch::ScalarType compute) {
  torch::Tensor logits;  // [N,V] fp32
  {
    AutocastGuard autocast(b.ids.device(), compute);
    auto hidden = model.hidden_states(b.ids);                  // [B,T,C]
    auto h = hidden.index({b.rows, b.cols});                   // [N,C]
    logits = model.logits_from_hidden(h).to(torch::kFloat32);  // [N,V]
  }
  // fp32 from here on, autocast off: log-softmax over the vocabulary must not round.
  auto lp = logits.log_softmax(-1).gather(1, b.targets.unsqueeze(1)).squeeze(1);           // [N]
  if (lp.is_cpu()) return torch::zeros({b.batch}, lp.options()).index_add(0, b.rows, lp);  // [B]
  // Elsewhere each row's sum goes through a dense [B,T] tensor: CUDA's index_add sums with
  // atomics, in a different order on every call (on an H200 the same forward's log-probs
  // moved by up to 8e-6, and step 0 missed ln 2 in about 1 run of 3); a row reduction is
  // deterministic. The CPU's index_add adds in order already, and keeps its results.
  auto dense = torch::zeros({b.batch, b.ids.size(1)}, lp.options());
  return dense.index_put({b.rows, b.cols}, lp).sum(1);  // [B]
}

// ---------------------------------------------------------------------------- LoRA

Lora::Lora(generator::CausalLMImpl& model, int64_t rank, double alpha,
           const std::vector<std::string>& targets, uint64_t seed)
    : scale_(alpha / static_cast<double>(rank)) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (const auto& item : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(item.value());
    if (!linear) continue;
    const std::string& name = item.key();
    const std::string last = name.substr(name.rfind('.') + 1);
    if (std::find(targets.begin(), targets.end(), last) == targets.end()) continue;
    Adapter a;
    a.name = name;
    a.linear = torch::nn::Linear(linear);
    a.w0 = linear->weight.detach();
    const int64_t in = a.w0.size(1), out = a.w0.size(0);
    // kaiming_uniform(a = √5) on [r, in]: bound = 1/√in (PEFT / nn.Linear default).
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    a.a = torch::empty({rank, in}, torch::kFloat32)
              .uniform_(-bound, bound, gen)
              .to(a.w0.device(), a.w0.scalar_type())
              .requires_grad_(true);
    a.b = torch::zeros({out, rank}, a.w0.options()).requires_grad_(true);
    adapters_.push_back(std::move(a));
  }
}

void Lora::apply() {
  for (auto& a : adapters_) a.linear->weight = a.w0 + scale_ * torch::mm(a.b, a.a);
}

void Lora::merge() {
  torch::NoGradGuard no_grad;
  for (auto& a : adapters_) {
    auto merged = a.w0.to(torch::kFloat32) +
                  scale_ * torch::mm(a.b.to(torch::kFloat32), a.a.to(torch::kFloat32));
    a.w0.copy_(merged.to(a.w0.scalar_type()));
    a.b.zero_();
    // Back to the registered parameter (w0 shares its storage), as save_checkpoint reads it.
    a.linear->weight = a.linear->named_parameters(false)["weight"];
  }
}

std::vector<torch::Tensor> Lora::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& a : adapters_) {
    out.push_back(a.a);
    out.push_back(a.b);
  }
  return out;
}

// ------------------------------------------------------------------ reference cache

std::string model_fingerprint(const std::string& model_dir) {
  uint64_t h = fnv1a64("dstc-model-v1");
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(model_dir, ec)) {
    const auto name = e.path().filename().string();
    if (name == "config.json" || e.path().extension() == ".safetensors") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  constexpr size_t kFull = 64u << 20, kStride = 1u << 20, kSample = 4096;
  std::vector<char> buf(kSample);
  for (const auto& f : files) {
    h = fnv1a64(f.filename().string(), h);
    std::ifstream in(f, std::ios::binary);
    const auto size = static_cast<size_t>(fs::file_size(f, ec));
    h = fnv1a64(std::to_string(size), h);
    for (size_t off = 0; off < size;) {
      const size_t n = std::min(kSample, size - off);
      in.seekg(static_cast<std::streamoff>(off));
      in.read(buf.data(), static_cast<std::streamsize>(n));
      h = fnv1a64(std::string_view(buf.data(), n), h);
      off += off < kFull ? n : kStride;
    }
  }
  return hex64(h);
}

uint64_t ReferenceCache::key(const Sequence& s) const {
  uint64_t h = fnv1a64(fingerprint_);
  h = fnv1a64(std::string_view(reinterpret_cast<const char*>(&s.prompt_len), sizeof(int64_t)), h);
  return fnv1a64(
      std::string_view(reinterpret_cast<const char*>(s.ids.data()), s.ids.size() * sizeof(int32_t)),
      h);
}

std::optional<double> ReferenceCache::get(const Sequence& s) const {
  auto it = values_.find(key(s));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

void ReferenceCache::fill(generator::CausalLMImpl& model, const std::vector<const Sequence*>& seqs,
                          int64_t batch, torch::ScalarType compute) {
  std::vector<const Sequence*> missing;
  std::unordered_map<uint64_t, bool> seen;
  for (const auto* s : seqs) {
    const uint64_t k = key(*s);
    if (values_.count(k) || seen.count(k)) continue;
    seen[k] = true;
    missing.push_back(s);
  }
  if (missing.empty()) return;
  // Similar lengths together: less padding.
  std::stable_sort(missing.begin(), missing.end(), [](const Sequence* a, const Sequence* b) {
    return a->ids.size() < b->ids.size();
  });
  c10::InferenceMode inference;
  ProgressBar bar("reference log-probs", missing.size());
  for (size_t i = 0; i < missing.size(); i += static_cast<size_t>(batch)) {
    std::vector<const Sequence*> chunk(
        missing.begin() + static_cast<ptrdiff_t>(i),
        missing.begin() + static_cast<ptrdiff_t>(std::min(missing.size(), i + batch)));
    auto lp =
        sequence_logps(model, pack(chunk, model.device()), compute).to(torch::kCPU, torch::kDouble);
    for (size_t j = 0; j < chunk.size(); ++j)
      put(*chunk[j], lp[static_cast<int64_t>(j)].item<double>());
    bar.tick(chunk.size());
  }
}

void ReferenceCache::fill_exact(generator::CausalLMImpl& model,
                                const std::vector<const Sequence*>& seqs,
                                torch::ScalarType compute) {
  bool missing = false;
  for (const auto* s : seqs) missing = missing || !values_.count(key(*s));
  if (!missing || seqs.empty()) return;
  c10::InferenceMode inference;
  auto lp =
      sequence_logps(model, pack(seqs, model.device()), compute).to(torch::kCPU, torch::kDouble);
  for (size_t j = 0; j < seqs.size(); ++j) {
    values_.emplace(key(*seqs[j]), lp[static_cast<int64_t>(j)].item<double>());
  }
}

torch::Tensor ReferenceCache::lookup(const std::vector<const Sequence*>& seqs,
                                     const torch::Device& device) const {
  std::vector<float> v;
  v.reserve(seqs.size());
  for (const auto* s : seqs) {
    auto got = get(*s);
    TORCH_CHECK(got.has_value(), "reference log-prob missing from the cache");
    v.push_back(static_cast<float>(*got));
  }
  return torch::tensor(v, torch::kFloat32).to(device);
}

Status ReferenceCache::load(const std::string& path) {
  if (!fs::exists(path)) return {};
  DSTC_TRY(auto text, read_file(path));
  return for_each_jsonl(text, path, [&](size_t, const Json& obj) -> Status {
    DSTC_TRY(auto k, json_string(obj, "key"));
    DSTC_TRY(double v, json_number(obj, "logp"));
    values_[std::stoull(k, nullptr, 16)] = v;
    return {};
  });
}

Status ReferenceCache::save(const std::string& path) const {
  std::string out;
  for (const auto& [k, v] : values_) {
    out += Json{{"key", hex64(k)}, {"logp", v}}.dump();
    out += '\n';
  }
  return write_file_atomic(path, out);
}

// ------------------------------------------------------------------------ schedule

double schedule_lr(const std::string& kind, double base, int64_t step, int64_t total,
                   int64_t warmup) {
  if (step < warmup)
    return base * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (kind == "constant") return base;
  const double progress = static_cast<double>(step - warmup) /
                          static_cast<double>(std::max<int64_t>(1, total - warmup));
  if (kind == "cosine") return base * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
  return base * std::max(0.0, 1.0 - progress);  // linear
}

StepPlan plan_steps(size_t n, int64_t epochs, int64_t batch_size, int64_t grad_accum,
                    bool shuffle_each_epoch, uint64_t seed, int64_t max_steps) {
  StepPlan plan;
  const size_t per_step = static_cast<size_t>(batch_size * grad_accum);
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    if (shuffle_each_epoch) seeded_permutation(order, seed + static_cast<uint64_t>(e));
    for (size_t s = 0; s < n; s += per_step) {
      std::vector<std::vector<size_t>> step;
      const size_t end = std::min(n, s + per_step);
      for (size_t m = s; m < end; m += static_cast<size_t>(batch_size)) {
        step.emplace_back(order.begin() + static_cast<ptrdiff_t>(m),
                          order.begin() + static_cast<ptrdiff_t>(
                                              std::min(end, m + static_cast<size_t>(batch_size))));
      }
      plan.push_back(std::move(step));
      if (max_steps >= 0 && static_cast<int64_t>(plan.size()) >= max_steps) return plan;
    }
  }
  return plan;
}

// ------------------------------------------------------------------------- trainer

namespace {
// Completion tokens that have a prediction (as pack() counts them).
int64_t counted_tokens(const Sequence& s) {
  return s.completion_len() - (s.prompt_len == 0 && !s.ids.empty() ? 1 : 0);
}
}  // namespace

struct Trainer::Job {
  std::vector<const Sequence*> seqs;
  bool grad = true;
  generator::CausalLMImpl* model = nullptr;  // null: the policy
  torch::Tensor logps;                       // [n] output, graph attached when grad
  torch::Tensor leaf;                        // detached copy the loss is built on
  PackedBatch packed;
};

Trainer::Trainer(generator::CausalLM policy, TrainOptions options)
    : policy_(std::move(policy)), o_(std::move(options)) {
  compute_ = trainer::compute_dtype(o_.dtype, policy_->device());
  policy_->train();
  if (o_.lora_rank > 0) {
    for (auto& p : policy_->parameters()) p.requires_grad_(false);
    lora_ = std::make_unique<Lora>(*policy_, o_.lora_rank, o_.lora_alpha, o_.lora_targets, o_.seed);
    trainable_ = lora_->parameters();
  } else {
    for (auto& p : policy_->parameters()) {
      p.requires_grad_(true);
      trainable_.push_back(p);
    }
  }
  if (o_.parallel > 1) pool_ = std::make_unique<ThreadPool>(static_cast<size_t>(o_.parallel));
  const int64_t threads = o_.threads > 0 ? o_.threads : (o_.parallel > 1 ? 1 : 0);
  // OpenBLAS's own workers as well (common/blas_threads.h); with threads 0 only its idle spin
  // is shortened.
  set_blas_threads(static_cast<int>(threads));
  if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
}

Trainer::~Trainer() = default;

void Trainer::set_pairs(std::vector<TokenizedPair> pairs) {
  pairs_ = std::move(pairs);
  plan_.reset();
}

void Trainer::set_kto(std::vector<TokenizedKto> examples) {
  kto_ = std::move(examples);
  plan_.reset();
}

const StepPlan& Trainer::plan() {
  if (!plan_) {
    const bool kto = o_.loss.type == LossType::kKto;
    plan_ = plan_steps(kto ? kto_.size() : pairs_.size(), o_.epochs, o_.batch_size, o_.grad_accum,
                       /*shuffle_each_epoch=*/!kto, o_.seed, o_.max_steps);
  }
  return *plan_;
}

int64_t Trainer::total_steps() { return static_cast<int64_t>(plan().size()); }

std::vector<const Sequence*> Trainer::kl_sequences(const std::vector<size_t>& micro) {
  auto it = kl_index_.find(micro);
  if (it == kl_index_.end()) {
    // TRL KTOTrainer: completions rotated by +1 inside the micro-batch, (x_i, y_{i−1}),
    // so no example meets its own completion. A single example has no mismatch: empty.
    std::vector<Sequence> kl;
    const size_t B = micro.size();
    if (B > 1) {
      for (size_t i = 0; i < B; ++i) {
        kl.push_back(mismatched(kto_[micro[i]].seq, kto_[micro[(i + B - 1) % B]].seq,
                                o_.tokenize.max_length));
      }
    }
    kl_store_.push_back(std::move(kl));
    it = kl_index_.emplace(micro, kl_store_.size() - 1).first;
  }
  std::vector<const Sequence*> out;
  for (const auto& s : kl_store_[it->second]) out.push_back(&s);
  return out;
}

std::vector<const Sequence*> Trainer::reference_sequences() {
  std::vector<const Sequence*> out;
  if (o_.loss.type == LossType::kSft) return out;
  if (o_.loss.type == LossType::kKto) {
    for (const auto& k : kto_) out.push_back(&k.seq);
    for (const auto& step : plan()) {
      for (const auto& micro : step) {
        for (const auto* s : kl_sequences(micro)) out.push_back(s);
      }
    }
    return out;
  }
  for (const auto& p : pairs_) {
    out.push_back(&p.chosen);
    out.push_back(&p.rejected);
    if (o_.loss.type == LossType::kSelm) out.push_back(&p.reference_response);
  }
  return out;
}

std::vector<std::vector<const Sequence*>> Trainer::forward_groups(
    const std::vector<size_t>& micro) {
  std::vector<std::vector<const Sequence*>> groups;
  if (o_.loss.type == LossType::kKto) {
    std::vector<const Sequence*> ex;
    for (size_t i : micro) ex.push_back(&kto_[i].seq);
    const size_t half = (ex.size() + 1) / 2;
    groups.emplace_back(ex.begin(), ex.begin() + static_cast<ptrdiff_t>(half));
    if (half < ex.size()) groups.emplace_back(ex.begin() + static_cast<ptrdiff_t>(half), ex.end());
    auto kl = kl_sequences(micro);
    if (!kl.empty()) groups.push_back(kl);
    return groups;
  }
  std::vector<const Sequence*> chosen, rejected, selm;
  for (size_t i : micro) {
    chosen.push_back(&pairs_[i].chosen);
    rejected.push_back(&pairs_[i].rejected);
    selm.push_back(&pairs_[i].reference_response);
  }
  groups.push_back(chosen);
  groups.push_back(rejected);
  if (o_.loss.type == LossType::kSelm) groups.push_back(selm);
  return groups;
}

void Trainer::compute_reference(generator::CausalLMImpl& reference, ReferenceCache& cache) {
  // Batched exactly as the training forwards will be (same groups, same padding), so at
  // step 0 the policy's log-probs equal the cached ones bit for bit and DPO starts at
  // ln 2 with rewards exactly 0. Later epochs regroup; the values differ by rounding only.
  size_t total = 0;
  for (const auto& step : plan()) total += step.size();
  ProgressBar bar("reference log-probs", total);
  for (const auto& step : plan()) {
    for (const auto& micro : step) {
      for (const auto& g : forward_groups(micro)) cache.fill_exact(reference, g, compute_);
      bar.tick();
    }
  }
}

void Trainer::run_jobs(std::vector<Job>& jobs) {
  auto device = policy_->device();
  auto forward = [&](size_t i) {
    Job& j = jobs[i];
    j.packed = pack(j.seqs, device);
    // sequence_logps sets autocast in this (worker) thread when compute_ is bf16.
    if (j.grad) {
      j.logps = sequence_logps(*policy_, j.packed, compute_);
    } else if (j.model) {
      c10::InferenceMode inference;
      j.logps = sequence_logps(*j.model, j.packed, compute_);
    } else {
      torch::NoGradGuard no_grad;
      j.logps = sequence_logps(*policy_, j.packed, compute_);
    }
    j.leaf = j.logps.detach().requires_grad_(j.grad);
  };
  if (o_.parallel > 1 && jobs.size() > 1) {
    const int threads = static_cast<int>(o_.threads > 0 ? o_.threads : 1);
    pool_->parallel_for(jobs.size(), [&](size_t i) {
      torch::set_num_threads(threads);  // per thread under OpenMP
      forward(i);
    });
  } else {
    for (size_t i = 0; i < jobs.size(); ++i) forward(i);
  }
}

double Trainer::loss_and_grad(const std::vector<std::vector<size_t>>& micro_batches,
                              std::map<std::string, double>* metrics_out) {
  const LossType type = o_.loss.type;
  // The step's denominators, so micro-batch losses add up to the large batch's.
  Denominators d;
  for (const auto& micro : micro_batches) {
    d.examples += static_cast<double>(micro.size());
    for (size_t i : micro) {
      if (type == LossType::kSft) {
        d.chosen_tokens += static_cast<double>(counted_tokens(pairs_[i].chosen));
      } else if (is_paired(type)) {
        d.chosen_tokens += static_cast<double>(counted_tokens(pairs_[i].chosen));
      }
    }
  }
  auto device = policy_->device();
  Metrics metrics;
  double total = 0;
  for (const auto& micro : micro_batches) {
    if (lora_) lora_->apply();
    std::vector<Job> jobs;
    auto add_job = [&](std::vector<const Sequence*> seqs, bool grad) {
      Job j;
      j.seqs = std::move(seqs);
      j.grad = grad;
      jobs.push_back(std::move(j));
      return jobs.size() - 1;
    };
    LossOutput out;
    if (type == LossType::kKto) {
      std::vector<const Sequence*> ex;
      std::vector<uint8_t> des;
      for (size_t i : micro) {
        ex.push_back(&kto_[i].seq);
        des.push_back(kto_[i].desirable ? 1 : 0);
      }
      auto kl = kl_sequences(micro);
      // Halves of the batch in parallel; the KL forward without grad (TRL).
      const size_t half = (ex.size() + 1) / 2;
      size_t j0 = add_job({ex.begin(), ex.begin() + static_cast<ptrdiff_t>(half)}, true);
      size_t j1 = half < ex.size()
                      ? add_job({ex.begin() + static_cast<ptrdiff_t>(half), ex.end()}, true)
                      : SIZE_MAX;
      size_t jk = kl.empty() ? SIZE_MAX : add_job(kl, false);
      run_jobs(jobs);
      auto cat = [&](size_t a, size_t b) {
        return b == SIZE_MAX ? jobs[a].leaf : torch::cat({jobs[a].leaf, jobs[b].leaf});
      };
      auto cat_tokens = [&](size_t a, size_t b) {
        return b == SIZE_MAX ? jobs[a].packed.tokens
                             : torch::cat({jobs[a].packed.tokens, jobs[b].packed.tokens});
      };
      SeqLogps s{cat(j0, j1), cache_->lookup(ex, device), cat_tokens(j0, j1)};
      SeqLogps k;
      if (jk != SIZE_MAX) {
        k = {jobs[jk].leaf, cache_->lookup(kl, device), jobs[jk].packed.tokens};
      } else {
        k = {torch::zeros({0}), torch::zeros({0}), torch::zeros({0})};
      }
      auto desirable = torch::tensor(std::vector<int64_t>(des.begin(), des.end())).to(device);
      out = kto_loss(o_.loss, s, desirable, k, d);
    } else {
      std::vector<const Sequence*> chosen, rejected, selm;
      for (size_t i : micro) {
        chosen.push_back(&pairs_[i].chosen);
        rejected.push_back(&pairs_[i].rejected);
        selm.push_back(&pairs_[i].reference_response);
      }
      if (type == LossType::kSft) {
        const size_t half = (chosen.size() + 1) / 2;
        size_t j0 = add_job({chosen.begin(), chosen.begin() + static_cast<ptrdiff_t>(half)}, true);
        size_t j1 =
            half < chosen.size()
                ? add_job({chosen.begin() + static_cast<ptrdiff_t>(half), chosen.end()}, true)
                : SIZE_MAX;
        run_jobs(jobs);
        SeqLogps s;
        s.policy = j1 == SIZE_MAX ? jobs[j0].leaf : torch::cat({jobs[j0].leaf, jobs[j1].leaf});
        s.tokens = j1 == SIZE_MAX ? jobs[j0].packed.tokens
                                  : torch::cat({jobs[j0].packed.tokens, jobs[j1].packed.tokens});
        out = sft_loss(o_.loss, s, d);
      } else {
        // Chosen and rejected as two independent forwards (TRL concatenates them into
        // one batch; two halves let two threads work on them).
        size_t jc = add_job(chosen, true);
        size_t jr = add_job(rejected, true);
        size_t js = type == LossType::kSelm ? add_job(selm, true) : SIZE_MAX;
        size_t jrc = SIZE_MAX, jrr = SIZE_MAX;
        if (reference_) {  // reference in memory: its forwards run beside the policy's
          jrc = add_job(chosen, false);
          jobs[jrc].model = reference_.get();
          jrr = add_job(rejected, false);
          jobs[jrr].model = reference_.get();
        }
        run_jobs(jobs);
        auto ref = [&](size_t j, const std::vector<const Sequence*>& seqs) {
          return j != SIZE_MAX ? jobs[j].leaf : cache_->lookup(seqs, device);
        };
        SeqLogps c{jobs[jc].leaf, ref(jrc, chosen), jobs[jc].packed.tokens};
        SeqLogps r{jobs[jr].leaf, ref(jrr, rejected), jobs[jr].packed.tokens};
        SeqLogps s;
        if (js != SIZE_MAX) {
          s = {jobs[js].leaf, cache_->lookup(selm, device), jobs[js].packed.tokens};
        }
        out = paired_loss(o_.loss, c, r, js != SIZE_MAX ? &s : nullptr, d);
      }
    }
    total += out.loss.item<double>();
    metrics.merge(out.metrics);
    // Gradients of the loss w.r.t. the sequence log-probs (cheap), then the expensive
    // backward through the model, one independent graph per job, in parallel.
    out.loss.backward();
    std::vector<size_t> grad_jobs;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].grad && jobs[i].leaf.grad().defined()) grad_jobs.push_back(i);
    }
    const bool retain = lora_ != nullptr;  // the LoRA weight products are shared by jobs
    auto backward = [&](size_t k) {
      Job& j = jobs[grad_jobs[k]];
      j.logps.backward(j.leaf.grad(), retain);
    };
    if (o_.parallel > 1 && grad_jobs.size() > 1) {
      const int threads = static_cast<int>(o_.threads > 0 ? o_.threads : 1);
      pool_->parallel_for(grad_jobs.size(), [&](size_t k) {
        torch::set_num_threads(threads);
        backward(k);
      });
    } else {
      for (size_t k = 0; k < grad_jobs.size(); ++k) backward(k);
    }
  }
  if (metrics_out) {
    *metrics_out = metrics.means();
    (*metrics_out)["loss"] = total;
    auto& m = *metrics_out;
    if (type == LossType::kKto && m.count("rewards/chosen") && m.count("rewards/rejected")) {
      m["rewards/margins"] = m["rewards/chosen"] - m["rewards/rejected"];
    }
  }
  return total;
}

std::map<std::string, double> Trainer::train_step(const std::vector<std::vector<size_t>>& step,
                                                  double lr) {
  if (!optimizer_) {
    optimizer_ =
        std::make_unique<torch::optim::AdamW>(trainable_, torch::optim::AdamWOptions(o_.lr)
                                                              .betas({o_.adam_beta1, o_.adam_beta2})
                                                              .eps(o_.adam_eps)
                                                              .weight_decay(o_.weight_decay));
  }
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
  optimizer_->zero_grad();
  std::map<std::string, double> m;
  loss_and_grad(step, &m);
  const double max_norm =
      o_.max_grad_norm > 0 ? o_.max_grad_norm : std::numeric_limits<double>::infinity();
  m["grad_norm"] = torch::nn::utils::clip_grad_norm_(trainable_, max_norm);
  optimizer_->step();
  m["learning_rate"] = lr;
  return m;
}

Status Trainer::run(
    const std::function<void(int64_t, const std::map<std::string, double>&)>& on_step) {
  const auto& steps = plan();
  const int64_t total = static_cast<int64_t>(steps.size());
  if (total == 0) return fail(ErrorCode::kInvalidArgument, "no training examples");
  if (o_.loss.type != LossType::kSft && !cache_ && !reference_) {
    return fail(ErrorCode::kInternal, "reference log-probs not computed");
  }
  const int64_t warmup = o_.warmup_steps > 0
                             ? o_.warmup_steps
                             : static_cast<int64_t>(std::ceil(o_.warmup_ratio * total));
  const size_t n_examples = o_.loss.type == LossType::kKto ? kto_.size() : pairs_.size();
  size_t seen = 0;
  ProgressBar bar("train", static_cast<size_t>(total));
  for (int64_t s = 0; s < total; ++s) {
    const auto& step = steps[static_cast<size_t>(s)];
    auto m = train_step(step, schedule_lr(o_.scheduler, o_.lr, s, total, warmup));
    for (const auto& micro : step) seen += micro.size();
    m["epoch"] = static_cast<double>(seen) / static_cast<double>(std::max<size_t>(1, n_examples));
    if (!std::isfinite(m["loss"])) {
      return fail(ErrorCode::kInternal, "loss became " + std::to_string(m["loss"]) + " at step " +
                                            std::to_string(s + 1) +
                                            "; lower --lr or check the data");
    }
    if (on_step) on_step(s + 1, m);
    bar.tick();
  }
  bar.finish();
  if (lora_) lora_->merge();
  return {};
}

}  // namespace dstc::trainer
