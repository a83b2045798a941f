// Every loss and option against values computed by hand (Python `math`, formulas of
// research/losses.md) for fixed log-probs.
#include "trainer/losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace dstc::trainer {
namespace {

torch::Tensor t(std::vector<double> v) { return torch::tensor(v, torch::kFloat64); }

// Two pairs: ρ_w = [1, −1], ρ_l = [−1, 2], so h = [2, −3]; |y_w| = [4, 5], |y_l| = [5, 2].
struct Fixture {
  SeqLogps chosen{t({-10, -20}), t({-11, -19}), t({4, 5})};
  SeqLogps rejected{t({-15, -14}), t({-14, -16}), t({5, 2})};
};

double loss_of(const LossOptions& o, const SeqLogps* selm = nullptr, Denominators d = {}) {
  Fixture f;
  return paired_loss(o, f.chosen, f.rejected, selm, d).loss.item<double>();
}

TEST(Losses, DpoMatchesHandValue) {
  LossOptions o;
  EXPECT_NEAR(loss_of(o), 0.7262470569250594, 1e-12);
}

TEST(Losses, DpoMetricsAreTrlNamed) {
  Fixture f;
  LossOptions o;
  auto out = paired_loss(o, f.chosen, f.rejected);
  auto m = out.metrics.means();
  EXPECT_NEAR(m.at("rewards/chosen"), 0.1 * (1 + -1) / 2, 1e-12);
  EXPECT_NEAR(m.at("rewards/rejected"), 0.1 * (-1 + 2) / 2, 1e-12);
  EXPECT_NEAR(m.at("rewards/margins"), 0.1 * (2 - 3) / 2, 1e-12);
  EXPECT_NEAR(m.at("rewards/accuracies"), 0.5, 1e-12);
  EXPECT_NEAR(m.at("logps/chosen"), -15, 1e-12);
  EXPECT_NEAR(m.at("logps/rejected"), -14.5, 1e-12);
}

TEST(Losses, DpoAtReferenceIsLn2WithZeroRewards) {
  SeqLogps c{t({-3.5, -7}), t({-3.5, -7}), t({2, 3})};
  SeqLogps r{t({-9, -1.25}), t({-9, -1.25}), t({4, 1})};
  LossOptions o;
  auto out = paired_loss(o, c, r);
  EXPECT_DOUBLE_EQ(out.loss.item<double>(), std::log(2.0));
  auto m = out.metrics.means();
  EXPECT_EQ(m.at("rewards/chosen"), 0.0);
  EXPECT_EQ(m.at("rewards/rejected"), 0.0);
  EXPECT_EQ(m.at("rewards/margins"), 0.0);
  EXPECT_EQ(m.at("rewards/accuracies"), 0.0);  // strict >, as TRL
}

TEST(Losses, DpoGradientIsMinusBetaSigmoid) {
  Fixture f;
  f.chosen.policy.requires_grad_(true);
  LossOptions o;
  paired_loss(o, f.chosen, f.rejected).loss.backward();
  // dL/dS_w(0) = −β σ(−βh)/B with h = 2.
  EXPECT_NEAR(f.chosen.policy.grad()[0].item<double>(), -0.0225083001343761, 1e-12);
}

TEST(Losses, LogSigmoidStaysFiniteForHugeMargins) {
  SeqLogps c{t({0}), t({-5000}), t({1})};
  SeqLogps r{t({0}), t({5000}), t({1})};
  LossOptions o;
  o.beta = 1.0;
  double wrong_way = paired_loss(o, r, c).loss.item<double>();
  EXPECT_NEAR(wrong_way, 10000.0, 1e-9);  // −log σ(−10000) = 10000, not inf
  EXPECT_EQ(paired_loss(o, c, r).loss.item<double>(), 0.0);
}

TEST(Losses, CdpoLabelSmoothing) {
  LossOptions o;
  o.type = LossType::kCdpo;
  o.label_smoothing = 0.2;
  EXPECT_NEAR(loss_of(o), 0.7162470569250595, 1e-12);
  o.label_smoothing = 0.0;  // ε = 0 is plain DPO
  EXPECT_NEAR(loss_of(o), 0.7262470569250594, 1e-12);
}

TEST(Losses, IpoAveragesPerToken) {
  LossOptions o;
  o.type = LossType::kIpo;
  EXPECT_NEAR(loss_of(o), 29.57125, 1e-10);
}

TEST(Losses, IpoClampsEmptyLengthsAtOne) {
  SeqLogps c{t({-2}), t({-3}), t({0})};
  SeqLogps r{t({-1}), t({-1}), t({0})};
  LossOptions o;
  o.type = LossType::kIpo;
  // h̄ = 1/1 − 0/1 = 1; (1 − 5)² = 16; no 0/0.
  EXPECT_NEAR(paired_loss(o, c, r).loss.item<double>(), 16.0, 1e-12);
}

TEST(Losses, RpoThreeNormalisations) {
  LossOptions o;
  o.type = LossType::kRpo;
  o.rpo_alpha = 0.5;
  o.rpo_norm = NllNorm::kSum;
  EXPECT_NEAR(loss_of(o), 8.22624705692506, 1e-12);
  o.rpo_norm = NllNorm::kSeqMean;
  EXPECT_NEAR(loss_of(o), 2.35124705692506, 1e-12);
  o.rpo_norm = NllNorm::kPooledTokenMean;
  EXPECT_NEAR(loss_of(o), 2.39291372359173, 1e-12);
}

TEST(Losses, SelmAddsOptimisticTerm) {
  LossOptions o;
  o.type = LossType::kSelm;
  o.selm_alpha = 0.01;
  SeqLogps selm{t({-30, -40}), t({-31, -38}), t({3, 3})};
  EXPECT_NEAR(loss_of(o, &selm), 0.7257470569250595, 1e-12);
}

TEST(Losses, KtoWithReferencePoint) {
  SeqLogps ex{t({-10, -20, -15, -14}), t({-11, -19, -14, -16}), t({1, 1, 1, 1})};
  auto desirable = torch::tensor({true, false, true, false});
  SeqLogps kl{t({-12, -18, -16, -13}), t({-13, -18.5, -15, -15}), t({1, 1, 1, 1})};
  LossOptions o;
  o.type = LossType::kKto;
  o.undesirable_weight = 1.5;
  auto out = kto_loss(o, ex, desirable, kl);
  EXPECT_NEAR(out.loss.item<double>(), 0.6304598985863503, 1e-12);
  EXPECT_NEAR(out.metrics.mean("kl"), 0.625, 1e-12);
  EXPECT_NEAR(out.metrics.mean("rewards/chosen"), 0.1 * (1 + -1) / 2, 1e-12);
  EXPECT_NEAR(out.metrics.mean("rewards/rejected"), 0.1 * (-1 + 2) / 2, 1e-12);
}

TEST(Losses, KtoReferencePointClampedAtZeroAndDetached) {
  SeqLogps ex{t({-10, -20, -15, -14}), t({-11, -19, -14, -16}), t({1, 1, 1, 1})};
  auto desirable = torch::tensor({true, false, true, false});
  SeqLogps kl{t({-12, -18, -16, -13}).requires_grad_(true), t({-11, -17, -14, -12}),
              t({1, 1, 1, 1})};
  LossOptions o;
  o.type = LossType::kKto;
  o.undesirable_weight = 1.5;
  auto out = kto_loss(o, ex, desirable, kl);
  EXPECT_NEAR(out.loss.item<double>(), 0.6343205536875767, 1e-12);
  EXPECT_EQ(out.metrics.mean("kl"), 0.0);
  EXPECT_FALSE(out.loss.requires_grad());  // z0 carries no gradient
}

TEST(Losses, SftNormalisations) {
  SeqLogps s{t({-10, -20}), {}, t({4, 5})};
  LossOptions o;
  o.type = LossType::kSft;
  EXPECT_NEAR(sft_loss(o, s).loss.item<double>(), 30.0 / 9.0, 1e-12);
  o.sft_norm = NllNorm::kSeqMean;
  EXPECT_NEAR(sft_loss(o, s).loss.item<double>(), 3.25, 1e-12);
  o.sft_norm = NllNorm::kSum;
  EXPECT_NEAR(sft_loss(o, s).loss.item<double>(), 15.0, 1e-12);
}

TEST(Losses, MicroBatchesSumToTheLargeBatch) {
  // Pooled RPO over 2 pairs equals the sum of two 1-pair micro-batches given the step's
  // denominators.
  Fixture f;
  LossOptions o;
  o.type = LossType::kRpo;
  o.rpo_alpha = 0.5;
  o.rpo_norm = NllNorm::kPooledTokenMean;
  Denominators d{2, 9};
  double sum = 0;
  for (int i = 0; i < 2; ++i) {
    auto sl = [&](const SeqLogps& s) {
      return SeqLogps{s.policy.slice(0, i, i + 1), s.reference.slice(0, i, i + 1),
                      s.tokens.slice(0, i, i + 1)};
    };
    sum += paired_loss(o, sl(f.chosen), sl(f.rejected), nullptr, d).loss.item<double>();
  }
  EXPECT_NEAR(sum, 2.39291372359173, 1e-12);
}

TEST(Losses, OptionValidationNamesTheFlag) {
  LossOptions o;
  o.label_smoothing = 0.5;
  auto s = o.validate();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("label-smoothing"), std::string::npos);
  EXPECT_FALSE(parse_loss_type("ppo"));
  EXPECT_EQ(*parse_loss_type("selm"), LossType::kSelm);
}

}  // namespace
}  // namespace dstc::trainer
