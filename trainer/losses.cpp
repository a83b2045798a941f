#include "trainer/losses.h"

#include <torch/torch.h>

#include <cmath>

namespace dstc::trainer {
namespace {

// log σ(z) = −softplus(−z): exact for large |z| where log(sigmoid(z)) underflows.
at::Tensor stable_log_sigmoid(const at::Tensor& z) { return -at::softplus(-z); }

double sum_of(const at::Tensor& t) { return t.detach().to(at::kDouble).sum().item<double>(); }

double denominator(double given, double fallback) { return given > 0 ? given : fallback; }

// The losses run in float64 on the [B] log-prob vectors (cheap; the model's fp32/bf16 sums
// are cast, gradients flow back through the cast), so at policy = reference DPO gives
// exactly ln 2 and the metrics carry no extra rounding.
SeqLogps to_double(const SeqLogps& s) {
  auto up = [](const at::Tensor& t) { return t.defined() ? t.to(at::kDouble) : t; };
  return {up(s.policy), up(s.reference), up(s.tokens)};
}

// Per-example NLL terms whose sum, divided by `examples`, is the normalised NLL; for
// kPooledTokenMean the division by the token total is folded in so the same rule holds.
at::Tensor nll_terms(NllNorm norm, const SeqLogps& s, double examples, double tokens) {
  switch (norm) {
    case NllNorm::kSum:
      return -s.policy;
    case NllNorm::kSeqMean:
      return -s.policy / s.tokens.clamp_min(1.0);
    case NllNorm::kPooledTokenMean:
      return -s.policy * (examples / std::max(tokens, 1.0));
  }
  return -s.policy;
}

}  // namespace

Result<LossType> parse_loss_type(std::string_view name) {
  static const std::pair<const char*, LossType> kNames[] = {
      {"dpo", LossType::kDpo}, {"cdpo", LossType::kCdpo}, {"ipo", LossType::kIpo},
      {"kto", LossType::kKto}, {"rpo", LossType::kRpo},   {"selm", LossType::kSelm},
      {"sft", LossType::kSft}};
  for (const auto& [n, t] : kNames) {
    if (name == n) return t;
  }
  return fail(ErrorCode::kInvalidArgument, "unknown loss '" + std::string(name) +
                                               "': use dpo, cdpo, ipo, kto, rpo, selm or sft");
}

std::string_view loss_type_name(LossType type) {
  switch (type) {
    case LossType::kDpo:
      return "dpo";
    case LossType::kCdpo:
      return "cdpo";
    case LossType::kIpo:
      return "ipo";
    case LossType::kKto:
      return "kto";
    case LossType::kRpo:
      return "rpo";
    case LossType::kSelm:
      return "selm";
    case LossType::kSft:
      return "sft";
  }
  return "?";
}

Result<NllNorm> parse_nll_norm(std::string_view name) {
  if (name == "sum") return NllNorm::kSum;
  if (name == "seq_mean") return NllNorm::kSeqMean;
  if (name == "pooled_token_mean") return NllNorm::kPooledTokenMean;
  return fail(ErrorCode::kInvalidArgument, "unknown NLL normalisation '" + std::string(name) +
                                               "': use sum, seq_mean or pooled_token_mean");
}

std::string_view nll_norm_name(NllNorm norm) {
  switch (norm) {
    case NllNorm::kSum:
      return "sum";
    case NllNorm::kSeqMean:
      return "seq_mean";
    case NllNorm::kPooledTokenMean:
      return "pooled_token_mean";
  }
  return "?";
}

bool is_paired(LossType type) { return type != LossType::kKto && type != LossType::kSft; }

Status LossOptions::validate() const {
  auto bad = [](const std::string& what) { return fail(ErrorCode::kInvalidArgument, what); };
  if (!(beta > 0) || !std::isfinite(beta)) {
    return bad("--beta must be a positive number, got " + std::to_string(beta));
  }
  if (!(label_smoothing >= 0 && label_smoothing < 0.5)) {
    return bad("--label-smoothing (cDPO ε) must be in [0, 0.5), got " +
               std::to_string(label_smoothing));
  }
  if (!(desirable_weight > 0) || !(undesirable_weight > 0)) {
    return bad("KTO --desirable-weight and --undesirable-weight must be positive");
  }
  if (!(rpo_alpha >= 0)) return bad("--rpo-alpha must be ≥ 0");
  if (!(selm_alpha >= 0)) return bad("--selm-alpha must be ≥ 0");
  return {};
}

void Metrics::add(const std::string& name, double sum, double count) {
  auto& [s, c] = sums_[name];
  s += sum;
  c += count;
}

void Metrics::merge(const Metrics& other) {
  for (const auto& [name, sc] : other.sums_) add(name, sc.first, sc.second);
}

std::map<std::string, double> Metrics::means() const {
  std::map<std::string, double> out;
  for (const auto& [name, sc] : sums_) {
    if (sc.second > 0) out[name] = sc.first / sc.second;
  }
  return out;
}

double Metrics::mean(const std::string& name) const {
  auto it = sums_.find(name);
  if (it == sums_.end() || it->second.second == 0) return std::nan("");
  return it->second.first / it->second.second;
}

LossOutput paired_loss(const LossOptions& o, const SeqLogps& chosen_in, const SeqLogps& rejected_in,
                       const SeqLogps* selm_in, Denominators d) {
  const SeqLogps chosen = to_double(chosen_in), rejected = to_double(rejected_in);
  SeqLogps selm_d;
  if (selm_in) selm_d = to_double(*selm_in);
  const SeqLogps* selm = selm_in ? &selm_d : nullptr;
  const double n = static_cast<double>(chosen.policy.size(0));
  const double examples = denominator(d.examples, n);
  const double beta = o.beta;

  at::Tensor rho_w = chosen.policy - chosen.reference;
  at::Tensor rho_l = rejected.policy - rejected.reference;
  at::Tensor logp_w = chosen.policy;
  at::Tensor logp_l = rejected.policy;
  at::Tensor per_example;
  if (o.type == LossType::kIpo) {
    // TRL (PR #1265, v1.9): per-token-averaged log-ratios, lengths clamped at 1; the
    // reported rewards and log-probs are the averaged ones too (TRL ≤ 0.24 averaged S).
    at::Tensor len_w = chosen.tokens.clamp_min(1.0);
    at::Tensor len_l = rejected.tokens.clamp_min(1.0);
    rho_w = rho_w / len_w;
    rho_l = rho_l / len_l;
    logp_w = logp_w / len_w;
    logp_l = logp_l / len_l;
    per_example = (rho_w - rho_l - 1.0 / (2.0 * beta)).pow(2);
  } else {
    at::Tensor z = beta * (rho_w - rho_l);
    if (o.type == LossType::kCdpo && o.label_smoothing > 0) {
      const double eps = o.label_smoothing;
      per_example = -(1.0 - eps) * stable_log_sigmoid(z) - eps * stable_log_sigmoid(-z);
    } else {
      per_example = -stable_log_sigmoid(z);
    }
  }

  LossOutput out;
  at::Tensor total = per_example.sum() / examples;
  if (o.type == LossType::kRpo) {
    const double tokens = denominator(d.chosen_tokens, sum_of(chosen.tokens));
    at::Tensor nll = nll_terms(o.rpo_norm, chosen, examples, tokens).sum() / examples;
    total = total + o.rpo_alpha * nll;
    out.metrics.add("nll", nll.item<double>() * examples, n);
  }
  if (o.type == LossType::kSelm) {
    // selm_trainer.py optimistic_dpo_loss: + α·β·(S_θ − S_ref)(x, y_ref), batch mean.
    // The gradient lowers log π_θ(y_ref | x); S_ref only shifts the value.
    at::Tensor ref_rho = selm->reference.defined() ? selm->policy - selm->reference : selm->policy;
    total = total + (o.selm_alpha * beta) * ref_rho.sum() / examples;
    out.metrics.add("selm/ref_logratio", sum_of(ref_rho), n);
  }
  out.loss = total;

  at::Tensor reward_w = (beta * rho_w).detach();
  at::Tensor reward_l = (beta * rho_l).detach();
  out.metrics.add("rewards/chosen", sum_of(reward_w), n);
  out.metrics.add("rewards/rejected", sum_of(reward_l), n);
  out.metrics.add("rewards/accuracies", sum_of((reward_w > reward_l).to(at::kDouble)), n);
  out.metrics.add("rewards/margins", sum_of(reward_w - reward_l), n);
  out.metrics.add("logps/chosen", sum_of(logp_w), n);
  out.metrics.add("logps/rejected", sum_of(logp_l), n);
  return out;
}

LossOutput kto_loss(const LossOptions& o, const SeqLogps& ex_in, const at::Tensor& desirable,
                    const SeqLogps& kl_in, Denominators d) {
  const SeqLogps ex = to_double(ex_in), kl = to_double(kl_in);
  const double n = static_cast<double>(ex.policy.size(0));
  const double examples = denominator(d.examples, n);
  const double beta = o.beta;

  // Reference point z0: mean log-ratio of the mismatched completions, detached, clamped
  // at 0 (TRL KTOTrainer `kl`; HALOs KTOTrainer.loss).
  const double kl_mean =
      kl.policy.numel() > 0
          ? (kl.policy - kl.reference).detach().to(at::kDouble).mean().item<double>()
          : 0.0;
  const double z0 = std::max(0.0, kl_mean);

  at::Tensor rho = ex.policy - ex.reference;
  at::Tensor is_d = desirable.to(at::kBool);
  // 1 − σ(u) = σ(−u). Desirable: u = β(ρ − z0); undesirable: u = β(z0 − ρ).
  at::Tensor loss_d = o.desirable_weight * at::sigmoid(-beta * (rho - z0));
  at::Tensor loss_u = o.undesirable_weight * at::sigmoid(-beta * (z0 - rho));
  at::Tensor per_example = at::where(is_d, loss_d, loss_u);

  LossOutput out;
  // TRL: nanmean over the B examples (not over the weights).
  out.loss = per_example.sum() / examples;
  at::Tensor reward = (beta * rho).detach().to(at::kDouble);
  at::Tensor fd = is_d.to(at::kDouble);
  at::Tensor fu = 1.0 - fd;
  const double nd = fd.sum().item<double>();
  const double nu = n - nd;
  out.metrics.add("rewards/chosen", (reward * fd).sum().item<double>(), nd);
  out.metrics.add("rewards/rejected", (reward * fu).sum().item<double>(), nu);
  at::Tensor logp = ex.policy.detach().to(at::kDouble);
  out.metrics.add("logps/chosen", (logp * fd).sum().item<double>(), nd);
  out.metrics.add("logps/rejected", (logp * fu).sum().item<double>(), nu);
  out.metrics.add("kl", z0, 1);
  return out;
}

LossOutput sft_loss(const LossOptions& o, const SeqLogps& s_in, Denominators d) {
  const SeqLogps s = to_double(s_in);
  const double n = static_cast<double>(s.policy.size(0));
  const double examples = denominator(d.examples, n);
  const double tokens = denominator(d.chosen_tokens, sum_of(s.tokens));
  LossOutput out;
  out.loss = nll_terms(o.sft_norm, s, examples, tokens).sum() / examples;
  out.metrics.add("logps/chosen", sum_of(s.policy), n);
  out.metrics.add("nll", sum_of(-s.policy), sum_of(s.tokens));  // per-token NLL
  return out;
}

}  // namespace dstc::trainer
