// The run config of `dstc run`: TOML, every key with a documented default, unknown
// keys rejected with the key named. The defaults are the toy world's (configs/toy.toml
// is `dstc run --print-config` written to a file).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace dstc::cli {

struct RunConfig {
  struct Run {
    std::string name = "toy";  // run directory: ./runs/<name> unless --run-dir
    int64_t rounds = 1;        // DSTC rounds (generate → execute → select → train → eval)
    int64_t seed = 1234;       // every random choice derives from it
  } run;
  struct Model {
    std::string path = "../models/toy";  // HF checkpoint dir; relative to the config's folder
    std::string backend = "local";       // "local" (LibTorch engine) or "openai" (vLLM, SGLang)
    std::string url;                     // openai backend: server base URL
    std::string device = "cpu";          // "cpu" or "cuda"
    std::string dtype = "auto";          // auto = float32 on CPU, bfloat16 on CUDA
    int64_t threads = 1;                 // intra-op threads of the local engine and trainer
    int64_t max_batch = 16;              // sequences decoded together
    // How prompts are put to the model (cli/pipeline_tasks.h): "auto" (toy for the toy
    // world, else the checkpoint's chat template, plain without one), "toy", "plain",
    // "chatml", "llama3" or "deepseek-coder".
    std::string prompt_format = "auto";
  } model;
  struct Data {
    std::string train = "toy";   // "toy" (built-in task world) or a JSONL prompt file
    int64_t train_count = 1000;  // DSTC training prompts per round
    std::string eval = "toy";    // "toy" (held-out toy tasks) or a benchmark JSONL file
    int64_t eval_count = 500;    // held-out tasks scored before and after
    // Benchmark of a data.eval file: "auto" (from its name), "humaneval", "mbpp" or
    // "mbpp-sanitized".
    std::string eval_benchmark = "auto";
  } data;
  struct Generate {
    int64_t codes = 8;  // J solutions per prompt
    int64_t tests = 8;  // K tests per prompt
    double temperature = 0.8;
    double top_p = 0.95;
    int64_t top_k = 0;  // 0 = off
    int64_t max_new_tokens = 160;
  } generate;
  struct Execute {
    std::string profile = "strict";    // sandbox profile of code ⊕ test programs
    double timeout = 5.0;              // seconds per program
    int64_t parallel = 0;              // concurrent runs; 0 = all cores
    std::vector<std::string> servers;  // `dstc serve sandbox` URLs; empty = local sandbox
  } execute;
  struct Select {
    std::string selector =
        "dstc";  // pairs the trainer uses: dstc, code-only, maxmin, random, codet, oracle
    std::vector<std::string> ablations = {"code-only", "random",
                                          "oracle"};  // also built and audited
    // Skip prompts whose rejected code is the chosen code (their pair differs only in the
    // test). On the toy world keeping them cost ~4 points of held-out pass@1
    // (docs/toy-world.md).
    bool skip_same_code = true;
    std::string relabel = "none";  // "none" or "reward-augmented"
  } select;
  struct Train {
    std::string loss = "dpo";  // dpo, cdpo, ipo, kto, rpo, selm
    double beta = 0.5;
    double lr = 1e-4;
    int64_t epochs = 1;
    int64_t batch_size = 8;
    int64_t grad_accum = 1;
    std::string reference = "initial";  // "initial" or "previous" (the round's input model)
    int64_t lora_rank = 0;              // 0 = full fine-tuning
  } train;
  struct Compare {
    // Trained besides the main model on each round's matrices, one round deep from the
    // same policy, and scored on the held-out set: "SELECTOR" (its pairs with train.loss)
    // or "SELECTOR:LOSS". SELECTOR must be select.selector or one of select.ablations.
    std::vector<std::string> variants = {"code-only", "random", "oracle", "dstc:kto"};
  } compare;
  struct Eval {
    int64_t n = 1;  // samples per task (1 with temperature 0 = greedy pass@1)
    double temperature = 0.0;
    int64_t max_new_tokens = 160;
  } eval;

  // Where relative paths in the config resolve (the config file's folder).
  std::string base_dir = ".";
};

// A compare.variants entry as (selector, loss); loss is "" when it is train.loss's.
std::pair<std::string, std::string> split_variant(const std::string& variant);

// Parses TOML text; `source` names it in errors ("configs/toy.toml: unknown key 'train.betta'").
Result<RunConfig> parse_run_config(const std::string& text, const std::string& source);
Result<RunConfig> load_run_config(const std::string& path);

// The config as TOML with every key, each with its comment; parse(dump(c)) == c.
std::string dump_run_config(const RunConfig& config);

// Keys whose values differ ("train.lr: 0.0001 -> 0.0003"), for refusing changed resumes.
std::vector<std::string> diff_run_configs(const RunConfig& stored, const RunConfig& current);

// The default config compiled into the binary (configs/toy.toml).
const char* embedded_default_config();
// It parsed, with relative paths resolving against the source tree's configs/ folder
// (where the toy model lives).
Result<RunConfig> default_run_config();

}  // namespace dstc::cli
