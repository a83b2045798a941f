// The training loop on tiny random Llama models: sequence log-probs, gradients against
// finite differences, step-0 values, overfitting, gradient accumulation, LoRA, checkpoints.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include "trainer/engine.h"

namespace dstc::trainer {
namespace {

namespace fs = std::filesystem;

generator::ModelConfig tiny_config() {
  generator::ModelConfig c;
  c.vocab_size = 48;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 64;
  return c;
}

generator::CausalLM tiny_model(uint64_t seed = 1) {
  generator::CausalLM m(tiny_config());
  generator::init_random(*m, seed);
  return m;
}

// `n` pairs with prompts of 2–5 tokens and different chosen/rejected completions of 2–5.
std::vector<TokenizedPair> random_pairs(size_t n, uint64_t seed) {
  uint64_t state = seed;
  auto next = [&](int64_t mod) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(mod));
  };
  std::vector<TokenizedPair> out;
  for (size_t i = 0; i < n; ++i) {
    TokenizedPair p;
    std::vector<int32_t> prompt;
    const int plen = 2 + next(4);
    for (int t = 0; t < plen; ++t) prompt.push_back(1 + next(47));
    for (Sequence* s : {&p.chosen, &p.rejected}) {
      s->ids = prompt;
      s->prompt_len = plen;
      const int clen = 2 + next(4);
      for (int t = 0; t < clen; ++t) s->ids.push_back(1 + next(47));
    }
    out.push_back(std::move(p));
  }
  return out;
}

TrainOptions small_options(LossType type = LossType::kDpo) {
  TrainOptions o;
  o.loss.type = type;
  o.batch_size = 4;
  o.parallel = 1;
  o.lr = 1e-2;
  o.progress = false;
  return o;
}

std::unique_ptr<ReferenceCache> reference_for(Trainer& t) {
  auto cache = std::make_unique<ReferenceCache>("test");
  t.compute_reference(t.model(), *cache);
  return cache;
}

TEST(TrainLoop, SequenceLogpsMatchFullLogSoftmax) {
  auto m = tiny_model();
  auto pairs = random_pairs(3, 5);
  std::vector<const Sequence*> seqs = {&pairs[0].chosen, &pairs[1].rejected, &pairs[2].chosen};
  torch::NoGradGuard no_grad;
  auto got = sequence_logps(*m, pack(seqs, torch::kCPU));
  ASSERT_EQ(got.size(0), 3);
  for (size_t b = 0; b < seqs.size(); ++b) {
    const Sequence& s = *seqs[b];
    auto ids = torch::tensor(std::vector<int64_t>(s.ids.begin(), s.ids.end())).unsqueeze(0);
    auto lp = m->forward(ids).log_softmax(-1)[0];  // [T,V]
    double want = 0;
    for (int64_t t = s.prompt_len; t < static_cast<int64_t>(s.ids.size()); ++t) {
      want += lp[t - 1][s.ids[static_cast<size_t>(t)]].item<double>();
    }
    EXPECT_NEAR(got[static_cast<int64_t>(b)].item<double>(), want, 1e-4) << "row " << b;
  }
}

TEST(TrainLoop, PaddingContributesNothing) {
  auto m = tiny_model();
  auto pairs = random_pairs(2, 9);
  torch::NoGradGuard no_grad;
  auto alone = sequence_logps(*m, pack({&pairs[0].chosen}, torch::kCPU));
  Sequence longer = pairs[1].chosen;
  for (int i = 0; i < 10; ++i) longer.ids.push_back(3);
  auto padded = sequence_logps(*m, pack({&pairs[0].chosen, &longer}, torch::kCPU));
  EXPECT_NEAR(alone[0].item<double>(), padded[0].item<double>(), 1e-5);
}

TEST(TrainLoop, DpoStartsAtLn2WithZeroRewards) {
  for (int64_t parallel : {1, 2}) {
    auto o = small_options();
    o.parallel = parallel;
    Trainer t(tiny_model(), o);
    t.set_pairs(random_pairs(8, 3));
    t.set_cache(reference_for(t));
    std::map<std::string, double> m;
    double loss = t.loss_and_grad(t.plan()[0], &m);
    EXPECT_DOUBLE_EQ(loss, std::log(2.0)) << "parallel " << parallel;
    EXPECT_EQ(m.at("rewards/chosen"), 0.0);
    EXPECT_EQ(m.at("rewards/rejected"), 0.0);
    EXPECT_EQ(m.at("rewards/margins"), 0.0);
  }
}

// d loss / d θ against central differences on the parameters with the largest gradients.
void check_finite_differences(LossType type) {
  auto o = small_options(type);
  o.loss.beta = 1.0;
  o.loss.label_smoothing = 0.1;
  o.loss.rpo_norm = NllNorm::kSeqMean;
  Trainer t(tiny_model(3), o);
  if (type == LossType::kKto) {
    std::vector<TokenizedKto> kto;
    auto pairs = random_pairs(4, 21);
    for (auto& p : pairs) {
      kto.push_back({p.chosen, true, ""});
      kto.push_back({p.rejected, false, ""});
    }
    t.set_kto(kto);
  } else {
    t.set_pairs(random_pairs(4, 21));
  }
  // Reference from a different model, so the losses are away from their symmetric point.
  auto ref = tiny_model(4);
  auto cache = std::make_unique<ReferenceCache>("fd");
  t.compute_reference(*ref, *cache);
  t.set_cache(std::move(cache));
  const auto step = t.plan()[0];
  for (auto& p : t.trainable()) p.mutable_grad() = torch::Tensor();
  t.loss_and_grad(step);
  int checked = 0;
  for (auto& p : t.trainable()) {
    auto g = p.grad().flatten();
    const int64_t idx = g.abs().argmax().item<int64_t>();
    const double analytic = g[idx].item<double>();
    if (std::abs(analytic) < 1e-3) continue;
    const double h = 5e-3;  // fp32 model: noise ~1e-6/h vs truncation ~h²
    auto flat = p.detach().view({-1});
    const float orig = flat[idx].item<float>();
    auto eval = [&](double v) {
      torch::NoGradGuard no_grad;
      flat[idx] = static_cast<float>(v);
      for (auto& q : t.trainable()) q.mutable_grad() = torch::Tensor();
      torch::AutoGradMode enable(true);
      return t.loss_and_grad(step);
    };
    const double up = eval(orig + h), down = eval(orig - h);
    {
      torch::NoGradGuard no_grad;
      flat[idx] = orig;
    }
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(numeric, analytic, 0.08 * std::abs(analytic) + 3e-4)
        << loss_type_name(type) << " parameter of shape " << p.sizes();
    if (++checked == 6) break;
  }
  EXPECT_GE(checked, 3) << "too few parameters with a measurable gradient";
}

TEST(TrainLoop, GradientsMatchFiniteDifferencesDpo) { check_finite_differences(LossType::kDpo); }
TEST(TrainLoop, GradientsMatchFiniteDifferencesCdpo) { check_finite_differences(LossType::kCdpo); }
TEST(TrainLoop, GradientsMatchFiniteDifferencesIpo) { check_finite_differences(LossType::kIpo); }
TEST(TrainLoop, GradientsMatchFiniteDifferencesRpo) { check_finite_differences(LossType::kRpo); }
// (KTO is left out: its reference point z0 depends on θ but is detached by design, so the
// analytic gradient differs from finite differences wherever z0 > 0.)

TEST(TrainLoop, GradAccumulationEqualsOneLargeBatch) {
  for (LossType type : {LossType::kDpo, LossType::kRpo}) {
    auto pairs = random_pairs(8, 77);
    auto grads = [&](int64_t batch, int64_t accum, int64_t parallel) {
      auto o = small_options(type);
      o.loss.rpo_norm = NllNorm::kPooledTokenMean;
      o.batch_size = batch;
      o.grad_accum = accum;
      o.parallel = parallel;
      Trainer t(tiny_model(5), o);
      t.set_pairs(pairs);
      auto ref = tiny_model(6);
      auto cache = std::make_unique<ReferenceCache>("acc");
      cache->fill(*ref, t.reference_sequences(), 8);
      t.set_cache(std::move(cache));
      EXPECT_EQ(t.plan()[0].size(), static_cast<size_t>(accum));
      double loss = t.loss_and_grad(t.plan()[0]);
      std::vector<torch::Tensor> g;
      for (auto& p : t.trainable()) g.push_back(p.grad().clone());
      return std::make_pair(loss, g);
    };
    auto [loss_a, ga] = grads(2, 4, 2);
    auto [loss_b, gb] = grads(8, 1, 1);
    EXPECT_NEAR(loss_a, loss_b, 1e-6);
    ASSERT_EQ(ga.size(), gb.size());
    for (size_t i = 0; i < ga.size(); ++i) {
      EXPECT_TRUE(torch::allclose(ga[i], gb[i], 1e-4, 1e-7)) << "parameter " << i;
    }
  }
}

// The 16-pair overfit recipe (batch 8, lr 5e-3, β 0.5, constant lr, 2 workers) on top of
// `o` for `epochs`: trains `t` and returns the first and last step's metrics.
struct OverfitRun {
  std::map<std::string, double> first, last;
};
TrainOptions overfit_options(TrainOptions o, int64_t epochs) {
  o.batch_size = 8;
  o.epochs = epochs;
  o.lr = 5e-3;
  o.loss.beta = 0.5;
  o.scheduler = "constant";
  o.parallel = 2;
  return o;
}
OverfitRun overfit_sixteen_pairs(Trainer& t) {
  t.set_pairs(random_pairs(16, 11));
  t.set_cache(reference_for(t));
  OverfitRun r;
  EXPECT_TRUE(t.run([&](int64_t step, const std::map<std::string, double>& m) {
    if (step == 1) r.first = m;
    r.last = m;
  }));
  return r;
}

TEST(TrainLoopSlow, SixteenPairsOverfit) {
  Trainer t(tiny_model(8), overfit_options(small_options(), 60));
  auto [first, last] = overfit_sixteen_pairs(t);
  ASSERT_FALSE(last.empty());
  EXPECT_NEAR(first.at("loss"), std::log(2.0), 1e-6);
  EXPECT_EQ(last.at("rewards/accuracies"), 1.0);
  EXPECT_LT(last.at("loss"), 0.2);
  EXPECT_GT(last.at("rewards/margins"), first.at("rewards/margins") + 1.0);
  // With the whole data set seen, check every pair, not only the last step's.
  std::vector<size_t> all(16);
  for (size_t i = 0; i < 16; ++i) all[i] = i;
  std::map<std::string, double> m;
  t.loss_and_grad({all}, &m);
  EXPECT_EQ(m.at("rewards/accuracies"), 1.0);
  EXPECT_GT(m.at("rewards/chosen"), first.at("rewards/chosen"));
}

// ------------------------------------------------------------ bf16 mixed precision
// --dtype bfloat16 as HF Trainer's bf16=True: fp32 master weights and AdamW state, forward
// and backward under bf16 autocast (CPU autocast here; CUDA takes the same path).

TrainOptions bf16_options(LossType type = LossType::kDpo) {
  auto o = small_options(type);
  o.dtype = "bfloat16";
  return o;
}

TEST(TrainLoopBf16, AutocastGuardIsThreadLocalAndRestores) {
  ASSERT_FALSE(at::autocast::is_cpu_enabled());
  const auto before = at::autocast::get_autocast_cpu_dtype();
  {
    AutocastGuard fp32(torch::kCPU, torch::kFloat32);  // no-op
    EXPECT_FALSE(at::autocast::is_cpu_enabled());
  }
  {
    AutocastGuard outer(torch::kCPU, torch::kBFloat16);
    EXPECT_TRUE(at::autocast::is_cpu_enabled());
    EXPECT_EQ(at::autocast::get_autocast_cpu_dtype(), torch::kBFloat16);
    {
      AutocastGuard inner(torch::kCPU, torch::kBFloat16);
      EXPECT_TRUE(at::autocast::is_cpu_enabled());
    }
    EXPECT_TRUE(at::autocast::is_cpu_enabled()) << "inner guard must restore, not disable";
    auto a = torch::randn({4, 4}), b = torch::randn({4, 4});
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    bool other_thread_enabled = true;
    std::thread([&] { other_thread_enabled = at::autocast::is_cpu_enabled(); }).join();
    EXPECT_FALSE(other_thread_enabled) << "autocast state is per thread";
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(at::autocast::get_autocast_cpu_dtype(), before);
  EXPECT_EQ(torch::mm(torch::randn({2, 2}), torch::randn({2, 2})).scalar_type(), torch::kFloat32);
}

TEST(TrainLoopBf16, SequenceLogpsCloseToFp32) {
  auto m = tiny_model();
  auto pairs = random_pairs(8, 5);
  std::vector<const Sequence*> seqs;
  for (const auto& p : pairs) {
    seqs.push_back(&p.chosen);
    seqs.push_back(&p.rejected);
  }
  auto batch = pack(seqs, torch::kCPU);
  torch::NoGradGuard no_grad;
  auto fp32 = sequence_logps(*m, batch);
  auto bf16 = sequence_logps(*m, batch, torch::kBFloat16);
  EXPECT_FALSE(at::autocast::is_cpu_enabled()) << "sequence_logps must restore autocast";
  // The log-softmax and the sums run in fp32 whatever the compute precision.
  ASSERT_EQ(bf16.scalar_type(), torch::kFloat32);
  // Every weight stays fp32: autocast casts copies.
  for (const auto& p : m->parameters()) ASSERT_EQ(p.scalar_type(), torch::kFloat32);
  const double diff = (bf16 - fp32).abs().max().item<double>();
  EXPECT_GT(diff, 0.0) << "bf16 autocast was not active (identical to fp32)";
  // Tolerance: bf16 keeps 8 significant bits (rounding ≤ 2^-9 ≈ 0.2% relative per cast); over
  // 2 layers and 2–5 completion tokens (|S| ≈ 8–20 nats) the sums stay within
  // 0.02 nats + 0.2% of |S| of fp32 (measured max: 0.0016 nats).
  for (int64_t i = 0; i < fp32.size(0); ++i) {
    const double want = fp32[i].item<double>(), got = bf16[i].item<double>();
    EXPECT_NEAR(got, want, 0.02 + 2e-3 * std::abs(want)) << "sequence " << i;
  }
  std::printf("[bf16] max |S_bf16 - S_fp32| = %.3g nats over %lld sequences\n", diff,
              static_cast<long long>(fp32.size(0)));
}

TEST(TrainLoopBf16, DpoStartsAtLn2WithZeroRewards) {
  for (int64_t parallel : {1, 2}) {
    auto o = bf16_options();
    o.parallel = parallel;
    Trainer t(tiny_model(), o);
    ASSERT_EQ(t.compute_dtype(), torch::kBFloat16);
    t.set_pairs(random_pairs(8, 3));
    t.set_cache(reference_for(t));  // computed under the same bf16 autocast
    std::map<std::string, double> m;
    double loss = t.loss_and_grad(t.plan()[0], &m);
    EXPECT_NEAR(loss, std::log(2.0), 1e-6) << "parallel " << parallel;
    EXPECT_EQ(m.at("rewards/chosen"), 0.0);
    EXPECT_EQ(m.at("rewards/rejected"), 0.0);
    EXPECT_EQ(m.at("rewards/margins"), 0.0);
    // Gradients reach the fp32 master weights in fp32.
    for (const auto& p : t.trainable()) {
      ASSERT_TRUE(p.grad().defined());
      EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
    }
  }
  // The in-memory reference model (as `dstc bench train`) runs under the same autocast.
  auto o = bf16_options();
  o.parallel = 2;
  Trainer t(tiny_model(), o);
  t.set_pairs(random_pairs(8, 3));
  auto ref = tiny_model();
  ref->eval();
  for (auto& p : ref->parameters()) p.requires_grad_(false);
  t.set_reference_model(ref);
  std::map<std::string, double> m;
  EXPECT_NEAR(t.loss_and_grad(t.plan()[0], &m), std::log(2.0), 1e-6);
  EXPECT_EQ(m.at("rewards/margins"), 0.0);
}

// Counts the entries of `after` that differ from `before`, over the weights with
// |w| > 1e-3 (where half a bf16 step, ≥ 3.8e-6, exceeds an update of 1e-6).
int64_t changed_entries(const std::vector<torch::Tensor>& before,
                        const std::vector<torch::Tensor>& after, int64_t* considered) {
  int64_t changed = 0;
  *considered = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    auto b = before[i].to(torch::kFloat32), a = after[i].to(torch::kFloat32);
    auto big = b.abs() > 1e-3;
    *considered += big.sum().item<int64_t>();
    changed += ((a != b).logical_and(big)).sum().item<int64_t>();
  }
  return changed;
}

TEST(TrainLoopBf16, MasterWeightsStayFp32AndTinyUpdatesLand) {
  auto pairs = random_pairs(8, 3);
  auto snapshot = [](Trainer& t) {
    std::vector<torch::Tensor> out;
    for (const auto& p : t.model().parameters()) out.push_back(p.detach().clone());
    return out;
  };
  // Mixed precision at TRL's default lr 1e-6: AdamW's first step moves every weight with a
  // non-zero gradient by ≈ lr, which an fp32 weight of magnitude 0.02 (ulp ≈ 2e-9) keeps.
  auto o = bf16_options();
  o.lr = 1e-6;
  o.parallel = 2;
  Trainer t(tiny_model(), o);
  t.set_pairs(pairs);
  t.set_cache(reference_for(t));
  auto before = snapshot(t);
  t.train_step(t.plan()[0], o.lr);
  for (const auto& p : t.model().parameters()) ASSERT_EQ(p.scalar_type(), torch::kFloat32);
  int64_t considered = 0;
  const int64_t changed = changed_entries(before, snapshot(t), &considered);
  // Rows of the embedding and lm_head for tokens absent from the batch get no gradient;
  // most other weights do.
  EXPECT_GT(changed, considered / 2) << changed << " of " << considered << " weights moved";

  // The same step on pure bf16 weights (what --dtype bfloat16 did before: bf16 parameters,
  // AdamW on them) loses the whole update: half a bf16 ulp at 0.02 is 6e-5 ≫ 1e-6.
  auto pure = tiny_model();
  pure->to(torch::kBFloat16);
  auto p16 = small_options();
  p16.lr = 1e-6;
  p16.parallel = 2;
  p16.dtype = "float32";  // no autocast: the parameters' own dtype, bf16
  Trainer t16(pure, p16);
  t16.set_pairs(pairs);
  t16.set_cache(reference_for(t16));
  auto before16 = snapshot(t16);
  t16.train_step(t16.plan()[0], p16.lr);
  ASSERT_EQ(t16.model().parameters()[0].scalar_type(), torch::kBFloat16);
  int64_t considered16 = 0;
  EXPECT_EQ(changed_entries(before16, snapshot(t16), &considered16), 0)
      << "pure bf16 weights should not move at lr 1e-6";
  EXPECT_GT(considered16, 0);
}

TEST(TrainLoopBf16, SixteenPairsOverfit) {
  // TrainLoopSlow.SixteenPairsOverfit in bf16 mixed precision, shorter (30 epochs).
  Trainer t(tiny_model(8), overfit_options(bf16_options(), 30));
  auto [first, last] = overfit_sixteen_pairs(t);
  ASSERT_FALSE(last.empty());
  EXPECT_NEAR(first.at("loss"), std::log(2.0), 1e-6);
  EXPECT_EQ(last.at("rewards/accuracies"), 1.0);
  EXPECT_LT(last.at("loss"), 0.3);
  EXPECT_GT(last.at("rewards/margins"), first.at("rewards/margins") + 1.0);
  for (const auto& p : t.model().parameters()) ASSERT_EQ(p.scalar_type(), torch::kFloat32);
  std::printf("[bf16] 16-pair overfit: loss %.4f -> %.4f, margin %.3f\n", first.at("loss"),
              last.at("loss"), last.at("rewards/margins"));
}

TEST(TrainLoop, LoraMergedEqualsUnmerged) {
  auto o = small_options();
  o.lora_rank = 4;
  o.lora_alpha = 8;
  o.lr = 5e-2;
  o.max_steps = 3;
  Trainer t(tiny_model(12), o);
  t.set_pairs(random_pairs(8, 13));
  t.set_cache(reference_for(t));
  ASSERT_EQ(t.lora()->size(), 2u * 7u);
  // Only adapters train: the base weights must not move.
  auto embed_before = t.model().model->embed_tokens->weight.clone();
  for (const auto& step : t.plan()) t.train_step(step, o.lr);
  EXPECT_TRUE(torch::equal(embed_before, t.model().model->embed_tokens->weight));
  auto ids = torch::tensor({{1, 5, 9, 13, 2, 7}}, torch::kInt64);
  torch::Tensor unmerged, merged;
  {
    torch::NoGradGuard no_grad;
    t.lora()->apply();
    unmerged = t.model().forward(ids);
  }
  t.lora()->merge();
  {
    torch::NoGradGuard no_grad;
    merged = t.model().forward(ids);
  }
  auto base = tiny_model(12);
  torch::NoGradGuard no_grad;
  auto untouched = base->forward(ids);
  EXPECT_GT((unmerged - untouched).abs().max().item<double>(), 1e-4) << "LoRA did not train";
  EXPECT_TRUE(torch::allclose(merged, unmerged, 1e-4, 1e-5))
      << (merged - unmerged).abs().max().item<double>();
  // The merged weights are the registered parameters, which save_checkpoint writes.
  auto q = t.model().named_parameters()["model.layers.0.self_attn.q_proj.weight"];
  EXPECT_FALSE(torch::equal(q, base->named_parameters()["model.layers.0.self_attn.q_proj.weight"]));
}

TEST(TrainLoop, SavedCheckpointReloadsToIdenticalLogits) {
  auto o = small_options();
  o.max_steps = 2;
  Trainer t(tiny_model(14), o);
  t.set_pairs(random_pairs(8, 15));
  t.set_cache(reference_for(t));
  ASSERT_TRUE(t.run({}));
  auto dir = fs::temp_directory_path() / ("dstc_trainer_ckpt_" + std::to_string(::getpid()));
  ASSERT_TRUE(generator::save_checkpoint(t.model(), dir.string()));
  auto loaded = generator::load_causal_lm(dir.string());
  ASSERT_TRUE(loaded) << loaded.error().message();
  auto ids = torch::tensor({{3, 1, 4, 1, 5, 9, 2, 6}}, torch::kInt64);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(t.model().forward(ids), (*loaded)->forward(ids)));
  fs::remove_all(dir);
}

TEST(TrainLoop, SchedulesFollowTransformers) {
  // get_linear_schedule_with_warmup(warmup 2, total 10): 0, .5, 1, then down to 1/8.
  EXPECT_DOUBLE_EQ(schedule_lr("linear", 1.0, 0, 10, 2), 0.0);
  EXPECT_DOUBLE_EQ(schedule_lr("linear", 1.0, 1, 10, 2), 0.5);
  EXPECT_DOUBLE_EQ(schedule_lr("linear", 1.0, 2, 10, 2), 1.0);
  EXPECT_DOUBLE_EQ(schedule_lr("linear", 1.0, 9, 10, 2), 1.0 / 8.0);
  EXPECT_NEAR(schedule_lr("cosine", 1.0, 6, 10, 2), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(schedule_lr("constant", 2.0, 7, 10, 2), 2.0);
}

TEST(TrainLoop, PlanCoversEveryExampleOncePerEpoch) {
  auto plan = plan_steps(10, 2, 3, 2, true, 1, -1);
  ASSERT_EQ(plan.size(), 4u);  // ceil(10 / 6) per epoch
  std::vector<int> seen(10, 0);
  for (size_t s = 0; s < 2; ++s) {
    for (const auto& micro : plan[s]) {
      for (size_t i : micro) ++seen[i];
    }
  }
  for (int c : seen) EXPECT_EQ(c, 1);
  EXPECT_EQ(plan_steps(10, 2, 3, 2, true, 1, 3).size(), 3u);
}

}  // namespace
}  // namespace dstc::trainer
