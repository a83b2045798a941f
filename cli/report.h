// The round report of a run: report.md (tables), report.json (the summary it shows) and
// SVG plots (pass@1 per round, pair yield), written into the run directory.
#pragma once

#include <string>

#include "common/error.h"
#include "common/json.h"

namespace dstc::cli {

Status write_report(const std::string& run_dir, const Json& summary);

}  // namespace dstc::cli
