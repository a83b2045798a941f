// Runs the built `dstc` binary and captures its exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace dstc::cli::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `DSTC_BINARY args` through the shell (args must be shell-quoted by the caller).
inline RunResult run_dstc(const std::string& args, const std::string& cwd = "") {
  static int counter = 0;
  std::string base = (std::filesystem::temp_directory_path() /
                      ("dstc_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
                         .string();
  std::string cmd = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + std::string(DSTC_BINARY) + " " +
                    args + " >" + base + ".out 2>" + base + ".err";
  int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::filesystem::remove(base + ".out");
  std::filesystem::remove(base + ".err");
  return r;
}

}  // namespace dstc::cli::testing
