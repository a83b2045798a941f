#include "cli/pipeline_tasks.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "benchmarks/evaluate.h"
#include "benchmarks/programs.h"
#include "benchmarks/prompts.h"
#include "benchmarks/sanitize.h"
#include "common/file.h"
#include "common/json.h"
#include "generator/text/extract.h"
#include "generator/text/prompts.h"

namespace dstc::cli {
namespace {

namespace fs = std::filesystem;
namespace bm = dstc::benchmarks;

// A plain-format test prompt ends in "# Tests for f\n": the model writes assert lines,
// and anything that starts another top-level block ends them.
const std::vector<std::string> kPlainTestStops = {"\ndef ", "\nclass ", "\nif __name__", "\nprint(",
                                                  "\n```"};

struct Style {
  PromptStyle style = PromptStyle::kToy;
  generator::ChatFormat chat = generator::ChatFormat::kPlain;
};

std::string resolve_path(const RunConfig& config, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(config.base_dir) / p).lexically_normal().string();
}

bool defines(std::string_view code, const std::string& name) {
  return code.find("def " + name + "(") != std::string_view::npos ||
         code.find("def " + name + " (") != std::string_view::npos;
}

std::string with_final_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s + "\n";
}

// The import lines of a prompt (`from typing import List`), which a chat answer that
// writes only the function may leave out.
std::string prompt_imports(const std::string& prompt) {
  std::string out;
  size_t pos = 0;
  while (pos < prompt.size()) {
    size_t end = prompt.find('\n', pos);
    if (end == std::string::npos) end = prompt.size();
    std::string_view line(prompt.data() + pos, end - pos);
    if (line.rfind("import ", 0) == 0 || line.rfind("from ", 0) == 0) {
      out += std::string(line) + "\n";
    }
    pos = end + 1;
  }
  return out;
}

// model.prompt_format resolved for a source (toy_source: the toy world).
Result<Style> resolve_style(const RunConfig& config, bool toy_source) {
  const std::string& name = config.model.prompt_format;
  if (name == "toy" || (name == "auto" && toy_source)) return Style{PromptStyle::kToy, {}};
  std::string tmpl;
  if (name == "auto") {
    std::string path =
        (fs::path(resolve_path(config, config.model.path)) / "tokenizer_config.json").string();
    auto text = read_file(path);
    if (!text) {
      return fail(text.error().context(
          "model.prompt_format = \"auto\" reads the chat template of model.path (set "
          "model.prompt_format to plain, chatml, llama3 or deepseek-coder instead)"));
    }
    DSTC_TRY(Json tc, parse_json(*text, path));
    if (tc.is_object() && tc.contains("chat_template") && tc["chat_template"].is_string()) {
      tmpl = tc["chat_template"].get<std::string>();
    }
  }
  auto format = generator::resolve_chat_format(name, tmpl);
  if (!format) return fail(std::move(format).error().context("model.prompt_format"));
  if (*format == generator::ChatFormat::kPlain) return Style{PromptStyle::kPlain, *format};
  return Style{PromptStyle::kChat, *format};
}

// Sets the DSTC code and test queries (and their stop strings) of a training task.
Status set_queries(PipelineTask& t, const Style& s) {
  t.style = s.style;
  t.chat = s.chat;
  if (s.style == PromptStyle::kToy) {
    t.code_query = t.prompt + std::string(toy::kCodeTag);
    t.test_query = t.prompt + std::string(toy::kTestTag);
    t.code_stops = {};
    t.test_stops = {"\n"};  // a toy test is one line; the newline ends it
    return {};
  }
  generator::CodeTask ct{t.task_id, t.prompt, t.entry_point};
  generator::ChatTemplate chat(s.chat);
  DSTC_TRY(auto code_messages, generator::code_prompt(ct, s.chat));
  DSTC_TRY(auto test_messages, generator::test_prompt(ct, s.chat));
  t.code_query = chat.render(code_messages);
  t.test_query = chat.render(test_messages);
  if (s.style == PromptStyle::kPlain) {
    t.code_stops = generator::plain_code_stops();
    t.test_stops = kPlainTestStops;
  } else {
    t.code_stops = chat.stop_strings();
    t.test_stops = chat.stop_strings();
  }
  return {};
}

// Sets the query of a benchmark evaluation task: what `dstc eval` asks in that mode.
void set_eval_query(PipelineTask& t, const Style& s) {
  t.style = s.style;
  t.chat = s.chat;
  const bm::Task& task = *t.bench;
  if (s.style == PromptStyle::kToy) {
    t.code_query = task.prompt + std::string(toy::kCodeTag);
  } else if (s.style == PromptStyle::kPlain) {
    t.code_query = bm::completion_prompt(task);
    t.code_stops = bm::completion_stops_for(t.benchmark);
  } else {
    generator::ChatTemplate chat(s.chat);
    bm::ChatPrompt cp = bm::instruct_prompt(task, t.benchmark);
    t.code_query = chat.render({{"user", cp.user}}) + cp.assistant_prefix;
    t.code_stops = chat.stop_strings();
  }
}

PipelineTask from_toy(toy::ToyTask t) {
  PipelineTask task;
  task.task_id = t.task_id;
  task.entry_point = t.entry_point;
  task.prompt = t.prompt;
  task.toy = std::make_shared<const toy::ToyTask>(std::move(t));
  return task;
}

Result<std::vector<PipelineTask>> toy_tasks(const RunConfig& config, toy::Split split,
                                            int64_t count, int64_t seed, const char* key) {
  if (count < 1) return fail(ErrorCode::kInvalidArgument, std::string(key) + "_count must be >= 1");
  DSTC_TRY(Style style, resolve_style(config, /*toy_source=*/true));
  std::vector<PipelineTask> out;
  for (auto& t :
       toy::generate_tasks(split, static_cast<size_t>(count), static_cast<uint64_t>(seed))) {
    out.push_back(from_toy(std::move(t)));
    DSTC_CHECK_OK(set_queries(out.back(), style));
  }
  return out;
}

Result<std::string> optional_string(const Json& o, const char* key) {
  if (!o.contains(key) || o[key].is_null()) return std::string();
  if (!o[key].is_string()) {
    return fail(ErrorCode::kCorrupt, "field '" + std::string(key) + "' must be a string");
  }
  return o[key].get<std::string>();
}

// The benchmark of a data.eval file: data.eval_benchmark, or guessed from the file name
// the way the published files are named (HumanEval.jsonl.gz, mbpp.jsonl,
// sanitized-mbpp.json, HumanEvalPlus-v0.1.10.jsonl.gz, MbppPlus.jsonl.gz).
Result<bm::Benchmark> eval_benchmark_of(const RunConfig& config) {
  const std::string& named = config.data.eval_benchmark;
  bm::Benchmark b;
  if (named != "auto") {
    DSTC_TRY(b, bm::benchmark_from_name(named));
  } else {
    std::string file = fs::path(config.data.eval).filename().string();
    std::transform(file.begin(), file.end(), file.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    auto has = [&](const char* s) { return file.find(s) != std::string::npos; };
    if (has("bigcodebench")) {
      b = bm::Benchmark::kBigCodeBench;
    } else if (has("humaneval")) {
      b = has("plus") ? bm::Benchmark::kHumanEvalPlus : bm::Benchmark::kHumanEval;
    } else if (has("mbpp")) {
      b = has("plus")        ? bm::Benchmark::kMbppPlus
          : has("sanitized") ? bm::Benchmark::kMbppSanitized
                             : bm::Benchmark::kMbpp;
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "data.eval = \"" + config.data.eval +
                      "\": cannot tell the benchmark from the file name; set "
                      "data.eval_benchmark (humaneval, mbpp or mbpp-sanitized)");
    }
  }
  if (b != bm::Benchmark::kHumanEval && b != bm::Benchmark::kMbpp &&
      b != bm::Benchmark::kMbppSanitized) {
    return fail(ErrorCode::kInvalidArgument,
                "data.eval = \"" + config.data.eval + "\" is " +
                    std::string(bm::benchmark_name(b)) +
                    ", which the evaluate stage of `dstc run` does not score (it takes "
                    "humaneval, mbpp and mbpp-sanitized files); score checkpoints on it with "
                    "`dstc eval`");
  }
  return b;
}

}  // namespace

Result<std::vector<bm::Task>> load_prompt_file(const std::string& path) {
  auto text = read_maybe_gzip(path);
  if (!text) return fail(std::move(text).error().context("reading prompts file " + path));
  std::vector<bm::Task> out;
  std::map<std::string, size_t> seen;  // task_id -> line
  std::string stem = fs::path(path).filename().string();
  DSTC_CHECK_OK(for_each_jsonl(*text, path, [&](size_t line, const Json& o) -> Status {
    bm::Task t;
    DSTC_TRY(t.prompt, json_string(o, "prompt"));
    if (t.prompt.empty()) return fail(ErrorCode::kCorrupt, "field 'prompt' is empty");
    DSTC_TRY(t.task_id, optional_string(o, "task_id"));
    if (t.task_id.empty()) t.task_id = stem + "/" + std::to_string(line);
    auto it = seen.find(t.task_id);
    if (it != seen.end()) {
      return fail(ErrorCode::kCorrupt, "field 'task_id': \"" + t.task_id +
                                           "\" repeats the task of line " +
                                           std::to_string(it->second));
    }
    seen[t.task_id] = line;
    DSTC_TRY(t.entry_point, optional_string(o, "entry_point"));
    if (t.entry_point.empty()) {
      auto entry = generator::infer_entry_point(t.prompt);
      if (!entry) return fail(std::move(entry).error().context("field 'entry_point'"));
      t.entry_point = *entry;
    } else if (!std::all_of(t.entry_point.begin(), t.entry_point.end(),
                            [](unsigned char c) { return std::isalnum(c) || c == '_'; })) {
      return fail(ErrorCode::kCorrupt,
                  "field 'entry_point': \"" + t.entry_point + "\" is not a Python name");
    }
    DSTC_TRY(std::string solution, optional_string(o, "canonical_solution"));
    if (!solution.empty()) t.canonical = t.prompt + solution;
    DSTC_TRY(t.test, optional_string(o, "test"));
    if (!t.test.empty() && t.test.find("def check(") == std::string::npos) {
      return fail(ErrorCode::kCorrupt,
                  "field 'test' must define check(candidate), as HumanEval's tests do");
    }
    t.instruction = t.prompt;
    out.push_back(std::move(t));
    return {};
  }));
  if (out.empty()) return fail(ErrorCode::kCorrupt, path + ": no prompts (empty file)");
  return out;
}

std::string PipelineTask::code_program(std::string_view response) const {
  std::string code;
  switch (style) {
    case PromptStyle::kToy:
      code = toy::strip_trailing_tests(response);
      break;
    case PromptStyle::kPlain:
      code = generator::plain_solution(prompt, response);
      break;
    case PromptStyle::kChat:
      code = bm::sanitize(generator::extract_code(response), entry_point);
      if (defines(code, entry_point)) code = prompt_imports(prompt) + code;
      break;
  }
  if (!defines(code, entry_point)) return "";
  return with_final_newline(std::move(code));
}

std::string PipelineTask::test_program(std::string_view response) const {
  if (style != PromptStyle::kToy) {
    auto tests = generator::extract_tests(response, entry_point);
    return tests.has_tests() ? with_final_newline(tests.program) : "";
  }
  size_t pos = 0;
  while (pos < response.size()) {
    size_t end = response.find('\n', pos);
    std::string_view line = response.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (line.rfind("assert ", 0) == 0 && line.find(entry_point + "(") != std::string_view::npos) {
      return std::string(line) + "\n";
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return "";
}

std::string PipelineTask::score_program(std::string_view response) const {
  if (style == PromptStyle::kToy) return hidden_program(toy::strip_trailing_tests(response));
  if (benchmark_eval) {
    auto mode =
        style == PromptStyle::kPlain ? bm::PromptMode::kCompletion : bm::PromptMode::kInstruct;
    return hidden_program(bm::program_from_output(*bench, benchmark, mode, std::string(response)));
  }
  return hidden_program(code_program(response));
}

std::string PipelineTask::hidden_program(std::string_view code) const {
  if (toy) return toy::hidden_test_program(*toy, code);
  if (!bench) return "";
  if (benchmark == bm::Benchmark::kMbpp || benchmark == bm::Benchmark::kMbppSanitized) {
    return bench->test_list.empty() ? "" : bm::mbpp_program(*bench, std::string(code));
  }
  return bench->test.empty() ? "" : bm::humaneval_program(*bench, std::string(code));
}

std::string PipelineTask::canonical_program() const {
  if (toy) return toy->solution;
  return bench ? bench->canonical : "";
}

bool PipelineTask::has_hidden_tests() const {
  return toy || (bench && (!bench->test.empty() || !bench->test_list.empty()));
}

store::Problem PipelineTask::to_problem(const std::string& split) const {
  store::Problem p;
  p.task_id = task_id;
  p.prompt = prompt;
  p.entry_point = entry_point;
  if (toy) {
    p.canonical_solution = toy->canonical_solution;
    p.hidden_tests = toy->test;
  } else if (bench) {
    // HumanEval shape: the solution body after the prompt.
    const std::string& c = bench->canonical;
    p.canonical_solution = c.rfind(bench->prompt, 0) == 0 ? c.substr(bench->prompt.size()) : c;
    p.hidden_tests = bench->test;
    for (const auto& a : bench->test_list) p.hidden_tests += a + "\n";
  }
  p.split = split;
  return p;
}

Result<std::vector<PipelineTask>> training_tasks(const RunConfig& config, uint32_t round) {
  if (config.data.train == "toy") {
    return toy_tasks(config, toy::Split::kTrain, config.data.train_count,
                     config.run.seed * 1000 + round, "data.train");
  }
  if (config.data.train_count < 1) {
    return fail(ErrorCode::kInvalidArgument, "data.train_count must be >= 1");
  }
  std::string path = resolve_path(config, config.data.train);
  auto loaded = load_prompt_file(path);
  if (!loaded) return fail(std::move(loaded).error().context("data.train"));
  DSTC_TRY(Style style, resolve_style(config, /*toy_source=*/false));
  // Round r takes the r-th window of train_count prompts, wrapping around the file, so
  // later rounds see other prompts; a file no longer than train_count is used whole.
  const size_t n = loaded->size();
  const size_t count = std::min(n, static_cast<size_t>(config.data.train_count));
  const size_t start = count == n ? 0 : (static_cast<size_t>(round) * count) % n;
  std::vector<PipelineTask> out;
  for (size_t i = 0; i < count; ++i) {
    const bm::Task& b = (*loaded)[(start + i) % n];
    PipelineTask t;
    t.task_id = b.task_id;
    t.entry_point = b.entry_point;
    t.prompt = b.prompt;
    t.bench = std::make_shared<const bm::Task>(b);
    t.benchmark = bm::Benchmark::kHumanEval;
    auto status = set_queries(t, style);
    if (!status) return fail(std::move(status).error().context(path + ": task " + t.task_id));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<PipelineTask>> evaluation_tasks(const RunConfig& config) {
  // The held-out set does not depend on run.seed: every run scores the same tasks.
  if (config.data.eval == "toy") {
    return toy_tasks(config, toy::Split::kEval, config.data.eval_count, 1, "data.eval");
  }
  if (config.data.eval_count < 1) {
    return fail(ErrorCode::kInvalidArgument, "data.eval_count must be >= 1");
  }
  DSTC_TRY(bm::Benchmark benchmark, eval_benchmark_of(config));
  std::string path = resolve_path(config, config.data.eval);
  auto ds = bm::load_dataset(benchmark, path);
  if (!ds) return fail(std::move(ds).error().context("data.eval"));
  DSTC_TRY(Style style, resolve_style(config, /*toy_source=*/false));
  const bm::EvalOptions defaults;
  const bool mbpp = benchmark != bm::Benchmark::kHumanEval;
  std::vector<PipelineTask> out;
  for (const auto& task : ds->tasks) {
    if (out.size() >= static_cast<size_t>(config.data.eval_count)) break;
    PipelineTask t;
    t.task_id = task.task_id;
    t.entry_point = task.entry_point;
    t.prompt = task.prompt;
    t.bench = std::make_shared<const bm::Task>(task);
    t.benchmark = benchmark;
    t.benchmark_eval = true;
    // The evaluator's own per-program limits (human-eval's 3 s; MBPP's 30 s).
    t.hidden_timeout = mbpp ? defaults.mbpp_timeout_seconds : defaults.timeout_seconds;
    set_eval_query(t, style);
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::string> evaluation_benchmark(const RunConfig& config) {
  if (config.data.eval == "toy") return std::string("toy-eval");
  DSTC_TRY(bm::Benchmark b, eval_benchmark_of(config));
  return std::string(bm::benchmark_name(b));
}

}  // namespace dstc::cli
