// `dstc eval`: score a model or a samples file on HumanEval(+), MBPP(+) or BigCodeBench
// through the sandbox (docs/evaluation.md).
//
//   dstc eval --benchmark humaneval+ --data HumanEvalPlus.jsonl.gz --samples s.jsonl --out o
//   dstc eval --benchmark mbpp+ --data MbppPlus.jsonl.gz --model ./ckpt --n 10
//       --temperature 0.8 --out o
//
// The model-driven part lives here (it links LibTorch through dstc_generator) so that
// dstc_benchmarks stays torch-free.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "benchmarks/evaluate.h"
#include "benchmarks/prompts.h"
#include "benchmarks/sanitize.h"
#include "cli/command.h"
#include "common/log.h"
#include "common/progress.h"
#include "generator/engine.h"
#include "generator/text/chat_template.h"
#include "generator/text/tokenizer.h"

namespace dstc::cli {
namespace {

namespace bm = dstc::benchmarks;

struct EvalArgs {
  std::string benchmark;
  std::string split;
  std::string data;
  std::string model;
  std::string samples;
  std::string out;
  int64_t n = 1;
  double temperature = 0.0;
  double top_p = 0.95;
  int64_t max_new_tokens = 512;
  uint64_t seed = 0;
  std::string mode = "completion";
  std::string chat_format = "auto";
  std::string device = "cpu";
  std::string dtype = "auto";
  int64_t max_batch = 16;
  bool sanitize = false;
  bool canonical = false;
  size_t parallel = 0;
  size_t limit = 0;
  double timeout = 0;
  std::string cache_dir;
};

// Adapts the tokenizer to the engine; prompts may hold the chat template's markers.
class TokenizerCodec : public generator::TextCodec {
 public:
  explicit TokenizerCodec(generator::Tokenizer tok) : tok_(std::move(tok)) {}
  std::vector<int32_t> encode(const std::string& text) const override {
    return tok_.encode(text, /*add_special=*/false, /*parse_special=*/true);
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    return tok_.decode(ids, /*skip_special=*/true);
  }

 private:
  generator::Tokenizer tok_;
};

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/dstc";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/dstc";
  return ".dstc-cache";
}

// Samples n programs per task from a local checkpoint.
Result<std::vector<bm::Sample>> generate_samples(const EvalArgs& a, const bm::Dataset& ds) {
  DSTC_TRY(auto mode_ok, [&]() -> Result<bm::PromptMode> {
    if (a.mode == "completion") return bm::PromptMode::kCompletion;
    if (a.mode == "instruct") return bm::PromptMode::kInstruct;
    return fail(ErrorCode::kInvalidArgument,
                "--mode '" + a.mode + "' is not valid (use completion|instruct)");
  }());
  const bm::PromptMode mode = mode_ok;
  generator::EngineOptions eo;
  eo.device = a.device;
  eo.dtype = a.dtype;
  eo.max_batch = a.max_batch;
  DSTC_TRY(auto engine, generator::LocalEngine::load(a.model, eo));
  const std::string tok_path = a.model + "/tokenizer.json";
  DSTC_TRY(generator::Tokenizer tok, generator::Tokenizer::from_file(tok_path));
  DSTC_TRY(generator::ChatFormat format,
           generator::resolve_chat_format(a.chat_format, tok.chat_template()));
  generator::ChatTemplate chat(format);
  engine->set_codec(std::make_shared<TokenizerCodec>(std::move(tok)));

  std::vector<generator::Prompt> prompts;
  for (const auto& t : ds.tasks) {
    if (mode == bm::PromptMode::kCompletion) {
      prompts.push_back(generator::Prompt::from_text(bm::completion_prompt(t)));
    } else {
      bm::ChatPrompt cp = bm::instruct_prompt(t, ds.benchmark);
      std::string text = chat.render({{"user", cp.user}}, /*add_generation_prompt=*/true);
      prompts.push_back(generator::Prompt::from_text(text + cp.assistant_prefix));
    }
  }
  generator::SamplingParams sp;
  sp.n = a.n;
  sp.temperature = a.temperature;
  sp.greedy = a.temperature <= 0;
  sp.top_p = a.top_p;
  sp.max_new_tokens = a.max_new_tokens;
  sp.seed = a.seed;
  if (mode == bm::PromptMode::kCompletion) {
    sp.stop = bm::completion_stops_for(ds.benchmark);
  } else {
    sp.stop = chat.stop_strings();
  }
  log::get("eval")->info("generating {} × {} samples with {}", prompts.size(), a.n,
                         engine->describe());
  std::vector<bm::Sample> samples;
  ProgressBar bar("generate", prompts.size());
  // One task at a time keeps memory bounded and shows progress; the engine batches the n
  // samples of a task together.
  for (size_t i = 0; i < prompts.size(); ++i) {
    DSTC_TRY(auto outs, engine->generate({prompts[i]}, sp));
    for (const auto& c : outs.at(0)) {
      samples.push_back(
          {ds.tasks[i].task_id, bm::program_from_output(ds.tasks[i], ds.benchmark, mode, c.text)});
    }
    bar.tick();
  }
  bar.finish();
  return samples;
}

Status run_eval(const EvalArgs& a) {
  DSTC_TRY(bm::Benchmark b, bm::benchmark_from_name(a.benchmark));
  if (int(!a.model.empty()) + int(!a.samples.empty()) + int(a.canonical) != 1) {
    return fail(ErrorCode::kInvalidArgument,
                "give exactly one of --model DIR, --samples FILE or --canonical");
  }
  if (a.n < 1) return fail(ErrorCode::kInvalidArgument, "--n must be at least 1");
  DSTC_TRY(bm::Dataset ds, bm::load_dataset(b, a.data, {a.split}));
  if (a.limit > 0 && ds.tasks.size() > a.limit) ds.tasks.resize(a.limit);

  std::vector<bm::Sample> samples;
  if (a.canonical) {
    samples = bm::canonical_samples(ds);
  } else if (!a.samples.empty()) {
    DSTC_TRY(samples, bm::read_samples(a.samples, ds));
    if (a.sanitize) {
      for (auto& s : samples) {
        const bm::Task* t = ds.find(s.task_id);
        s.solution = bm::sanitize(bm::extract_code(s.solution), t ? t->entry_point : "");
      }
    }
  } else {
    DSTC_TRY(samples, generate_samples(a, ds));
  }

  DSTC_TRY(auto sandbox, sandbox::Sandbox::create());
  bm::EvalOptions opt;
  opt.parallel = a.parallel;
  opt.cache_dir = a.cache_dir.empty() ? default_cache_dir() : a.cache_dir;
  opt.greedy = !a.model.empty() && a.temperature <= 0;
  if (a.timeout > 0) {
    opt.timeout_seconds = a.timeout;
    opt.mbpp_timeout_seconds = a.timeout;
    opt.bigcodebench_timeout_seconds = a.timeout;
  }
  std::unique_ptr<ProgressBar> bar;
  std::string bar_phase;
  std::mutex bar_mu;
  opt.progress = [&](const std::string& phase, size_t, size_t total) {
    std::lock_guard<std::mutex> lock(bar_mu);
    if (!bar || bar_phase != phase) {
      if (bar) bar->finish();
      bar = std::make_unique<ProgressBar>(phase, total);
      bar_phase = phase;
    }
    bar->tick();
  };
  DSTC_TRY(bm::EvalReport report, bm::evaluate(ds, samples, *sandbox, opt));
  if (bar) bar->finish();
  DSTC_CHECK_OK(bm::write_report(report, a.out));
  DSTC_CHECK_OK(bm::write_samples(a.out + "/samples.jsonl", samples));
  std::printf("%s", bm::format_summary(report).c_str());
  std::printf("%-16s %s/{summary.json,results.jsonl,samples.jsonl}\n", "written", a.out.c_str());
  return {};
}

void register_eval(CLI::App& app, Globals&, Action& action) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Score a model or a samples file on a benchmark");
  cmd->add_option("--benchmark", args->benchmark,
                  "humaneval|humaneval+|mbpp|mbpp-sanitized|mbpp+|bigcodebench")
      ->required();
  cmd->add_option("--split", args->split,
                  "bigcodebench: complete|instruct; mbpp, mbpp-sanitized: "
                  "test (default)|train|validation|prompt|all");
  cmd->add_option("--data", args->data, "the benchmark's file (JSONL/JSON, gzip or plain)")
      ->required();
  cmd->add_option("--model", args->model, "Hugging Face checkpoint folder to sample from");
  cmd->add_option("--samples", args->samples,
                  "EvalPlus-style samples.jsonl (task_id + solution or completion)");
  cmd->add_option("--out", args->out, "output folder (summary.json, results.jsonl, samples.jsonl)")
      ->required();
  cmd->add_option("--n", args->n, "samples per task (--model)");
  cmd->add_option("--temperature", args->temperature, "0 = greedy (--model)");
  cmd->add_option("--top-p", args->top_p, "nucleus sampling (--model)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "per sample (--model)");
  cmd->add_option("--seed", args->seed, "sampling seed (--model)");
  cmd->add_option("--mode", args->mode, "completion (base models) or instruct (chat template)");
  cmd->add_option("--chat-format", args->chat_format,
                  "auto|chatml|llama3|deepseek-coder|plain (instruct mode)");
  cmd->add_option("--device", args->device, "cpu or cuda[:N] (--model)");
  cmd->add_option("--dtype", args->dtype, "auto|float32|bfloat16|float16 (--model)");
  cmd->add_option("--max-batch", args->max_batch, "rows decoded together (--model)");
  cmd->add_flag("--canonical", args->canonical,
                "score the dataset's own canonical solutions (checks the harness and host)");
  cmd->add_flag("--sanitize", args->sanitize,
                "extract and sanitise code in --samples (model output is always sanitised)");
  cmd->add_option("--parallel", args->parallel, "sandbox runs at once (0 = all cores)");
  cmd->add_option("--limit", args->limit, "score only the first N tasks");
  cmd->add_option("--timeout", args->timeout,
                  "seconds per program for humaneval/mbpp/bigcodebench (EvalPlus derives its own)");
  cmd->add_option("--cache-dir", args->cache_dir,
                  "EvalPlus expected-output cache (default ~/.cache/dstc)");
  cmd->callback([args, &action] { action = [args] { return run_eval(*args); }; });
}

DSTC_REGISTER_COMMAND(eval, register_eval);

}  // namespace
}  // namespace dstc::cli
