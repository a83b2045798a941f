// `dstc bench train --json`: the median time of one DPO optimizer step (policy and
// reference forwards on chosen and rejected, backward, AdamW) on random Llama models,
// against plain PyTorch eager (scripts/bench_train_reference.py under Debian's
// python3-torch) measured in the same run. One JSON line per shape.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "common/json.h"
#include "trainer/trainer.h"

namespace dstc::cli {
namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  bool json = false;
  int64_t steps = 5;
  int64_t parallel = 2;
  std::vector<std::string> shapes;
  std::string python = "/usr/bin/python3";
  std::string script;  // default: found beside the source tree
  bool no_baseline = false;
};

const trainer::BenchShape kShapes[] = {
    {"T1-1M", 2048, 128, 4, 4, 344},
    {"T2-9M", 8192, 256, 6, 8, 688},
};

// scripts/bench_train_reference.py: under the working directory, or above the executable
// (build/cli/dstc → the source tree).
std::string find_script() {
  std::vector<fs::path> roots = {fs::current_path()};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path p = exe.parent_path(); !ec && p.has_relative_path(); p = p.parent_path()) {
    roots.push_back(p);
  }
  for (const auto& r : roots) {
    fs::path s = r / "scripts" / "bench_train_reference.py";
    if (fs::exists(s)) return s.string();
  }
  return "";
}

// Runs the PyTorch baseline for one shape; kUnavailable (with the reason) when it cannot.
Result<Json> run_baseline(const BenchArgs& a, const std::string& script, const std::string& shape) {
  if (script.empty()) {
    return fail(ErrorCode::kUnavailable, "scripts/bench_train_reference.py not found");
  }
  if (access(a.python.c_str(), X_OK) != 0) {
    return fail(ErrorCode::kUnavailable, a.python + " not found");
  }
  // One thread, as the reference numbers (two were slower on these machines).
  const std::string cmd = "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 " + a.python + " " + script +
                          " --threads 1 --steps " + std::to_string(a.steps) + " --shape " + shape +
                          " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return fail(ErrorCode::kUnavailable, "cannot start " + a.python);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  const int rc = pclose(pipe);
  if (rc != 0) {
    return fail(ErrorCode::kUnavailable, "PyTorch baseline failed (is python3-torch installed?): " +
                                             out.substr(0, std::min<size_t>(out.size(), 300)));
  }
  auto nl = out.rfind('\n', out.size() >= 2 ? out.size() - 2 : 0);
  std::string last = nl == std::string::npos ? out : out.substr(nl + 1);
  return parse_json(last, "bench_train_reference.py output");
}

Status run_bench_train(const BenchArgs& a) {
  const std::string script = a.script.empty() ? find_script() : a.script;
  for (const auto& shape : kShapes) {
    if (!a.shapes.empty() &&
        std::find(a.shapes.begin(), a.shapes.end(), shape.name) == a.shapes.end()) {
      continue;
    }
    DSTC_TRY(auto r, trainer::bench_dpo_step(shape, a.steps, a.parallel));
    Json line = {{"bench", "train"},       {"size", r.size},
                 {"params", r.parameters}, {"batch_pairs", 8},
                 {"seq_len", 128},         {"parallel", a.parallel},
                 {"step_s", r.step_s},     {"step_median_s", r.step_median_s}};
    if (!a.no_baseline) {
      auto base = run_baseline(a, script, shape.name);
      if (base) {
        const double t = (*base)["step_median_s"].get<double>();
        line["baseline"] = "pytorch-1.13-eager-python-1-thread";
        line["baseline_step_median_s"] = t;
        line["ratio"] = r.step_median_s / t;
      } else {
        line["baseline"] = nullptr;
        line["baseline_error"] = base.error().message();
      }
    }
    if (a.json) {
      std::printf("%s\n", line.dump().c_str());
    } else {
      std::printf("%-6s %8.4f s/step", r.size.c_str(), r.step_median_s);
      if (line.contains("ratio")) {
        std::printf("  pytorch %8.4f s  ratio %.3f", line["baseline_step_median_s"].get<double>(),
                    line["ratio"].get<double>());
      }
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  return {};
}

void register_bench(CLI::App& app, Globals&, Action& action) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Performance benchmarks");
  cmd->require_subcommand(1);
  auto* train = cmd->add_subcommand(
      "train", "Median DPO optimizer step on random Llama models vs PyTorch eager");
  train->add_flag("--json", args->json, "One JSON line per shape");
  train->add_option("--steps", args->steps, "Timed steps after one warm-up")->capture_default_str();
  train->add_option("--parallel", args->parallel, "Threads for independent sequence groups")
      ->capture_default_str();
  train->add_option("--shape", args->shapes, "T1-1M, T2-9M (default: both)");
  train->add_option("--python", args->python, "Interpreter with torch for the baseline")
      ->capture_default_str();
  train->add_option("--reference-script", args->script, "Path of bench_train_reference.py");
  train->add_flag("--no-baseline", args->no_baseline, "Skip the PyTorch measurement");
  train->callback([args, &action]() { action = [args]() { return run_bench_train(*args); }; });
}

}  // namespace
}  // namespace dstc::cli

DSTC_REGISTER_COMMAND(bench, dstc::cli::register_bench);
