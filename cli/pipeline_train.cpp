// The train stage of `dstc run`: one training run per round, committed as one unit.
#include <chrono>
#include <filesystem>

#include "cli/pipeline_model.h"
#include "common/log.h"
#include "trainer/trainer.h"

namespace dstc::cli {

namespace fs = std::filesystem;

Result<Json> train_round(const RunConfig& config, store::Store& store, uint32_t round,
                         const std::string& initial_dir, const std::string& policy_dir,
                         const std::string& out_dir, const std::string& variant) {
  auto [selector, loss] = split_variant(variant);
  if (variant.empty()) selector = config.select.selector;
  if (loss.empty()) loss = config.train.loss;
  const store::UnitKey unit{round, "train", variant.empty() ? "model" : "compare/" + variant};
  const std::string info_key =
      "train/" + std::to_string(round) + (variant.empty() ? "" : "/" + variant);
  const std::string timing_key =
      "timing/" + std::to_string(round) + (variant.empty() ? "/train" : "/compare/" + variant);
  DSTC_TRY(bool done, store.is_done(unit));
  if (done) {
    DSTC_TRY(auto info, store.meta(info_key));
    return parse_json(info.value_or("{}"), "stored training summary");
  }
  auto start = std::chrono::steady_clock::now();
  auto log = log::get("run");
  std::error_code ec;
  fs::remove_all(out_dir, ec);  // whatever an interrupted attempt left behind
  fs::create_directories(fs::path(out_dir).parent_path(), ec);

  DSTC_TRY(auto pairs, store.pairs(round, selector));
  Json info;
  info["selector"] = selector;
  info["loss"] = loss;
  info["pairs"] = pairs.size();
  if (pairs.empty()) {
    // Nothing to learn from: the next round starts from the same weights.
    log->warn("round {}: no {} pairs; the model is carried over untrained", round, selector);
    fs::copy(policy_dir, out_dir, fs::copy_options::recursive, ec);
    if (ec) {
      return fail(ErrorCode::kIo, "copying " + policy_dir + " to " + out_dir + ": " + ec.message());
    }
    info["skipped"] = "no pairs";
  } else {
    trainer::TrainOptions o;
    o.model_dir = policy_dir;
    o.reference_dir = config.train.reference == "initial" ? initial_dir : "";
    o.data = store.dir();
    o.round = round;
    o.selector = selector;
    o.out_dir = out_dir;
    DSTC_TRY(o.loss.type, trainer::parse_loss_type(loss));
    o.loss.beta = config.train.beta;
    o.lr = config.train.lr;
    o.epochs = config.train.epochs;
    o.batch_size = config.train.batch_size;
    o.grad_accum = config.train.grad_accum;
    o.lora_rank = config.train.lora_rank;
    o.device = config.model.device;
    o.dtype = config.model.dtype;
    o.seed = static_cast<uint64_t>(config.run.seed) * 31 + round;
    log->info("round {}: training {} on {} {} pairs -> {}", round, loss, pairs.size(), selector,
              out_dir);
    auto result = trainer::train(o);
    if (!result)
      return fail(
          std::move(result).error().context("round " + std::to_string(round) + " training"));
    info["steps"] = result->steps;
    info["metrics_path"] = result->metrics_path;
    for (const auto& [k, v] : result->last) info["last"][k] = v;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  store::WriteSet ws;
  ws.put_meta(info_key, info.dump());
  ws.put_meta(timing_key, std::to_string(seconds));
  DSTC_CHECK_OK(store.commit(unit, ws));
  return info;
}

}  // namespace dstc::cli
