// `dstc generate`: DSTC's sampling stage on its own — J codes and K tests per prompt of a
// prompt file (or the toy world), into a run's store, one committed unit per prompt.
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "cli/pipeline.h"
#include "cli/run_config.h"

namespace dstc::cli {
namespace {

struct GenerateArgs {
  std::string run;
  std::string model;
  std::string prompts;
  int64_t codes = 8, tests = 8;
  int64_t count = 1000000;  // every prompt of the file
  double temperature = 0.8, top_p = 0.95;
  int64_t top_k = 0, max_new_tokens = 160;
  int64_t seed = 1234;
  std::string backend = "local", url, device = "cpu", dtype = "auto", prompt_format = "auto";
  int64_t max_batch = 16, threads = 1;
  bool force = false;
};

Status generate_command(const Globals& globals, const GenerateArgs& a) {
  DSTC_TRY(RunConfig config, default_run_config());
  namespace fs = std::filesystem;
  config.base_dir = fs::current_path().string();
  config.run.name = a.run;
  config.run.seed = a.seed;
  config.model.path = fs::absolute(a.model).string();
  config.model.backend = a.backend;
  config.model.url = a.url;
  config.model.device = a.device;
  config.model.dtype = a.dtype;
  config.model.threads = a.threads;
  config.model.max_batch = a.max_batch;
  config.model.prompt_format = a.prompt_format;
  config.data.train = a.prompts == "toy" ? "toy" : fs::absolute(a.prompts).string();
  config.data.train_count = a.count;
  config.generate.codes = a.codes;
  config.generate.tests = a.tests;
  config.generate.temperature = a.temperature;
  config.generate.top_p = a.top_p;
  config.generate.top_k = a.top_k;
  config.generate.max_new_tokens = a.max_new_tokens;
  // The same checks as a config file gets (a dump parses back to the same config).
  DSTC_TRY(RunConfig checked, parse_run_config(dump_run_config(config), "dstc generate options"));
  checked.base_dir = config.base_dir;
  PipelineOptions options;
  options.run_dir = globals.run_dir_for(a.run);
  options.force = a.force;
  return generate_samples(checked, options);
}

void register_generate(CLI::App& app, Globals& globals, Action& action) {
  auto a = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand(
      "generate",
      "Sample J codes and K tests for every prompt of a JSONL prompt file (HumanEval-style "
      "records, docs/prompts.md) into a run's store, one committed unit per prompt: run it "
      "again to continue after an interruption. `dstc store export --run NAME --format "
      "samples` reads them back.");
  cmd->add_option("--run", a->run, "Run name (its directory is ./runs/<run>)")->required();
  cmd->add_option("--model", a->model, "HF checkpoint folder (tokenizer, chat template)")
      ->required();
  cmd->add_option("--prompts", a->prompts, "JSONL prompt file, or 'toy' for toy-world prompts")
      ->required();
  cmd->add_option("--codes", a->codes, "J: solutions per prompt")->capture_default_str();
  cmd->add_option("--tests", a->tests, "K: tests per prompt")->capture_default_str();
  cmd->add_option("--count", a->count, "Use at most this many prompts")->capture_default_str();
  cmd->add_option("--temperature", a->temperature)->capture_default_str();
  cmd->add_option("--top-p", a->top_p)->capture_default_str();
  cmd->add_option("--top-k", a->top_k, "0 = off")->capture_default_str();
  cmd->add_option("--max-new-tokens", a->max_new_tokens)->capture_default_str();
  cmd->add_option("--seed", a->seed, "Sampling seeds derive from it")->capture_default_str();
  cmd->add_option("--backend", a->backend, "local (LibTorch engine) or openai (vLLM, SGLang)")
      ->capture_default_str();
  cmd->add_option("--url", a->url, "openai backend: the server's base URL");
  cmd->add_option("--device", a->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "auto, float32, bfloat16")->capture_default_str();
  cmd->add_option("--max-batch", a->max_batch, "Sequences decoded together")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Intra-op threads")->capture_default_str();
  cmd->add_option("--prompt-format", a->prompt_format,
                  "auto, toy, plain, chatml, llama3, deepseek-coder")
      ->capture_default_str();
  cmd->add_flag("--force", a->force, "Continue a run whose stored options differ");
  cmd->callback(
      [&globals, &action, a] { action = [&globals, a] { return generate_command(globals, *a); }; });
}

}  // namespace

DSTC_REGISTER_COMMAND(generate, register_generate);

}  // namespace dstc::cli
