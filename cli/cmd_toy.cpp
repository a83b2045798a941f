// `dstc toy`: export the procedurally generated toy tasks (HumanEval JSONL or SFT text
// pairs) and print their measurements (lengths, self-test validity of test policies).
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "benchmarks/toy/toy_world.h"
#include "cli/command.h"
#include "cli/pipeline.h"
#include "cli/pipeline_model.h"
#include "cli/pipeline_tasks.h"
#include "cli/run_config.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/progress.h"
#include "sandbox/sandbox.h"
#include "selector/selector.h"

namespace dstc::cli {
namespace {

struct ToyArgs {
  std::string split = "eval";
  int64_t count = 500;
  uint64_t seed = 0;
  std::string out;
  std::string format = "tasks";
  int min_examples = 2;
  int max_examples = 2;
  // eval: a checkpoint greedy on the held-out split (the tasks `dstc run` scores).
  std::string model;
  int64_t max_new_tokens = 160;
  // export --format sft: the mix of SFT targets.
  int64_t code_every = 1;       // a code target for one task in this many
  int varied_tests = 1;         // varied test targets per task (after the restated examples)
  std::string bug_rates;        // "R" or "name=R,name=R": code targets that are the template's slip
  bool code_with_test = false;  // code targets end with one restated docstring example
  // simulate: a stand-in for the model's samples (no model, no Python).
  int codes = 8;
  int tests = 8;
  double p_correct = 0.3;    // a sampled code is the canonical solution
  double p_crash = 0.2;      // a sampled code fails to run at all (else: one param off by one)
  double p_restate = 0.3;    // a sampled test restates a docstring example
  double p_computed = 0.1;   // a varied test has the right output (else the example's, copied)
  double p_malformed = 0.1;  // a sampled test does not run (garbled name, syntax)
};

Result<std::vector<toy::ToyTask>> make_tasks(const ToyArgs& args) {
  DSTC_TRY(auto split, toy::parse_split(args.split));
  if (args.count <= 0) {
    return fail(ErrorCode::kInvalidArgument,
                "--count must be positive, got " + std::to_string(args.count));
  }
  if (args.min_examples < 1 || args.max_examples < args.min_examples) {
    return fail(ErrorCode::kInvalidArgument,
                "--min-examples/--max-examples: need 1 <= min <= max, got " +
                    std::to_string(args.min_examples) + " and " +
                    std::to_string(args.max_examples));
  }
  if (args.code_every < 1 || args.varied_tests < 0) {
    return fail(ErrorCode::kInvalidArgument,
                "--code-every must be >= 1 and --varied-tests >= 0, got " +
                    std::to_string(args.code_every) + " and " + std::to_string(args.varied_tests));
  }
  toy::ToyOptions options;
  options.min_examples = args.min_examples;
  options.max_examples = args.max_examples;
  options.extra_tests = args.varied_tests;
  return toy::generate_tasks(split, static_cast<size_t>(args.count), args.seed, options);
}

// --bug-rates: "R" (every template that has a typical slip) or "name=R,name=R,...".
Result<std::map<std::string, double>> parse_bug_rates(const std::string& spec) {
  std::map<std::string, double> rates;
  if (spec.empty()) return rates;
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, "--bug-rates '" + spec + "': " + why);
  };
  auto rate_of = [&](const std::string& text) -> Result<double> {
    size_t used = 0;
    double r = -1;
    try {
      r = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || r < 0 || r > 1) return bad("'" + text + "' is not a rate in [0, 1]");
    return r;
  };
  if (spec.find('=') == std::string::npos) {
    DSTC_TRY(double r, rate_of(spec));
    for (const auto& name : toy::templates_with_bugs()) rates[name] = r;
    return rates;
  }
  const auto with_bugs = toy::templates_with_bugs();
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = std::min(spec.find(',', pos), spec.size());
    std::string item = spec.substr(pos, comma - pos);
    size_t eq = item.find('=');
    if (eq == std::string::npos) return bad("'" + item + "' is not name=rate");
    std::string name = item.substr(0, eq);
    if (std::find(with_bugs.begin(), with_bugs.end(), name) == with_bugs.end()) {
      std::string list;
      for (const auto& n : with_bugs) list += (list.empty() ? "" : ", ") + n;
      return bad("no template '" + name + "' with a typical slip (those with one: " + list + ")");
    }
    DSTC_TRY(rates[name], rate_of(item.substr(eq + 1)));
    pos = comma + 1;
  }
  return rates;
}

// tasks: one HumanEval-style record per task. sft: one {task_id, kind, prompt, completion,
// label} record for the code (of one task in --code-every) and one per test target
// (restated examples, then --varied-tests varied ones); label is always true, so the file
// is TRL KTO-shaped and `dstc train --loss sft` reads it as it is. Fewer code targets than
// test targets is how the toy model ends up weaker at code (headroom for DSTC) while it
// still learns to copy docstring examples into tests (self-test validity).
Status export_command(const ToyArgs& args) {
  if (args.format != "tasks" && args.format != "sft") {
    return fail(ErrorCode::kInvalidArgument,
                "--format must be 'tasks' or 'sft', got '" + args.format + "'");
  }
  DSTC_TRY(auto tasks, make_tasks(args));
  DSTC_TRY(auto bug_rates, parse_bug_rates(args.bug_rates));
  std::string text;
  size_t records = 0, buggy = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const toy::ToyTask& t = tasks[i];
    if (args.format == "tasks") {
      text += toy::task_to_json(t).dump() + "\n";
      ++records;
      continue;
    }
    // Whole rounds of the round-robin template order, so every template keeps its share.
    if ((i / toy::template_names().size()) % static_cast<size_t>(args.code_every) == 0) {
      // The slip replaces the solution for a fixed share of each template's tasks.
      auto rate = bug_rates.find(t.template_name);
      double u = static_cast<double>(fnv1a64(t.task_id + "/bug") >> 11) * 0x1.0p-53;
      bool bug = rate != bug_rates.end() && u < rate->second && !t.buggy_solution.empty();
      buggy += bug;
      std::string completion = bug ? t.buggy_solution : t.solution;
      if (args.code_with_test && !t.examples.empty()) {
        // As code models often do: the function, then a check of its own. DSTC's responses
        // (code ⊕ test) are then the model's own kind of text, not an unlikely appendix.
        const auto& e = t.examples[fnv1a64(t.task_id + "/example") % t.examples.size()];
        // Joined exactly as the pipeline joins a code and a test (code ⊕ test).
        completion = selector::concat_code_test(completion, toy::test_response(t.entry_point, e));
      }
      text += Json{{"task_id", t.task_id},
                   {"kind", "code"},
                   {"prompt", toy::code_query(t)},
                   {"completion", completion},
                   {"label", true}}
                  .dump() +
              "\n";
      ++records;
    }
    for (const auto& test : toy::sft_test_responses(t)) {
      text += Json{{"task_id", t.task_id},
                   {"kind", "test"},
                   {"prompt", toy::test_query(t)},
                   {"completion", test},
                   {"label", true}}
                  .dump() +
              "\n";
      ++records;
    }
  }
  if (args.out.empty() || args.out == "-") {
    std::fputs(text.c_str(), stdout);
  } else {
    DSTC_CHECK_OK(write_file_atomic(args.out, text));
    std::fprintf(stderr, "wrote %zu records (%zu %s tasks, %zu buggy code targets) to %s\n",
                 records, tasks.size(), args.split.c_str(), buggy, args.out.c_str());
  }
  return {};
}

// Greedy pass@1 of a checkpoint on the first --count held-out tasks, overall and per
// template: the number `dstc run` reports as base/final pass@1, for any checkpoint.
Status eval_command(const ToyArgs& args) {
  DSTC_TRY(RunConfig config, default_run_config());
  config.data.eval_count = args.count;
  config.eval.max_new_tokens = args.max_new_tokens;
  DSTC_TRY(auto tasks, evaluation_tasks(config));
  DSTC_TRY(auto model, load_model(config, args.model));
  DSTC_TRY(auto sandbox, sandbox::Sandbox::create());
  std::map<std::string, std::pair<int, int>> per_template;  // correct, total
  int correct = 0;
  constexpr size_t kBatch = 64;
  ProgressBar bar("toy eval", tasks.size());
  for (size_t b = 0; b < tasks.size(); b += kBatch) {
    std::vector<const PipelineTask*> batch;
    for (size_t i = b; i < std::min(tasks.size(), b + kBatch); ++i) batch.push_back(&tasks[i]);
    SampleRequest req;  // greedy, as `dstc run` scores
    req.max_new_tokens = args.max_new_tokens;
    req.stop = tasks[b].code_stops;
    DSTC_TRY(auto scored, score_answers(*model, batch, req, config.execute,
                                        [&](const std::vector<sandbox::Job>& jobs) {
                                          return sandbox->run_batch(jobs);
                                        }));
    for (size_t i = 0; i < batch.size(); ++i) {
      bool ok = scored[i].at(0) == sandbox::Status::kPassed;
      correct += ok;
      auto& t = per_template[batch[i]->toy->template_name];
      t.first += ok;
      ++t.second;
      bar.tick();
    }
  }
  bar.finish();
  Json out{{"model", args.model},
           {"tasks", tasks.size()},
           {"pass@1", static_cast<double>(correct) / static_cast<double>(tasks.size())}};
  for (const auto& [name, ct] : per_template) {
    out["templates"][name] = static_cast<double>(ct.first) / ct.second;
  }
  std::printf("%s\n", out.dump().c_str());
  return {};
}

Status stats_command(const ToyArgs& args) {
  DSTC_TRY(auto tasks, make_tasks(args));
  std::printf("%s\n", toy::measure_tasks(tasks, args.seed).dump(2).c_str());
  return {};
}

// Simulated DSTC round on toy training prompts: codes are the canonical solution, a crash,
// or an off-by-one-parameter mutant; tests restate an example, vary it with a computed or a
// copied output, or are malformed. The C++ evaluator fills R, every selector runs on the
// same matrices, and the pair audit scores them against the hidden tests. It shows what
// label quality a given test-writing mix can give; it does not replace a real round.
Status simulate_command(const ToyArgs& args) {
  for (double p :
       {args.p_correct, args.p_crash, args.p_restate, args.p_computed, args.p_malformed}) {
    if (p < 0 || p > 1) return fail(ErrorCode::kInvalidArgument, "probabilities must be in [0, 1]");
  }
  if (args.codes < 1 || args.tests < 1)
    return fail(ErrorCode::kInvalidArgument, "--codes and --tests must be positive");
  DSTC_TRY(auto tasks, make_tasks(args));
  uint64_t state = fnv1a64("toy simulate " + std::to_string(args.seed));
  auto next = [&] {  // SplitMix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  auto chance = [&](double p) { return (next() >> 11) * (1.0 / 9007199254740992.0) < p; };
  std::map<std::string, selector::SelectionStats> stats;
  std::map<std::string, selector::PairAudit> audits;
  size_t test_count = 0, valid_tests = 0, code_count = 0, correct_codes = 0, any_correct = 0;
  for (const auto& t : tasks) {
    // Errors are correlated within a task, as a model's are: this task's P(correct) is
    // p_correct * 2u, u uniform in [0, 1] (mean p_correct while p_correct <= 0.5).
    const double p_task = std::min(1.0, args.p_correct * 2.0 * ((next() >> 11) * 0x1p-53));
    selector::Matrix m;
    m.prompt = toy::code_query(t);
    std::vector<std::vector<int64_t>> params;  // empty = crashes
    for (int j = 0; j < args.codes; ++j) {
      std::vector<int64_t> p = t.params;
      if (!chance(p_task)) {
        if (chance(args.p_crash)) {
          p.clear();
        } else {
          p[next() % p.size()] += chance(0.5) ? 1 : -1;
        }
      }
      bool correct = !p.empty();
      for (const auto& h : t.hidden)
        if (correct && !(toy::evaluate(t.template_name, p, h.inputs) == h.result)) correct = false;
      std::string code = "code";
      for (auto v : p) code += " " + std::to_string(v);
      params.push_back(p);
      m.codes.push_back(code);
      m.code_correct.push_back(correct);
      ++code_count;
      correct_codes += correct;
    }
    struct SimTest {
      std::vector<toy::Value> inputs;
      toy::Value expected;
      bool runs = true;
    };
    std::vector<SimTest> sims;
    for (int k = 0; k < args.tests; ++k) {
      const auto& ex = t.examples[next() % t.examples.size()];
      SimTest st{ex.inputs, ex.result, !chance(args.p_malformed)};
      if (!chance(args.p_restate)) {
        st.inputs = toy::draw_input(t.template_name, t.params, next());
        if (chance(args.p_computed))
          st.expected = toy::evaluate(t.template_name, t.params, st.inputs);
      }
      m.tests.push_back("assert " + t.entry_point + "(" + toy::args_source(st.inputs) +
                        ") == " + st.expected.repr() + (st.runs ? "" : " ?"));
      ++test_count;
      valid_tests += st.runs && toy::evaluate(t.template_name, t.params, st.inputs) == st.expected;
      sims.push_back(std::move(st));
    }
    m.passed.assign(m.codes.size(), std::vector<uint8_t>(m.tests.size(), 0));
    for (size_t j = 0; j < m.codes.size(); ++j) {
      for (size_t k = 0; k < m.tests.size(); ++k) {
        m.passed[j][k] =
            !params[j].empty() && sims[k].runs &&
            toy::evaluate(t.template_name, params[j], sims[k].inputs) == sims[k].expected;
      }
    }
    any_correct +=
        std::any_of(m.code_correct.begin(), m.code_correct.end(), [](uint8_t c) { return c != 0; });
    for (selector::Method method : selector::kAllMethods) {
      selector::SelectorOptions o;
      o.method = method;
      o.seed = args.seed;
      auto sel = selector::select(m, o);
      std::string name(selector::method_name(method));
      stats[name].add(sel);
      if (sel.pair) audits[name].add(*sel.pair, m.code_correct);
    }
  }
  Json out;
  auto rate = [](size_t n, size_t d) { return d ? static_cast<double>(n) / d : 0.0; };
  out["prompts"] = tasks.size();
  out["code_correct"] = rate(correct_codes, code_count);
  out["pass_at_J"] = rate(any_correct, tasks.size());
  out["self_test_validity"] = rate(valid_tests, test_count);
  for (const auto& [name, st] : stats) {
    out["selectors"][name] = st.to_json();
    out["selectors"][name]["audit"] = audits[name].to_json();
  }
  std::printf("%s\n", out.dump(2).c_str());
  return {};
}

void add_task_options(CLI::App* cmd, ToyArgs& args) {
  cmd->add_option("--split", args.split, "pretrain | train | eval")->capture_default_str();
  cmd->add_option("--count", args.count, "Number of tasks")->capture_default_str();
  cmd->add_option("--seed", args.seed, "Generation seed")->capture_default_str();
  cmd->add_option("--min-examples", args.min_examples, "Fewest docstring examples per task")
      ->capture_default_str();
  cmd->add_option("--max-examples", args.max_examples, "Most docstring examples per task")
      ->capture_default_str();
}

void register_toy(CLI::App& app, Globals&, Action& action) {
  auto args = std::make_shared<ToyArgs>();
  auto* toy = app.add_subcommand(
      "toy", "The toy task world: Python function tasks in HumanEval format, generated by seed");
  toy->require_subcommand(1);

  auto* exp = toy->add_subcommand(
      "export",
      "Write tasks as JSONL: HumanEval fields (task_id, prompt, entry_point, "
      "canonical_solution, test) plus solution, examples and example_tests; or, with "
      "--format sft, the toy model's SFT pairs {prompt, completion} for code and tests");
  add_task_options(exp, *args);
  exp->add_option("--out", args->out, "Output JSONL file ('-' or empty: stdout)");
  exp->add_option("--format", args->format, "tasks | sft")->capture_default_str();
  exp->add_option("--code-every", args->code_every,
                  "sft: a code target for one task in N (the others give tests only)")
      ->capture_default_str();
  exp->add_option("--bug-rates", args->bug_rates,
                  "sft: share of code targets that carry the template's typical slip: R for "
                  "every template with one, or name=R,name=R");
  exp->add_flag("--code-with-test", args->code_with_test,
                "sft: code targets end with one docstring example restated as an assert");
  exp->add_option("--varied-tests", args->varied_tests,
                  "sft: varied test targets per task, after the restated docstring examples")
      ->capture_default_str();
  exp->callback([&action, args] { action = [args] { return export_command(*args); }; });

  auto* eval = toy->add_subcommand(
      "eval",
      "Greedy pass@1 of a checkpoint on the held-out toy tasks that `dstc run` scores "
      "(the first --count of them), overall and per template, as JSON");
  eval->add_option("--model", args->model, "HF checkpoint folder")->required();
  eval->add_option("--count", args->count, "Held-out tasks to score")->capture_default_str();
  eval->add_option("--max-new-tokens", args->max_new_tokens, "Per sample")->capture_default_str();
  eval->callback([&action, args] { action = [args] { return eval_command(*args); }; });

  auto* stats = toy->add_subcommand(
      "stats",
      "Print per-template lengths and self-test validity of test policies (restated "
      "docstring examples, lazy output copying, off-by-one mutants caught) as JSON");
  add_task_options(stats, *args);
  stats->callback([&action, args] { action = [args] { return stats_command(*args); }; });

  auto* sim = toy->add_subcommand(
      "simulate",
      "Simulated DSTC round without a model: sampled codes/tests drawn from a stated mix "
      "(correct, crash, off-by-one; restated, computed, copied, malformed), R filled by the "
      "C++ evaluator, every selector run, pairs audited against the hidden tests");
  add_task_options(sim, *args);
  sim->add_option("--codes", args->codes, "Codes per prompt (J)")->capture_default_str();
  sim->add_option("--tests", args->tests, "Tests per prompt (K)")->capture_default_str();
  sim->add_option("--p-correct", args->p_correct, "P(code is correct)")->capture_default_str();
  sim->add_option("--p-crash", args->p_crash, "P(wrong code crashes)")->capture_default_str();
  sim->add_option("--p-restate", args->p_restate, "P(test restates an example)")
      ->capture_default_str();
  sim->add_option("--p-computed", args->p_computed, "P(varied test output is right)")
      ->capture_default_str();
  sim->add_option("--p-malformed", args->p_malformed, "P(test does not run)")
      ->capture_default_str();
  sim->callback([&action, args] { action = [args] { return simulate_command(*args); }; });
}

}  // namespace

DSTC_REGISTER_COMMAND(toy, register_toy);

}  // namespace dstc::cli
