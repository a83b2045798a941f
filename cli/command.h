// How subcommands plug into the `dstc` executable. Each cli/cmd_*.cpp registers
// itself with DSTC_REGISTER_COMMAND; main.cpp parses the command line, sets up
// logging, then runs the one Action the chosen subcommand stored.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"

namespace dstc::cli {

// Options every subcommand sees.
struct Globals {
  std::string log_level = "info";
  std::string run_dir;  // --run-dir; empty = ./runs/<name>

  // The directory of run `name`: --run-dir if given, else ./runs/<name>.
  std::string run_dir_for(const std::string& name) const;
};

// What the chosen subcommand does once parsing is over. Errors of kind
// kInvalidArgument exit with 2 (usage), all others with 1.
using Action = std::function<Status()>;

using Registrar = void (*)(CLI::App& app, Globals& globals, Action& action);

struct CommandRegistry {
  static std::vector<std::pair<std::string, Registrar>>& all();
};

struct CommandRegistration {
  CommandRegistration(const char* name, Registrar registrar);
};

}  // namespace dstc::cli

#define DSTC_REGISTER_COMMAND(name, registrar) \
  static const ::dstc::cli::CommandRegistration dstc_command_##name(#name, registrar)
