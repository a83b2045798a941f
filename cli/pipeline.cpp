// `dstc run`: the round loop. Every stage reads its input from the run store and
// commits its output per unit (one prompt, one training run), so a killed run resumes
// at the first unit that is not done, and a resumed run produces exactly the records of
// an uninterrupted one: sampling seeds depend on (run seed, round, fixed chunk of
// prompts), never on how far a previous attempt got.
#include "cli/pipeline.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "cli/pipeline_model.h"
#include "cli/pipeline_tasks.h"
#include "cli/report.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/progress.h"
#include "sandbox/sandbox.h"
#include "sandbox_service/client.h"
#include "selector/selector.h"
#include "store/store.h"

namespace dstc::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Prompts sampled together. Fixed, so that a chunk's seed — and its samples — are the
// same whether or not an earlier attempt already committed part of it.
constexpr size_t kChunk = 16;
// Prompts whose programs go to the sandbox together (then committed one by one).
constexpr size_t kExecuteChunk = 8;

struct Run {
  RunConfig config;
  PipelineOptions options;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<sandbox::Sandbox> sandbox;                // local execution, or
  std::unique_ptr<sandbox_service::RemoteExecutor> remote;  // execute.servers

  // Runs jobs on the local sandbox or spread over the configured sandbox servers.
  std::vector<sandbox::Verdict> run_batch(const std::vector<sandbox::Job>& jobs) const {
    size_t parallel = static_cast<size_t>(config.execute.parallel);
    return remote ? remote->run_batch(jobs, parallel) : sandbox->run_batch(jobs, parallel);
  }
  std::vector<PipelineTask> eval_tasks;
  std::string eval_benchmark;  // what evaluation results are stored under
  std::shared_ptr<spdlog::logger> log;

  std::string model_dir(uint32_t round) const {
    if (round == 0) return resolve_path(config.model.path);
    return (fs::path(options.run_dir) / ("round-" + std::to_string(round - 1)) / "model").string();
  }
  // The model a compare variant trained in round - 1 (round-<r>/compare/<variant>).
  std::string variant_dir(uint32_t round, const std::string& variant) const {
    if (variant.empty()) return model_dir(round);
    std::string name = variant;
    std::replace(name.begin(), name.end(), ':', '-');
    return (fs::path(options.run_dir) / ("round-" + std::to_string(round - 1)) / "compare" / name)
        .string();
  }
  // Evaluation results of a compare variant are stored under "<benchmark>@<variant>".
  std::string benchmark_of(const std::string& variant) const {
    return variant.empty() ? eval_benchmark : eval_benchmark + "@" + variant;
  }
  std::string resolve_path(const std::string& p) const {
    if (p.empty() || fs::path(p).is_absolute()) return p;
    return (fs::path(config.base_dir) / p).lexically_normal().string();
  }
  uint64_t seed_for(uint32_t round, const char* stage, size_t chunk) const {
    std::string key = std::to_string(config.run.seed) + "/" + std::to_string(round) + "/" + stage +
                      "/" + std::to_string(chunk);
    return fnv1a64(key);
  }
};

// Accumulates a stage's wall time in the store (meta "timing/<round>/<stage>").
Status add_timing(Run& run, uint32_t round, const std::string& stage, double seconds) {
  std::string key = "timing/" + std::to_string(round) + "/" + stage;
  DSTC_TRY(auto previous, run.store->meta(key));
  double total = seconds + (previous ? std::stod(*previous) : 0.0);
  store::WriteSet ws;
  ws.put_meta(key, std::to_string(total));
  return run.store->write(ws);
}

using Chunk = std::vector<const PipelineTask*>;

// Calls fn(c, chunk) for every fixed chunk c (tasks [c*kChunk, (c+1)*kChunk)) that holds
// at least one pending task. The whole chunk is passed so its samples, drawn with the
// chunk's seed, are the same as in an uninterrupted run.
template <typename Fn>
Status for_each_pending_chunk(const std::vector<PipelineTask>& tasks,
                              const std::set<std::string>& pending, Fn&& fn) {
  for (size_t c = 0; c * kChunk < tasks.size(); ++c) {
    Chunk chunk;
    bool any = false;
    for (size_t i = c * kChunk; i < std::min(tasks.size(), (c + 1) * kChunk); ++i) {
      chunk.push_back(&tasks[i]);
      any |= pending.count(tasks[i].task_id) > 0;
    }
    if (any) DSTC_CHECK_OK(fn(c, chunk));
  }
  return {};
}

std::vector<std::string> ids_of(const std::vector<PipelineTask>& tasks) {
  std::vector<std::string> ids;
  for (const auto& t : tasks) ids.push_back(t.task_id);
  return ids;
}

// ---- stage: problems ---------------------------------------------------------------

Status import_problems(Run& run, uint32_t round, const std::vector<PipelineTask>& train) {
  DSTC_TRY(bool done, run.store->is_done({round, "problems", "all"}));
  if (done) return {};
  store::WriteSet ws;
  for (const auto& t : train) ws.put(t.to_problem("train"));
  if (round == 0) {
    for (const auto& t : run.eval_tasks) ws.put(t.to_problem("eval"));
  }
  return run.store->commit({round, "problems", "all"}, ws);
}

// ---- stage: evaluate ----------------------------------------------------------------

// Scores the model entering `round` on the held-out tasks (round == rounds: the final
// model), or the model a compare `variant` trained in round - 1.
Status evaluate(Run& run, uint32_t round, const std::string& variant = "") {
  auto start = Clock::now();
  const auto& tasks = run.eval_tasks;
  const std::string stage = variant.empty() ? "eval" : "eval@" + variant;
  const std::string model_dir = run.variant_dir(round, variant);
  DSTC_TRY(auto pending, run.store->pending_units(round, stage, ids_of(tasks)));
  if (pending.empty()) return {};
  std::set<std::string> pending_set(pending.begin(), pending.end());
  run.log->info("round {}: evaluating {} on {} held-out tasks ({} to go)", round, model_dir,
                tasks.size(), pending.size());
  DSTC_TRY(auto model, load_model(run.config, model_dir));
  ProgressBar bar(stage + " r" + std::to_string(round), pending.size());
  const auto& ec = run.config.eval;
  DSTC_CHECK_OK(
      for_each_pending_chunk(tasks, pending_set, [&](size_t c, const Chunk& chunk) -> Status {
        SampleRequest req{
            ec.n, ec.temperature, 1.0, 0, ec.max_new_tokens, run.seed_for(round, "eval", c), {}};
        req.stop = chunk.front()->code_stops;  // the prompt format's, the same for all tasks
        DSTC_TRY(auto scored, score_answers(*model, chunk, req, run.config.execute,
                                            [&](const std::vector<sandbox::Job>& jobs) {
                                              return run.run_batch(jobs);
                                            }));
        for (size_t i = 0; i < chunk.size(); ++i) {
          store::EvalResult r;
          r.round = round;
          r.benchmark = run.benchmark_of(variant);
          r.task_id = chunk[i]->task_id;
          for (sandbox::Status status : scored[i]) {
            r.statuses.emplace_back(sandbox::status_name(status));
            r.correct += status == sandbox::Status::kPassed;
            ++r.n;
          }
          if (!pending_set.count(r.task_id)) continue;
          store::WriteSet ws;
          ws.put(r);
          DSTC_CHECK_OK(run.store->commit({round, stage, r.task_id}, ws));
          bar.tick();
        }
        return {};
      }));
  bar.finish();
  return add_timing(run, round, stage, std::chrono::duration<double>(Clock::now() - start).count());
}

// ---- stage: generate ----------------------------------------------------------------

Status generate(Run& run, uint32_t round, const std::vector<PipelineTask>& tasks) {
  auto start = Clock::now();
  DSTC_TRY(auto pending, run.store->pending_units(round, "generate", ids_of(tasks)));
  if (pending.empty()) return {};
  std::set<std::string> pending_set(pending.begin(), pending.end());
  std::string model_dir = run.model_dir(round);
  run.log->info("round {}: sampling {} codes and {} tests for {} prompts ({} to go)", round,
                run.config.generate.codes, run.config.generate.tests, tasks.size(), pending.size());
  DSTC_TRY(auto model, load_model(run.config, model_dir));
  const auto& g = run.config.generate;
  ProgressBar bar("generate r" + std::to_string(round), pending.size());
  DSTC_CHECK_OK(
      for_each_pending_chunk(tasks, pending_set, [&](size_t c, const Chunk& chunk) -> Status {
        std::vector<std::string> code_queries, test_queries;
        for (auto* t : chunk) {
          code_queries.push_back(t->code_query);
          test_queries.push_back(t->test_query);
        }
        SampleRequest code_req{g.codes, g.temperature,    g.top_p,
                               g.top_k, g.max_new_tokens, run.seed_for(round, "code", c),
                               {}};
        SampleRequest test_req{g.tests, g.temperature,    g.top_p,
                               g.top_k, g.max_new_tokens, run.seed_for(round, "test", c),
                               {}};
        // Stop strings belong to the prompt format, the same for every task of a run (toy:
        // a test is one line; the newline ends it).
        code_req.stop = chunk.front()->code_stops;
        test_req.stop = chunk.front()->test_stops;
        DSTC_TRY(auto codes, model->sample(code_queries, code_req));
        DSTC_TRY(auto tests, model->sample(test_queries, test_req));
        for (size_t i = 0; i < chunk.size(); ++i) {
          const PipelineTask& t = *chunk[i];
          if (!pending_set.count(t.task_id)) continue;
          store::WriteSet ws;
          auto add = [&](store::SampleKind kind, const std::vector<std::string>& texts,
                         const SampleRequest& req) {
            for (size_t s = 0; s < texts.size(); ++s) {
              store::Sample sample;
              sample.round = round;
              sample.task_id = t.task_id;
              sample.kind = kind;
              sample.index = static_cast<uint32_t>(s);
              sample.raw = texts[s];
              sample.program = kind == store::SampleKind::kCode ? t.code_program(texts[s])
                                                                : t.test_program(texts[s]);
              sample.sampling = {model->id(),
                                 req.temperature,
                                 req.top_p,
                                 static_cast<int>(req.top_k),
                                 static_cast<int>(req.max_new_tokens),
                                 req.seed};
              ws.put(sample);
            }
          };
          add(store::SampleKind::kCode, codes[i], code_req);
          add(store::SampleKind::kTest, tests[i], test_req);
          DSTC_CHECK_OK(run.store->commit({round, "generate", t.task_id}, ws));
          bar.tick();
        }
        return {};
      }));
  bar.finish();
  return add_timing(run, round, "generate",
                    std::chrono::duration<double>(Clock::now() - start).count());
}

// ---- stage: execute -----------------------------------------------------------------

// Runs, per prompt: every valid code ⊕ valid test (the DSTC matrix), every valid code
// against the hidden tests (audit, headroom) and the canonical solution ⊕ every valid
// test (self-test validity). Invalid samples get no run and no cell.
Status execute(Run& run, uint32_t round, const std::vector<PipelineTask>& tasks) {
  auto start = Clock::now();
  DSTC_TRY(auto pending, run.store->pending_units(round, "execute", ids_of(tasks)));
  if (pending.empty()) return {};
  std::map<std::string, const PipelineTask*> by_id;
  for (const auto& t : tasks) by_id[t.task_id] = &t;
  run.log->info("round {}: executing the code x test matrices of {} prompts", round,
                pending.size());
  ProgressBar bar("execute r" + std::to_string(round), pending.size());
  for (size_t b = 0; b < pending.size(); b += kExecuteChunk) {
    struct Cell {
      size_t task;
      uint32_t code, test;
    };
    std::vector<sandbox::Job> jobs;
    std::vector<Cell> cells;
    size_t end = std::min(pending.size(), b + kExecuteChunk);
    auto add_job = [&](size_t task, uint32_t code, uint32_t test, std::string program) {
      sandbox::Job job;
      job.program = std::move(program);
      job.profile = run.config.execute.profile;
      job.timeout_seconds = run.config.execute.timeout;
      jobs.push_back(std::move(job));
      cells.push_back({task, code, test});
    };
    for (size_t p = b; p < end; ++p) {
      const PipelineTask& t = *by_id.at(pending[p]);
      DSTC_TRY(auto codes, run.store->samples(round, t.task_id, store::SampleKind::kCode));
      DSTC_TRY(auto tests, run.store->samples(round, t.task_id, store::SampleKind::kTest));
      for (const auto& code : codes) {
        if (code.program.empty()) continue;
        for (const auto& test : tests) {
          if (test.program.empty()) continue;
          add_job(p, code.index, test.index,
                  selector::concat_code_test(code.program, test.program));
        }
        if (t.has_hidden_tests()) {
          add_job(p, code.index, store::kHiddenTestIndex, t.hidden_program(code.program));
        }
      }
      for (const auto& test : tests) {
        if (test.program.empty() || t.canonical_program().empty()) continue;
        add_job(p, store::kCanonicalCodeIndex, test.index,
                selector::concat_code_test(t.canonical_program(), test.program));
      }
    }
    auto verdicts = run.run_batch(jobs);
    std::map<size_t, store::WriteSet> sets;
    for (size_t i = 0; i < verdicts.size(); ++i) {
      const auto& v = verdicts[i];
      if (v.status == sandbox::Status::kSandboxError) {
        return fail(ErrorCode::kInternal,
                    "sandbox error in " + pending[cells[i].task] + ": " + v.reason);
      }
      store::Execution e;
      e.round = round;
      e.task_id = pending[cells[i].task];
      e.code_index = cells[i].code;
      e.test_index = cells[i].test;
      e.status = std::string(sandbox::status_name(v.status));
      e.wall_ms = static_cast<double>(v.wall_ms);
      e.cpu_ms = static_cast<double>(v.cpu_ms);
      e.detail = v.error_type;
      sets[cells[i].task].put(e);
    }
    for (size_t p = b; p < end; ++p) {
      DSTC_CHECK_OK(run.store->commit({round, "execute", pending[p]}, sets[p]));
      bar.tick();
    }
  }
  bar.finish();
  return add_timing(run, round, "execute",
                    std::chrono::duration<double>(Clock::now() - start).count());
}

// ---- stage: select ------------------------------------------------------------------

// One prompt's matrix as the selector sees it, plus ground truth and self-test validity.
struct PromptMatrix {
  selector::Matrix matrix;
  size_t valid_tests = 0;
  size_t tests_canonical_passes = 0;  // self-test validity numerator
};

Result<PromptMatrix> load_matrix(const Run& run, uint32_t round, const PipelineTask& t) {
  DSTC_TRY(auto codes, run.store->samples(round, t.task_id, store::SampleKind::kCode));
  DSTC_TRY(auto tests, run.store->samples(round, t.task_id, store::SampleKind::kTest));
  DSTC_TRY(auto execs, run.store->executions(round, t.task_id));
  PromptMatrix pm;
  auto& m = pm.matrix;
  m.prompt = t.code_query;
  for (const auto& c : codes) {
    m.codes.push_back(c.program);
    m.code_valid.push_back(!c.program.empty());
  }
  for (const auto& k : tests) {
    m.tests.push_back(k.program);
    m.test_valid.push_back(!k.program.empty());
    pm.valid_tests += !k.program.empty();
  }
  m.passed.assign(codes.size(), std::vector<uint8_t>(tests.size(), 0));
  m.code_correct.assign(codes.size(), 0);
  for (const auto& e : execs) {
    bool ok = e.status == "passed";
    if (e.code_index == store::kCanonicalCodeIndex) {
      pm.tests_canonical_passes += ok;
    } else if (e.test_index == store::kHiddenTestIndex) {
      if (e.code_index < codes.size()) m.code_correct[e.code_index] = ok;
    } else if (e.code_index < codes.size() && e.test_index < tests.size()) {
      m.passed[e.code_index][e.test_index] = ok;
    }
  }
  return pm;
}

std::vector<std::string> selector_names(const RunConfig& config) {
  std::vector<std::string> names{config.select.selector};
  for (const auto& a : config.select.ablations) {
    if (std::find(names.begin(), names.end(), a) == names.end()) names.push_back(a);
  }
  return names;
}

selector::SelectorOptions selector_options(const RunConfig& config, uint32_t round) {
  selector::SelectorOptions opts;
  opts.skip_same_code = config.select.skip_same_code;
  opts.seed = static_cast<uint64_t>(config.run.seed) * 7919 + round;
  return opts;
}

// One prompt's selection as store records under `name`: its pair (two with
// reward-augmented relabeling) and its KTO examples (every selector's, so that compare
// variants can train KTO on any of them).
void put_selection(store::WriteSet& ws, uint32_t round, const std::string& task_id,
                   const std::string& name, const selector::Pair& pair, bool reward_augmented) {
  std::vector<selector::Pair> pairs{pair};
  if (reward_augmented) pairs = selector::reward_augment(pair);
  auto idx = [](size_t v) { return v == selector::kNoTest ? -1 : static_cast<int32_t>(v); };
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    store::Pair rec;
    rec.round = round;
    rec.task_id = task_id;
    rec.selector = name;
    rec.index = static_cast<uint32_t>(i);
    rec.prompt = p.prompt;
    rec.chosen = p.chosen;
    rec.rejected = p.rejected;
    rec.chosen_code = idx(p.chosen_code);
    rec.chosen_test = idx(p.chosen_test);
    rec.rejected_code = idx(p.rejected_code);
    rec.rejected_test = idx(p.rejected_test);
    rec.chosen_score = p.chosen_score;
    rec.rejected_score = p.rejected_score;
    ws.put(rec);
  }
  auto kto = selector::kto_examples(pair);
  for (uint32_t i = 0; i < kto.size(); ++i) {
    ws.put(
        store::KtoExample{round, task_id, name, i, kto[i].prompt, kto[i].completion, kto[i].label});
  }
}

Status select(Run& run, uint32_t round, const std::vector<PipelineTask>& tasks) {
  auto start = Clock::now();
  DSTC_TRY(auto pending, run.store->pending_units(round, "select", ids_of(tasks)));
  if (pending.empty()) return {};
  std::vector<std::pair<std::string, selector::SelectorOptions>> selectors;
  for (const auto& name : selector_names(run.config)) {
    selector::SelectorOptions opts = selector_options(run.config, round);
    DSTC_TRY(opts.method, selector::parse_method(name));
    selectors.emplace_back(name, opts);
  }
  std::map<std::string, const PipelineTask*> by_id;
  for (const auto& t : tasks) by_id[t.task_id] = &t;
  for (const auto& id : pending) {
    const PipelineTask& t = *by_id.at(id);
    DSTC_TRY(PromptMatrix pm, load_matrix(run, round, t));
    store::WriteSet ws;
    for (size_t s = 0; s < selectors.size(); ++s) {
      const auto& [name, opts] = selectors[s];
      auto selection = selector::select(pm.matrix, opts);
      if (!selection.pair) continue;
      put_selection(ws, round, t.task_id, name, *selection.pair,
                    s == 0 && run.config.select.relabel == "reward-augmented");
    }
    DSTC_CHECK_OK(run.store->commit({round, "select", t.task_id}, ws));
  }
  return add_timing(run, round, "select",
                    std::chrono::duration<double>(Clock::now() - start).count());
}

// ---- round statistics (recomputed from the store; pure and cheap) -------------------

Result<Json> round_statistics(const Run& run, uint32_t round,
                              const std::vector<PipelineTask>& tasks) {
  size_t valid_tests = 0, canonical_passes = 0, tasks_with_correct = 0, codes = 0,
         correct_codes = 0, valid_codes = 0, graded_tasks = 0;
  std::map<std::string, selector::SelectionStats> stats;
  std::map<std::string, selector::PairAudit> audits;
  auto names = selector_names(run.config);
  for (const auto& t : tasks) {
    DSTC_TRY(PromptMatrix pm, load_matrix(run, round, t));
    if (!t.canonical_program().empty()) {  // validity is measured against the canonical code
      valid_tests += pm.valid_tests;
      canonical_passes += pm.tests_canonical_passes;
    }
    // Correctness is known only where the prompt has hidden tests: the rates and the pair
    // audit count those prompts alone (prompt files may mix both kinds).
    const bool graded = t.has_hidden_tests();
    graded_tasks += graded;
    bool any = false;
    for (size_t j = 0; j < pm.matrix.codes.size(); ++j) {
      valid_codes += pm.matrix.code_valid[j];
      if (!graded) continue;
      ++codes;
      correct_codes += pm.matrix.code_correct[j];
      any |= pm.matrix.code_correct[j] != 0;
    }
    tasks_with_correct += any;
    for (const auto& name : names) {
      selector::SelectorOptions opts = selector_options(run.config, round);
      DSTC_TRY(opts.method, selector::parse_method(name));
      auto selection = selector::select(pm.matrix, opts);
      stats[name].add(selection);
      if (selection.pair && graded) audits[name].add(*selection.pair, pm.matrix.code_correct);
    }
  }
  auto ratio = [](size_t a, size_t b) { return b ? static_cast<double>(a) / b : 0.0; };
  Json j;
  j["selector"] = run.config.select.selector;  // the one the trainer uses
  j["prompts"] = tasks.size();
  j["self_test_validity"] = ratio(canonical_passes, valid_tests);
  j["valid_tests"] = valid_tests;
  j["valid_codes"] = valid_codes;
  j["code_pass_rate"] = ratio(correct_codes, codes);  // mean pass@1 of the samples
  j["pass_at_J"] = ratio(tasks_with_correct, graded_tasks);
  j["graded_prompts"] = graded_tasks;  // prompts with hidden tests (the rates' base)
  for (const auto& name : names) {
    j["selectors"][name] = {{"selection", stats[name].to_json()},
                            {"audit", audits[name].to_json()}};
  }
  return j;
}

Result<double> pass_at_1(const Run& run, uint32_t round, const std::string& variant = "") {
  DSTC_TRY(auto results, run.store->evals(round, run.benchmark_of(variant)));
  if (results.empty()) return 0.0;
  double sum = 0;
  for (const auto& r : results) sum += r.n ? static_cast<double>(r.correct) / r.n : 0.0;
  return sum / static_cast<double>(results.size());
}

Status write_summary(const Run& run, uint32_t rounds_done, const std::vector<Json>& rounds) {
  Json summary;
  summary["run"] = run.config.run.name;
  summary["run_dir"] = run.options.run_dir;
  summary["benchmark"] = run.eval_benchmark;
  summary["eval_tasks"] = run.eval_tasks.size();
  DSTC_TRY(double base, pass_at_1(run, 0));
  DSTC_TRY(double final_score, pass_at_1(run, rounds_done));
  summary["base_pass@1"] = base;
  summary["final_pass@1"] = final_score;
  summary["rounds"] = rounds;
  DSTC_CHECK_OK(write_file_atomic((fs::path(run.options.run_dir) / "summary.json").string(),
                                  summary.dump(2) + "\n"));
  return write_report(run.options.run_dir, summary);
}

// ---- the config of a run is fixed at its start ----------------------------------------

Status check_config(Run& run) {
  DSTC_TRY(auto stored, run.store->meta("config"));
  std::string current = dump_run_config(run.config);
  if (!stored) {
    store::WriteSet ws;
    ws.put_meta("config", current);
    // Where its relative paths resolve, so commands that reopen the run (`dstc select`)
    // rebuild the same prompts.
    ws.put_meta("config_dir", run.config.base_dir);
    return run.store->write(ws);
  }
  if (!run.options.resume) {
    return fail(ErrorCode::kInvalidArgument,
                "run '" + run.config.run.name + "' already exists in " + run.options.run_dir +
                    "; continue it with --resume, or start a new one with --name");
  }
  DSTC_TRY(RunConfig previous, parse_run_config(*stored, "stored config"));
  previous.base_dir = run.config.base_dir;
  auto changes = diff_run_configs(previous, run.config);
  // More rounds is how a finished run is extended; it is not a change of the recipe.
  std::erase_if(changes, [](const std::string& c) { return c.rfind("run.rounds:", 0) == 0; });
  if (!changes.empty() && !run.options.force) {
    std::string list;
    for (const auto& c : changes) list += "\n  " + c;
    return fail(ErrorCode::kInvalidArgument, "the config differs from the one run '" +
                                                 run.config.run.name +
                                                 "' started with (pass --force to accept):" + list);
  }
  store::WriteSet ws;
  ws.put_meta("config", current);
  return run.store->write(ws);
}

}  // namespace

Status run_pipeline(const RunConfig& config, const PipelineOptions& options) {
  Run run;
  run.config = config;
  run.options = options;
  run.log = log::get("run");
  // The prompt sources are read before anything is written: a malformed file fails at
  // once and leaves no run behind.
  DSTC_TRY(run.eval_tasks, evaluation_tasks(config));
  DSTC_TRY(run.eval_benchmark, evaluation_benchmark(config));
  if (auto first = training_tasks(config, 0); !first) return fail(std::move(first).error());
  std::error_code ec;
  fs::create_directories(options.run_dir, ec);
  if (ec)
    return fail(ErrorCode::kIo, "creating run directory " + options.run_dir + ": " + ec.message());
  std::string store_dir = (fs::path(options.run_dir) / "store").string();
  if (!options.resume && fs::exists(fs::path(store_dir) / "CURRENT")) {
    return fail(ErrorCode::kInvalidArgument,
                "run '" + config.run.name + "' already exists in " + options.run_dir +
                    "; continue it with --resume, or start a new one with --name");
  }
  DSTC_TRY(run.store, store::Store::open(store_dir));
  DSTC_CHECK_OK(check_config(run));
  if (config.execute.servers.empty()) {
    DSTC_TRY(run.sandbox, sandbox::Sandbox::create());
  } else {
    sandbox_service::RemoteOptions remote;
    remote.servers = config.execute.servers;
    DSTC_TRY(run.remote, sandbox_service::RemoteExecutor::create(remote));
  }

  std::vector<Json> round_stats;
  uint32_t rounds = static_cast<uint32_t>(config.run.rounds);
  DSTC_CHECK_OK(evaluate(run, 0));
  for (uint32_t r = 0; r < rounds; ++r) {
    DSTC_TRY(auto tasks, training_tasks(config, r));
    DSTC_CHECK_OK(import_problems(run, r, tasks));
    DSTC_CHECK_OK(generate(run, r, tasks));
    DSTC_CHECK_OK(execute(run, r, tasks));
    DSTC_CHECK_OK(select(run, r, tasks));
    DSTC_TRY(Json stats, round_statistics(run, r, tasks));
    run.log->info("round {}: self-test validity {:.2f}, pass@J {:.2f}, pairs {}", r,
                  stats["self_test_validity"].get<double>(), stats["pass_at_J"].get<double>(),
                  stats["selectors"][config.select.selector]["selection"]["pairs"].get<size_t>());
    DSTC_TRY(Json train_info, train_round(run.config, *run.store, r, run.model_dir(0),
                                          run.model_dir(r), run.model_dir(r + 1)));
    stats["train"] = train_info;
    DSTC_CHECK_OK(evaluate(run, r + 1));
    // The same matrices, other training data or losses: each variant one round deep.
    for (const auto& v : config.compare.variants) {
      DSTC_TRY(Json info, train_round(run.config, *run.store, r, run.model_dir(0), run.model_dir(r),
                                      run.variant_dir(r + 1, v), v));
      DSTC_CHECK_OK(evaluate(run, r + 1, v));
      DSTC_TRY(double after, pass_at_1(run, r + 1, v));
      stats["compare"][v] = {{"pass@1_after", after}, {"train", info}};
    }
    stats["round"] = r;
    DSTC_TRY(stats["pass@1_before"], pass_at_1(run, r));
    DSTC_TRY(stats["pass@1_after"], pass_at_1(run, r + 1));
    for (const char* stage : {"generate", "execute", "select", "train", "eval"}) {
      DSTC_TRY(auto t, run.store->meta("timing/" + std::to_string(r) + "/" + stage));
      stats["seconds"][stage] = t ? std::stod(*t) : 0.0;
    }
    round_stats.push_back(stats);
    DSTC_CHECK_OK(write_summary(run, r + 1, round_stats));
  }
  DSTC_TRY(double base, pass_at_1(run, 0));
  DSTC_TRY(double final_score, pass_at_1(run, rounds));
  std::printf("\n%-24s %10s\n", "held-out pass@1", run.eval_benchmark.c_str());
  std::printf("%-24s %9.1f%%\n", "base model", 100 * base);
  std::printf("%-24s %9.1f%%\n", ("after " + std::to_string(rounds) + " round(s)").c_str(),
              100 * final_score);
  std::printf("%-24s %+9.1f\n", "change (points)", 100 * (final_score - base));
  std::printf("\nsummary: %s/summary.json  report: %s/report.md\n", options.run_dir.c_str(),
              options.run_dir.c_str());
  return {};
}

Result<std::vector<std::vector<sandbox::Status>>> score_answers(
    SamplingModel& model, const std::vector<const PipelineTask*>& tasks,
    const SampleRequest& request, const RunConfig::Execute& execute, const JobRunner& run_jobs) {
  std::vector<std::string> queries;
  for (auto* t : tasks) queries.push_back(t->code_query);
  DSTC_TRY(auto outputs, model.sample(queries, request));
  std::vector<sandbox::Job> jobs;
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (const auto& text : outputs[i]) {
      sandbox::Job job;
      job.program = tasks[i]->score_program(text);
      job.profile = execute.profile;
      job.timeout_seconds =
          tasks[i]->hidden_timeout > 0 ? tasks[i]->hidden_timeout : execute.timeout;
      jobs.push_back(std::move(job));
    }
  }
  auto verdicts = run_jobs(jobs);
  std::vector<std::vector<sandbox::Status>> out(tasks.size());
  size_t v = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (size_t s = 0; s < outputs[i].size(); ++s, ++v) {
      if (verdicts[v].status == sandbox::Status::kSandboxError) {
        return fail(ErrorCode::kInternal,
                    "sandbox error while scoring " + tasks[i]->task_id + ": " + verdicts[v].reason);
      }
      out[i].push_back(verdicts[v].status);
    }
  }
  return out;
}

namespace {

// Opens an existing run's store and the config it started with (relative paths resolving
// where they did then).
Status open_existing(Run& run, const std::string& run_dir) {
  run.options.run_dir = run_dir;
  run.log = log::get("run");
  std::string store_dir = (fs::path(run_dir) / "store").string();
  if (!fs::exists(fs::path(store_dir) / "CURRENT")) {
    return fail(ErrorCode::kNotFound, "no run store at " + store_dir);
  }
  DSTC_TRY(run.store, store::Store::open(store_dir));
  DSTC_TRY(auto text, run.store->meta("config"));
  if (!text) return fail(ErrorCode::kCorrupt, store_dir + " holds no run config");
  DSTC_TRY(run.config, parse_run_config(*text, store_dir + " (its stored config)"));
  DSTC_TRY(auto dir, run.store->meta("config_dir"));
  run.config.base_dir = dir.value_or(".");
  return {};
}

}  // namespace

Result<Json> select_stored(const SelectRequest& request) {
  if (request.relabel != "none" && request.relabel != "reward-augmented") {
    return fail(ErrorCode::kInvalidArgument,
                "--relabel must be none or reward-augmented, not '" + request.relabel + "'");
  }
  selector::SelectorOptions opts;
  Run run;
  DSTC_CHECK_OK(open_existing(run, request.run_dir));
  if (request.skip_same_code) run.config.select.skip_same_code = *request.skip_same_code;
  opts = selector_options(run.config, request.round);
  DSTC_TRY(opts.method, selector::parse_method(request.selector));
  DSTC_TRY(auto tasks, training_tasks(run.config, request.round));
  DSTC_TRY(auto pending, run.store->pending_units(request.round, "execute", ids_of(tasks)));
  if (!pending.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "round " + std::to_string(request.round) + " of " + request.run_dir + ": " +
                    std::to_string(pending.size()) + " of " + std::to_string(tasks.size()) +
                    " prompts have no executed matrix yet (finish it with dstc run --resume)");
  }
  const bool augment = request.relabel == "reward-augmented";
  const std::string name = request.selector + (augment ? "+reward-augmented" : "");
  selector::SelectionStats stats;
  selector::PairAudit audit;
  store::WriteSet ws;
  // The new selection replaces the old one whole, in the same atomic write.
  DSTC_TRY(auto old_pairs, run.store->pairs(request.round, name));
  for (const auto& p : old_pairs) ws.erase(p);
  DSTC_TRY(auto old_kto, run.store->kto(request.round, name));
  for (const auto& k : old_kto) ws.erase(k);
  for (const auto& t : tasks) {
    DSTC_TRY(PromptMatrix pm, load_matrix(run, request.round, t));
    auto selection = selector::select(pm.matrix, opts);
    stats.add(selection);
    if (!selection.pair) continue;
    if (t.has_hidden_tests()) audit.add(*selection.pair, pm.matrix.code_correct);
    put_selection(ws, request.round, t.task_id, name, *selection.pair, augment);
  }
  DSTC_CHECK_OK(run.store->write(ws));
  return Json{{"round", request.round},
              {"selector", name},
              {"selection", stats.to_json()},
              {"audit", audit.to_json()}};
}

Status generate_samples(const RunConfig& config, const PipelineOptions& options) {
  Run run;
  run.config = config;
  run.options = options;
  run.options.resume = true;  // sampling is resumable by nature: done prompts are kept
  run.log = log::get("run");
  DSTC_TRY(auto tasks, training_tasks(config, 0));
  std::error_code ec;
  fs::create_directories(options.run_dir, ec);
  if (ec)
    return fail(ErrorCode::kIo, "creating run directory " + options.run_dir + ": " + ec.message());
  DSTC_TRY(run.store, store::Store::open((fs::path(options.run_dir) / "store").string()));
  DSTC_CHECK_OK(check_config(run));
  DSTC_CHECK_OK(import_problems(run, 0, tasks));
  DSTC_CHECK_OK(generate(run, 0, tasks));
  std::fprintf(stderr, "%zu prompts x (%lld codes + %lld tests) in %s/store (round 0)\n",
               tasks.size(), static_cast<long long>(config.generate.codes),
               static_cast<long long>(config.generate.tests), options.run_dir.c_str());
  return {};
}

Status report_run(const std::string& run_dir) {
  std::string path = (fs::path(run_dir) / "summary.json").string();
  DSTC_TRY(std::string text, read_file(path));
  DSTC_TRY(Json summary, parse_json(text, path));
  return write_report(run_dir, summary);
}

}  // namespace dstc::cli
