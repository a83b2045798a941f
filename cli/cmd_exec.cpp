// `dstc exec`: run one Python file, or a JSONL batch, in the sandbox (issue 3's contract).
//   dstc exec FILE.py [--profile strict|bigcodebench] [--timeout S] [--memory-mb N]
//       → one JSON verdict on stdout; exit 0 whenever a verdict was produced
//   dstc exec --batch JOBS.jsonl --out VERDICTS.jsonl [--parallel N]
//       → one verdict (+ id) per input line, in input order
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "common/file.h"
#include "common/json.h"
#include "common/progress.h"
#include "sandbox/sandbox.h"
#include "sandbox_service/client.h"

namespace dstc::cli {
namespace {

struct ExecArgs {
  std::string file;
  std::string profile = "strict";
  double timeout = 0;
  int64_t memory_mb = 0;
  std::string batch;
  std::string out;
  size_t parallel = 0;
  std::string servers;  // "URL[,URL...]": run on `dstc serve sandbox` instances instead
};

// Runs jobs (verdicts in input order) on the local sandbox or on remote servers.
using BatchRunner = std::function<std::vector<sandbox::Verdict>(
    const std::vector<sandbox::Job>&, size_t parallel, const std::function<void(size_t)>&)>;

Status exec_one(const ExecArgs& a, const BatchRunner& runner) {
  auto source = read_file(a.file);
  if (!source) return fail(ErrorCode::kInvalidArgument, source.error().message());
  sandbox::Job job;
  job.program = std::move(*source);
  job.profile = a.profile;
  if (a.timeout > 0) job.timeout_seconds = a.timeout;
  if (a.memory_mb > 0) job.memory_mb = a.memory_mb;
  sandbox::Verdict v = runner({job}, 1, {}).front();
  std::printf("%s\n", sandbox::verdict_to_json(v).dump().c_str());
  return {};
}

Status exec_batch(const ExecArgs& a, const BatchRunner& runner) {
  if (a.out.empty()) {
    return fail(ErrorCode::kInvalidArgument, "--batch needs --out VERDICTS.jsonl");
  }
  auto text = read_file(a.batch);
  if (!text) return fail(ErrorCode::kInvalidArgument, text.error().message());
  std::vector<sandbox::Job> jobs;
  DSTC_CHECK_OK(
      for_each_jsonl(*text, a.batch, [&](size_t line, const Json& obj) -> Status {
        auto job = sandbox::job_from_json(obj);
        if (!job) {
          return fail(ErrorCode::kInvalidArgument,
                      a.batch + ":" + std::to_string(line) + ": " + job.error().message());
        }
        jobs.push_back(std::move(*job));
        return {};
      }).map_error([](Error e) { return Error(ErrorCode::kInvalidArgument, e.message()); }));
  ProgressBar bar("exec", jobs.size());
  auto verdicts = runner(jobs, a.parallel, [&](size_t) { bar.tick(); });
  bar.finish();
  std::string out;
  for (const auto& v : verdicts) out += sandbox::verdict_to_json(v).dump() + "\n";
  DSTC_CHECK_OK(write_file_atomic(a.out, out));
  return {};
}

void register_exec(CLI::App& app, Globals&, Action& action) {
  auto args = std::make_shared<ExecArgs>();
  auto* cmd = app.add_subcommand("exec", "Run a Python program (or a JSONL batch) in the sandbox");
  cmd->add_option("file", args->file, "Python file to run");
  cmd->add_option("--profile", args->profile, "Sandbox profile: strict or bigcodebench")
      ->capture_default_str();
  cmd->add_option("--timeout", args->timeout, "Wall and CPU limit in seconds (default: profile's)");
  cmd->add_option("--memory-mb", args->memory_mb, "Memory limit in MB (default: profile's)");
  cmd->add_option("--batch", args->batch,
                  "JSONL of jobs {id, program, profile?, timeout?, stdin?, memory_mb?}");
  cmd->add_option("--out", args->out, "Where --batch writes one verdict per line (input order)");
  cmd->add_option("--parallel", args->parallel, "Concurrent runs for --batch (default: all cores)");
  cmd->add_option("--server", args->servers,
                  "Run on `dstc serve sandbox` servers instead (URL[,URL...]); jobs are spread "
                  "across them and retried on 429 or connection errors");
  cmd->callback([args, &action] {
    action = [args]() -> Status {
      const ExecArgs& a = *args;
      if (a.file.empty() == a.batch.empty()) {
        return fail(ErrorCode::kInvalidArgument, "give either FILE.py or --batch JOBS.jsonl");
      }
      if (auto p = sandbox::builtin_profile(a.profile); !p) return fail(p.error());
      if (a.timeout < 0 || a.memory_mb < 0) {
        return fail(ErrorCode::kInvalidArgument, "--timeout and --memory-mb must be positive");
      }
      BatchRunner runner;
      std::shared_ptr<sandbox::Sandbox> local;
      std::shared_ptr<sandbox_service::RemoteExecutor> remote;
      if (a.servers.empty()) {
        DSTC_TRY(local, sandbox::Sandbox::create());
        runner = [local](const auto& jobs, size_t parallel, const auto& on_done) {
          return local->run_batch(jobs, parallel, on_done);
        };
      } else {
        sandbox_service::RemoteOptions options;
        DSTC_TRY(options.servers, sandbox_service::parse_server_list(a.servers));
        DSTC_TRY(remote, sandbox_service::RemoteExecutor::create(options));
        runner = [remote](const auto& jobs, size_t parallel, const auto& on_done) {
          return remote->run_batch(jobs, parallel, on_done);
        };
      }
      return a.batch.empty() ? exec_one(a, runner) : exec_batch(a, runner);
    };
  });
}

}  // namespace
}  // namespace dstc::cli

DSTC_REGISTER_COMMAND(exec, dstc::cli::register_exec);
