// The `dstc run` pipeline: rounds of generate → execute → select → train → evaluate,
// each stage working in committed store units so a killed run resumes exactly there.
#pragma once

#include <string>

#include "cli/run_config.h"
#include "common/error.h"

namespace dstc::cli {

struct PipelineOptions {
  std::string run_dir;  // holds the store, checkpoints, metrics, summary.json, report
  bool resume = false;  // an existing run continues; without it an existing run is an error
  bool force = false;   // resume even when the config changed
};

Status run_pipeline(const RunConfig& config, const PipelineOptions& options);

}  // namespace dstc::cli
