// `dstc train`: preference (DPO, cDPO, IPO, KTO, RPO, SELM) or SFT training of a Hugging
// Face checkpoint on a run's pairs or a TRL JSONL file; writes a checkpoint folder and
// prints the path of its metrics JSONL.
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/command.h"
#include "trainer/trainer.h"

namespace dstc::cli {
namespace {

struct TrainArgs {
  trainer::TrainOptions o;
  std::string loss = "dpo";
  std::string rpo_norm = "seq_mean";
  std::string sft_norm = "pooled_token_mean";
  std::string lora_targets;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Status run_train(TrainArgs& a) {
  DSTC_TRY(a.o.loss.type, trainer::parse_loss_type(a.loss));
  DSTC_TRY(a.o.loss.rpo_norm, trainer::parse_nll_norm(a.rpo_norm));
  DSTC_TRY(a.o.loss.sft_norm, trainer::parse_nll_norm(a.sft_norm));
  if (a.o.loss.type == trainer::LossType::kCdpo && a.o.loss.label_smoothing == 0) {
    a.o.loss.label_smoothing = 0.1;  // cDPO without ε would be plain DPO
  }
  if (!a.lora_targets.empty()) a.o.lora_targets = split_commas(a.lora_targets);
  DSTC_TRY(auto result, trainer::train(a.o));
  std::printf("%s\n", result.metrics_path.c_str());
  return {};
}

void register_train(CLI::App& app, Globals&, Action& action) {
  auto args = std::make_shared<TrainArgs>();
  auto& o = args->o;
  auto* cmd = app.add_subcommand(
      "train",
      "Train a checkpoint with DPO/cDPO/IPO/KTO/RPO/SELM/SFT; prints the metrics JSONL path");
  cmd->add_option("--loss", args->loss, "dpo, cdpo, ipo, kto, rpo, selm or sft")
      ->capture_default_str();
  cmd->add_option("--model", o.model_dir, "Hugging Face checkpoint folder")->required();
  cmd->add_option("--data", o.data,
                  "A run directory (its store's pairs / KTO examples) or a TRL JSONL file "
                  "({prompt, chosen, rejected} or {prompt, completion, label})")
      ->required();
  cmd->add_option("--out", o.out_dir, "Output folder: checkpoint, metrics.jsonl")->required();
  cmd->add_option("--reference", o.reference_dir, "Reference model folder (default: --model)");
  cmd->add_option("--round", o.round, "Store round (-1: the latest with data)")
      ->capture_default_str();
  cmd->add_option("--selector", o.selector, "Store selector of the pairs")->capture_default_str();
  cmd->add_option("--beta", o.loss.beta, "β (IPO: τ)")->capture_default_str();
  cmd->add_option("--label-smoothing", o.loss.label_smoothing,
                  "cDPO ε (default 0.1 with --loss cdpo)");
  cmd->add_option("--desirable-weight", o.loss.desirable_weight, "KTO λ_D")->capture_default_str();
  cmd->add_option("--undesirable-weight", o.loss.undesirable_weight, "KTO λ_U")
      ->capture_default_str();
  cmd->add_option("--rpo-alpha", o.loss.rpo_alpha, "RPO weight of the NLL term")
      ->capture_default_str();
  cmd->add_option("--rpo-norm", args->rpo_norm,
                  "RPO NLL normalisation: sum (Liu et al. cumulative), seq_mean (OpenRLHF), "
                  "pooled_token_mean (TRL)")
      ->capture_default_str();
  cmd->add_option("--selm-alpha", o.loss.selm_alpha, "SELM α")->capture_default_str();
  cmd->add_option("--sft-norm", args->sft_norm, "SFT NLL normalisation")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--epochs", o.epochs)->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "Pairs (or examples) per micro-batch")
      ->capture_default_str();
  cmd->add_option("--grad-accum", o.grad_accum, "Micro-batches per optimizer step")
      ->capture_default_str();
  cmd->add_option("--save-every", o.save_every,
                  "Also write OUT/step-N checkpoints every N optimizer steps (0: off)");
  cmd->add_option("--steps", o.max_steps, "Stop after N optimizer steps (-1: all epochs)")
      ->capture_default_str();
  cmd->add_option("--scheduler", o.scheduler, "linear, cosine or constant")->capture_default_str();
  cmd->add_option("--warmup-ratio", o.warmup_ratio)->capture_default_str();
  cmd->add_option("--warmup-steps", o.warmup_steps, "Overrides --warmup-ratio when > 0")
      ->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay)->capture_default_str();
  cmd->add_option("--max-grad-norm", o.max_grad_norm, "Clip the global norm (<= 0: off)")
      ->capture_default_str();
  cmd->add_option("--max-length", o.tokenize.max_length, "Prompt + completion tokens")
      ->capture_default_str();
  cmd->add_option("--max-prompt-length", o.tokenize.max_prompt_length,
                  "Longer prompts are skipped and counted")
      ->capture_default_str();
  cmd->add_option("--lora-rank", o.lora_rank, "LoRA rank (0: full fine-tuning)")
      ->capture_default_str();
  cmd->add_option("--lora-alpha", o.lora_alpha)->capture_default_str();
  cmd->add_option("--lora-targets", args->lora_targets,
                  "Comma-separated module names (default: all linear layers)");
  cmd->add_option("--seed", o.seed)->capture_default_str();
  cmd->add_option("--device", o.device, "cpu, cuda, cuda:N")->capture_default_str();
  cmd->add_option("--dtype", o.dtype,
                  "Compute precision: auto (float32 on CPU, bfloat16 on CUDA), float32 or "
                  "bfloat16 = mixed precision (fp32 master weights and AdamW state, bf16 "
                  "autocast forward/backward, fp32 log-softmax and losses). The checkpoint is "
                  "always written in float32")
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "Intra-op threads per worker (0: auto)")
      ->capture_default_str();
  cmd->add_option("--parallel", o.parallel,
                  "Sequence groups (chosen/rejected) run on this many threads at once")
      ->capture_default_str();
  cmd->callback([args, &action]() { action = [args]() { return run_train(*args); }; });
}

}  // namespace
}  // namespace dstc::cli

DSTC_REGISTER_COMMAND(train, dstc::cli::register_train);
