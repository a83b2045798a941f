// Preference and SFT losses on summed completion-token log-probabilities.
//
// Every loss takes per-example sequence log-probs S(x,y) = Σ_t m_t·log π(y_t | x, y_<t)
// (completion tokens only, EOS included) from the policy and from the frozen reference,
// shapes [B], and returns the loss of the micro-batch already divided by the effective
// batch's denominators (Denominators): summing the returned losses of the micro-batches
// of one optimizer step gives exactly the loss of one large batch, and so the same
// gradient. Formulas and the TRL / paper choices they follow: ../shared/research/losses.md
// (copied into docs/ of the trainer where they matter):
//
//   ρ = S_θ − S_ref,  h = ρ_w − ρ_l,  log σ(z) computed as −softplus(−z)
//   DPO   −log σ(βh)                                        (Rafailov et al. 2023)
//   cDPO  −(1−ε) log σ(βh) − ε log σ(−βh)                   (Mitchell's cDPO note; TRL ≤ 0.28
//                                                            sigmoid + label_smoothing)
//   IPO   (ρ_w/|y_w| − ρ_l/|y_l| − 1/(2β))², |y| clamped ≥ 1 (TRL's per-token averaging)
//   KTO   λ_D σ(−β(ρ − z0)) desirable, λ_U σ(−β(z0 − ρ)) undesirable,
//         z0 = max(0, mean_i(S_θ − S_ref)(x_i, y'_i)) detached, y' = mismatched completions
//                                                           (TRL KTOTrainer v1.9)
//   RPO   DPO + α·NLL(chosen), NLL normalised per NllNorm   (Liu et al. 2024; Pang et al. 2024)
//   SELM  DPO + α·β·(S_θ − S_ref)(x, y_ref)                 (Zhang et al. 2024, selm_trainer.py)
//   SFT   NLL(completion), normalised per NllNorm
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <string_view>

#include "common/error.h"
#include "trainer/options.h"

namespace dstc::trainer {

// Sequence log-probs of one set of completions: all [B], on the same device.
struct SeqLogps {
  at::Tensor policy;     // S_θ, with grad
  at::Tensor reference;  // S_ref, no grad (undefined for SFT)
  at::Tensor tokens;     // |y| completion tokens after truncation, float
};

// Normalisers of the whole optimizer step (all micro-batches together). Zero means
// "this micro-batch alone" (no gradient accumulation).
struct Denominators {
  double examples = 0;       // pairs (paired losses) or examples (KTO, SFT)
  double chosen_tokens = 0;  // Σ|y_w| (RPO pooled) or Σ|y| (SFT pooled)
};

// Metric sums and counts, so micro-batches of one step aggregate into the means of the
// large batch. Names follow TRL: rewards/chosen, rewards/rejected, rewards/accuracies,
// rewards/margins, logps/chosen, logps/rejected, kl, nll.
class Metrics {
 public:
  void add(const std::string& name, double sum, double count);
  void merge(const Metrics& other);
  // Means (sum/count); a metric seen with count 0 is left out.
  std::map<std::string, double> means() const;
  bool has(const std::string& name) const { return sums_.count(name) > 0; }
  double mean(const std::string& name) const;

 private:
  std::map<std::string, std::pair<double, double>> sums_;
};

struct LossOutput {
  at::Tensor loss;  // scalar: this micro-batch's share of the step's loss
  Metrics metrics;
};

// DPO, cDPO, IPO, RPO, SELM. `selm` (S of the reference model's own greedy sample y_ref)
// is used only by SELM; its reference field may be undefined (it only shifts the value).
LossOutput paired_loss(const LossOptions& options, const SeqLogps& chosen, const SeqLogps& rejected,
                       const SeqLogps* selm = nullptr, Denominators denominators = {});

// KTO. `desirable` [B] bool; `kl` holds S_θ and S_ref of the mismatched completions
// (x_i, y_{i−1}) of the same micro-batch (policy computed without grad).
LossOutput kto_loss(const LossOptions& options, const SeqLogps& examples,
                    const at::Tensor& desirable, const SeqLogps& kl,
                    Denominators denominators = {});

// SFT on the completions (reference unused).
LossOutput sft_loss(const LossOptions& options, const SeqLogps& completions,
                    Denominators denominators = {});

}  // namespace dstc::trainer
