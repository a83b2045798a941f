// The `dstc` executable: global options, subcommand dispatch, error reporting.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "cli/command.h"
#include "common/log.h"
#include "common/version.h"

namespace dstc::cli {

std::string Globals::run_dir_for(const std::string& name) const {
  return run_dir.empty() ? "runs/" + name : run_dir;
}

std::vector<std::pair<std::string, Registrar>>& CommandRegistry::all() {
  static std::vector<std::pair<std::string, Registrar>> commands;
  return commands;
}

CommandRegistration::CommandRegistration(const char* name, Registrar registrar) {
  CommandRegistry::all().emplace_back(name, registrar);
}

}  // namespace dstc::cli

int main(int argc, char** argv) {
  using namespace dstc;
  CLI::App app{
      "dstc: self-training for code LLMs from their own samples.\n"
      "The model writes solutions and tests, a sandbox runs every pair, a minimax rule\n"
      "turns the pass/fail matrix into preference pairs, and DPO/KTO train on them."};
  app.set_version_flag("--version", std::string("dstc ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough();

  cli::Globals globals;
  app.add_option("--log-level", globals.log_level,
                 "Log verbosity: trace, debug, info, warn, error, off")
      ->capture_default_str();
  app.add_option("--run-dir", globals.run_dir,
                 "Run directory (default: ./runs/<name>, where <name> is the command's --run)");

  cli::Action action;
  auto commands = cli::CommandRegistry::all();
  std::sort(commands.begin(), commands.end());
  for (auto& [name, registrar] : commands) registrar(app, globals, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help/--version print and exit 0; every usage error exits 2 (DESIGN.md §7).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (auto s = log::set_level(globals.log_level); !s) {
    std::fprintf(stderr, "dstc: error: %s\n", s.error().message().c_str());
    return 2;
  }
  if (!action) {
    std::fprintf(stderr, "dstc: error: no action chosen; see dstc --help\n");
    return 2;
  }
  Status status;
  try {
    status = action();
  } catch (const std::exception& e) {
    status = fail(ErrorCode::kInternal, std::string("unexpected exception: ") + e.what());
  }
  if (!status) {
    std::fprintf(stderr, "dstc: error: %s\n", status.error().message().c_str());
    return status.error().code() == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
