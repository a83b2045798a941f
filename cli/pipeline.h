// The `dstc run` pipeline: rounds of generate → execute → select → train → evaluate,
// each stage working in committed store units so a killed run resumes exactly there.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "cli/pipeline_model.h"
#include "cli/pipeline_tasks.h"
#include "cli/run_config.h"
#include "common/error.h"
#include "common/json.h"
#include "sandbox/sandbox.h"

namespace dstc::cli {

struct PipelineOptions {
  std::string run_dir;  // holds the store, checkpoints, metrics, summary.json, report
  bool resume = false;  // an existing run continues; without it an existing run is an error
  bool force = false;   // resume even when the config changed
};

Status run_pipeline(const RunConfig& config, const PipelineOptions& options);

// Samples each task's code query with `request` and scores every answer against the
// task's hidden tests through `run_jobs` (the local sandbox or sandbox servers): the
// verdict of each sample, per task. A sandbox error is a failure naming the task.
using JobRunner = std::function<std::vector<sandbox::Verdict>(const std::vector<sandbox::Job>&)>;
Result<std::vector<std::vector<sandbox::Status>>> score_answers(
    SamplingModel& model, const std::vector<const PipelineTask*>& tasks,
    const SampleRequest& request, const RunConfig::Execute& execute, const JobRunner& run_jobs);

// `dstc select`: runs a selector over a round's stored matrices (the run's own config,
// seed and skip policy) and stores its pairs and KTO examples under the selector's name
// ("<selector>+reward-augmented" with relabeling), replacing what was stored under that
// name, for `dstc train --data RUN --selector`.
// Returns the selection statistics and the pair audit.
struct SelectRequest {
  std::string run_dir;
  uint32_t round = 0;
  std::string selector = "dstc";  // dstc, code-only, maxmin, random, codet, oracle
  std::string relabel = "none";   // none or reward-augmented
  // Skip prompts whose rejected code is the chosen code; unset = the run's own setting.
  std::optional<bool> skip_same_code;
};
Result<Json> select_stored(const SelectRequest& request);

// `dstc generate`: the generate stage alone, as round 0 of the run in options.run_dir
// (config.data.train prompts, config.model.path, J codes and K tests each): one committed
// unit per prompt, so an interrupted call continues where it stopped.
Status generate_samples(const RunConfig& config, const PipelineOptions& options);

// `dstc report`: rewrites report.md, report.json and the plots from summary.json.
Status report_run(const std::string& run_dir);

}  // namespace dstc::cli
