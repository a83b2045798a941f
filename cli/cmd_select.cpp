// `dstc select`: a selector (or relabeling) over a finished round's stored matrices.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/pipeline.h"

namespace dstc::cli {
namespace {

struct SelectArgs {
  std::string run = "toy";
  SelectRequest request;
  bool skip = false, keep = false;  // neither: the run's own select.skip_same_code
};

Status select_command(const Globals& globals, SelectArgs& args) {
  args.request.run_dir = globals.run_dir_for(args.run);
  if (args.skip || args.keep) args.request.skip_same_code = args.skip;
  DSTC_TRY(Json result, select_stored(args.request));
  std::printf("%s\n", result.dump().c_str());
  return {};
}

void register_select(CLI::App& app, Globals& globals, Action& action) {
  auto args = std::make_shared<SelectArgs>();
  auto* cmd = app.add_subcommand(
      "select",
      "Run a selector over a round's stored execution matrices and store its preference "
      "pairs and KTO examples under the selector's name (train on them with `dstc train "
      "--data runs/NAME --selector NAME`). Prints the pair yield, skip reasons and, where "
      "hidden tests exist, the pair audit as JSON.");
  cmd->add_option("--run", args->run, "Run name (its directory is ./runs/<run>)")
      ->capture_default_str();
  cmd->add_option("--round", args->request.round, "Round whose matrices to use")
      ->capture_default_str();
  cmd->add_option("--selector", args->request.selector,
                  "dstc (minimax code+test pairs), code-only, maxmin, random, codet, or oracle "
                  "(labelled by the hidden tests)")
      ->check(CLI::IsMember({"dstc", "code-only", "maxmin", "random", "codet", "oracle"}))
      ->capture_default_str();
  cmd->add_option("--relabel", args->request.relabel,
                  "none, or reward-augmented (each pair becomes two, conditioned on the chosen "
                  "and on the rejected score; stored as <selector>+reward-augmented)")
      ->check(CLI::IsMember({"none", "reward-augmented"}))
      ->capture_default_str();
  auto* skip = cmd->add_flag("--skip-same-code", args->skip,
                             "Skip prompts whose rejected code is the chosen code (default: "
                             "the run's select.skip_same_code)");
  cmd->add_flag("--keep-same-code", args->keep, "Keep them (pairs that differ only in the test)")
      ->excludes(skip);
  cmd->callback([&globals, &action, args] {
    action = [&globals, args] { return select_command(globals, *args); };
  });
}

}  // namespace

DSTC_REGISTER_COMMAND(select, register_select);

}  // namespace dstc::cli
