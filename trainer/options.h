// Loss options (no LibTorch): which loss and its hyper-parameters. Formulas in losses.h.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace dstc::trainer {

enum class LossType { kDpo, kCdpo, kIpo, kKto, kRpo, kSelm, kSft };

// How a negative log-likelihood term is normalised (research/losses.md §3.3):
//   kSum              −S per example, batch mean          (Liu et al. "cumulative": α = β·η)
//   kSeqMean          −S/|y| per example, batch mean      (OpenRLHF / Liu App. F; Pang α = 1)
//   kPooledTokenMean  −ΣS / Σ|y| over the effective batch (TRL's rpo_alpha / "sft" loss)
enum class NllNorm { kSum, kSeqMean, kPooledTokenMean };

Result<LossType> parse_loss_type(std::string_view name);  // "dpo", "cdpo", ...
std::string_view loss_type_name(LossType type);
Result<NllNorm> parse_nll_norm(std::string_view name);  // "sum", "seq_mean", "pooled_token_mean"
std::string_view nll_norm_name(NllNorm norm);
// True for the losses trained on (prompt, chosen, rejected) pairs.
bool is_paired(LossType type);

struct LossOptions {
  LossType type = LossType::kDpo;
  double beta = 0.1;                // TRL's default; the RPO/SELM papers used 0.01 on 7B models
  double label_smoothing = 0.0;     // cDPO ε, 0 ≤ ε < 0.5
  double desirable_weight = 1.0;    // KTO λ_D
  double undesirable_weight = 1.0;  // KTO λ_U
  double rpo_alpha = 1.0;           // weight of the NLL term (TRL's rpo_alpha)
  NllNorm rpo_norm = NllNorm::kSeqMean;
  double selm_alpha = 0.001;  // SELM α (Zephyr); the loss term is α·β·ρ(y_ref)
  NllNorm sft_norm = NllNorm::kPooledTokenMean;

  // kInvalidArgument naming the option when a value is out of range.
  Status validate() const;
};

}  // namespace dstc::trainer
