// `dstc run`: DSTC rounds as configured (default: the embedded toy-world config).
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/command.h"
#include "cli/pipeline.h"
#include "cli/run_config.h"

namespace dstc::cli {
namespace {

struct RunArgs {
  std::string config_path;
  std::string name;
  int64_t rounds = 0;
  std::optional<int64_t> seed;
  bool resume = false;
  bool force = false;
  bool print_config = false;
};

Status run_command(const Globals& globals, const RunArgs& args) {
  RunConfig config;
  if (args.config_path.empty()) {
    DSTC_TRY(config, default_run_config());
  } else {
    DSTC_TRY(config, load_run_config(args.config_path));
  }
  if (!args.name.empty()) config.run.name = args.name;
  if (args.rounds > 0) config.run.rounds = args.rounds;
  if (args.seed) config.run.seed = *args.seed;
  if (args.print_config) {
    std::fputs(dump_run_config(config).c_str(), stdout);
    return {};
  }
  PipelineOptions options;
  options.run_dir = globals.run_dir_for(config.run.name);
  options.resume = args.resume;
  options.force = args.force;
  return run_pipeline(config, options);
}

void register_run(CLI::App& app, Globals& globals, Action& action) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand(
      "run",
      "Run DSTC rounds: sample J codes and K tests per prompt, execute every code+test pair "
      "in the sandbox, select minimax preference pairs, train, evaluate. Without --config "
      "it runs the embedded toy-world config (configs/toy.toml).");
  cmd->add_option("--config", args->config_path, "Run config (TOML); see --print-config")
      ->check(CLI::ExistingFile);
  cmd->add_option("--name", args->name, "Run name (overrides run.name)");
  cmd->add_option("--rounds", args->rounds, "Number of rounds (overrides run.rounds)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed,
                  "Seed of every random choice (overrides run.seed): sampling, selection, "
                  "training order");
  cmd->add_flag("--resume", args->resume,
                "Continue a run that stopped: finished units are kept, the rest is done");
  cmd->add_flag("--force", args->force,
                "With --resume: accept a config that differs from the stored one");
  cmd->add_flag("--print-config", args->print_config,
                "Print the effective config with every key and its default, then exit");
  cmd->callback([&globals, &action, args] {
    action = [&globals, args] { return run_command(globals, *args); };
  });
}

}  // namespace

DSTC_REGISTER_COMMAND(run, register_run);

}  // namespace dstc::cli
