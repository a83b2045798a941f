// `dstc report`: the round report of a run, rebuilt from its summary.json.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/pipeline.h"

namespace dstc::cli {
namespace {

void register_report(CLI::App& app, Globals& globals, Action& action) {
  auto run = std::make_shared<std::string>("toy");
  auto* cmd = app.add_subcommand(
      "report",
      "Write a run's round report again from its summary.json: report.md (pass@1 per round, "
      "self-test validity, pass@J headroom, pair yield and skip reasons, pair audit, compare "
      "variants), report.json and SVG plots of pass@1 and the training curves.");
  cmd->add_option("--run", *run, "Run name (its directory is ./runs/<run>)")->capture_default_str();
  cmd->callback([&globals, &action, run] {
    action = [&globals, run]() -> Status {
      std::string dir = globals.run_dir_for(*run);
      DSTC_CHECK_OK(report_run(dir));
      std::printf("%s/report.md\n", dir.c_str());
      return {};
    };
  });
}

}  // namespace

DSTC_REGISTER_COMMAND(report, register_report);

}  // namespace dstc::cli
