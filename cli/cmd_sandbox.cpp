// `dstc sandbox doctor`: which isolation layers are active on this host, and why any is
// missing (each layer is also probed from inside a run).
#include <cstdio>

#include "cli/command.h"
#include "sandbox/sandbox.h"

namespace dstc::cli {
namespace {

void register_sandbox(CLI::App& app, Globals&, Action& action) {
  auto* cmd = app.add_subcommand("sandbox", "Sandbox tools");
  cmd->require_subcommand(1);
  auto json_out = std::make_shared<bool>(false);
  auto* doc = cmd->add_subcommand("doctor", "Report the isolation layers active on this host");
  doc->add_flag("--json", *json_out, "Print the report as JSON");
  doc->callback([json_out, &action] {
    action = [json_out]() -> Status {
      DSTC_TRY(auto sb, sandbox::Sandbox::create());
      DSTC_TRY(auto layers, sandbox::doctor(*sb));
      size_t missing = 0;
      Json j = Json::array();
      for (const auto& l : layers) {
        missing += !l.active;
        j.push_back({{"layer", l.name}, {"active", l.active}, {"detail", l.detail}});
        if (!*json_out) {
          std::printf("%-8s %-38s %s\n", l.active ? "active" : "MISSING", l.name.c_str(),
                      l.detail.c_str());
        }
      }
      if (*json_out) {
        std::printf("%s\n", j.dump(2).c_str());
      } else if (missing) {
        std::printf("\n%zu layer(s) MISSING on this host: runs are less isolated than designed.\n",
                    missing);
      } else {
        std::printf("\nall %zu layers active\n", layers.size());
      }
      return {};
    };
  });
}

}  // namespace
}  // namespace dstc::cli

DSTC_REGISTER_COMMAND(sandbox, dstc::cli::register_sandbox);
