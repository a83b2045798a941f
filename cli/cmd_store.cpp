// `dstc store`: inspect, check, export and import a run's store.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "common/file.h"
#include "common/json.h"
#include "store/store.h"

namespace dstc::cli {
namespace {

struct StoreArgs {
  std::string run = "default";
  bool json = false;
  uint32_t round = 0;
  std::string selector = "dstc";
  std::string format = "dpo";
  std::string out;
  std::string input;
  std::string split = "train";
};

Result<std::unique_ptr<store::Store>> open_store(const Globals& g, const StoreArgs& a,
                                                 bool read_only) {
  store::StoreOptions opts;
  opts.create_if_missing = !read_only;
  opts.read_only = read_only;
  // The store lives in <run dir>/store, beside checkpoints, summary.json and the report.
  return store::Store::open(g.run_dir_for(a.run) + "/store", opts);
}

Status run_stats(const Globals& g, const StoreArgs& a) {
  DSTC_TRY(auto st, open_store(g, a, /*read_only=*/true));
  DSTC_TRY(store::Stats stats, st->stats());
  if (a.json) {
    Json out = Json::object();
    for (const auto& [family, per_round] : stats.counts) {
      Json f = Json::object();
      for (const auto& [round, n] : per_round) f[round < 0 ? "all" : std::to_string(round)] = n;
      out[family] = f;
    }
    std::printf("%s\n", out.dump().c_str());
    return {};
  }
  std::printf("%-12s %-8s %s\n", "family", "round", "records");
  for (const auto& [family, per_round] : stats.counts) {
    if (per_round.empty()) std::printf("%-12s %-8s %d\n", family.c_str(), "-", 0);
    for (const auto& [round, n] : per_round) {
      std::printf("%-12s %-8s %llu\n", family.c_str(),
                  round < 0 ? "-" : std::to_string(round).c_str(),
                  static_cast<unsigned long long>(n));
    }
  }
  return {};
}

Status run_check(const Globals& g, const StoreArgs& a) {
  DSTC_TRY(auto st, open_store(g, a, /*read_only=*/true));
  DSTC_TRY(auto problems, st->check());
  for (const auto& p : problems) std::printf("%s\n", p.c_str());
  if (!problems.empty()) {
    return fail(ErrorCode::kCorrupt,
                std::to_string(problems.size()) + " consistency problem(s) in " + st->dir());
  }
  std::printf("ok: %s is consistent\n", st->dir().c_str());
  return {};
}

Status run_export(const Globals& g, const StoreArgs& a) {
  DSTC_TRY(auto st, open_store(g, a, /*read_only=*/true));
  std::string text;
  size_t n = 0;
  if (a.format == "dpo") {
    DSTC_TRY(auto pairs, st->pairs(a.round, a.selector));
    for (const auto& p : pairs) {
      text += Json{{"prompt", p.prompt}, {"chosen", p.chosen}, {"rejected", p.rejected}}.dump();
      text += '\n';
    }
    n = pairs.size();
  } else if (a.format == "samples") {
    DSTC_TRY(auto problems, st->problems());
    for (const auto& problem : problems) {
      DSTC_TRY(auto samples, st->samples(a.round, problem.task_id));
      if (samples.empty()) continue;
      DSTC_TRY(auto runs, st->executions(a.round, problem.task_id));
      for (const auto& s : samples) {
        Json row{{"task_id", s.task_id},
                 {"kind", std::string(store::sample_kind_name(s.kind))},
                 {"index", s.index},
                 {"raw", s.raw},
                 {"program", s.program}};
        // A code's verdict on the hidden tests; a test's verdict on the canonical solution.
        for (const auto& e : runs) {
          bool code = s.kind == store::SampleKind::kCode;
          if ((code && e.code_index == s.index && e.test_index == store::kHiddenTestIndex) ||
              (!code && e.test_index == s.index && e.code_index == store::kCanonicalCodeIndex)) {
            row[code ? "hidden_verdict" : "canonical_verdict"] = e.status;
          }
        }
        text += row.dump();
        text += '\n';
        ++n;
      }
    }
  } else {
    DSTC_TRY(auto examples, st->kto(a.round, a.selector));
    for (const auto& k : examples) {
      text += Json{{"prompt", k.prompt}, {"completion", k.completion}, {"label", k.label}}.dump();
      text += '\n';
    }
    n = examples.size();
  }
  DSTC_CHECK_OK(write_file_atomic(a.out, text));
  std::fprintf(stderr, "exported %zu %s records of round %u, selector %s, to %s\n", n,
               a.format.c_str(), a.round, a.selector.c_str(), a.out.c_str());
  return {};
}

// Accepts HumanEval/EvalPlus/MBPP-style rows: task_id, prompt (or text), optional
// entry_point, canonical_solution (or code), test.
Status run_import(const Globals& g, const StoreArgs& a) {
  DSTC_TRY(std::string text, read_maybe_gzip(a.input));
  store::WriteSet ws;
  DSTC_CHECK_OK(for_each_jsonl(text, a.input, [&](size_t, const Json& row) -> Status {
    store::Problem p;
    if (row.contains("task_id") && row["task_id"].is_number_integer()) {
      p.task_id = std::to_string(row["task_id"].get<int64_t>());
    } else {
      DSTC_TRY(p.task_id, json_string(row, "task_id"));
    }
    DSTC_CHECK_OK(store::keys_valid_task_id(p.task_id));
    if (row.contains("prompt")) {
      DSTC_TRY(p.prompt, json_string(row, "prompt"));
    } else if (row.contains("text")) {
      DSTC_TRY(p.prompt, json_string(row, "text"));
    } else {
      return fail(ErrorCode::kCorrupt, "missing field 'prompt'");
    }
    auto opt = [&](const char* key, std::string& out) -> Status {
      if (!row.contains(key)) return {};
      DSTC_TRY(out, json_string(row, key));
      return {};
    };
    DSTC_CHECK_OK(opt("entry_point", p.entry_point));
    DSTC_CHECK_OK(opt("canonical_solution", p.canonical_solution));
    if (p.canonical_solution.empty()) DSTC_CHECK_OK(opt("code", p.canonical_solution));
    DSTC_CHECK_OK(opt("test", p.hidden_tests));
    p.split = a.split;
    if (row.contains("split")) DSTC_CHECK_OK(opt("split", p.split));
    ws.put(p);
    return {};
  }));
  DSTC_TRY(auto st, open_store(g, a, /*read_only=*/false));
  DSTC_CHECK_OK(st->write(ws));
  std::fprintf(stderr, "imported %zu problems from %s into %s\n", ws.size(), a.input.c_str(),
               st->dir().c_str());
  return {};
}

void register_store(CLI::App& app, Globals& globals, Action& action) {
  auto args = std::make_shared<StoreArgs>();
  auto* store = app.add_subcommand("store", "Inspect, check, export and import a run's store");
  store->require_subcommand(1);
  auto add_run = [&](CLI::App* sub) {
    sub->add_option("--run", args->run, "Run name (its directory is ./runs/<run>)")
        ->capture_default_str();
  };

  auto* stats = store->add_subcommand("stats", "Record counts per family and round");
  add_run(stats);
  stats->add_flag("--json", args->json, "Print JSON instead of a table");
  stats->callback([&globals, &action, args] {
    action = [&globals, args] { return run_stats(globals, *args); };
  });

  auto* check = store->add_subcommand(
      "check",
      "Consistency check: every record decodes and matches its key, executions refer "
      "to existing samples, pairs to existing problems (exit 1 if not)");
  add_run(check);
  check->callback([&globals, &action, args] {
    action = [&globals, args] { return run_check(globals, *args); };
  });

  auto* exp = store->add_subcommand(
      "export",
      "Export preference data as TRL JSONL: DPO {prompt, chosen, rejected} or KTO "
      "{prompt, completion, label}; or the round's raw samples with their verdicts");
  add_run(exp);
  exp->add_option("--round", args->round, "Round to export")->capture_default_str();
  exp->add_option("--selector", args->selector, "Selector whose pairs to export")
      ->capture_default_str();
  exp->add_option("--format", args->format,
                  "dpo, kto, or samples (every sample of the round with its verdict on the "
                  "hidden tests or, for a test, on the canonical solution)")
      ->check(CLI::IsMember({"dpo", "kto", "samples"}))
      ->capture_default_str();
  exp->add_option("--out", args->out, "Output JSONL file")->required();
  exp->callback([&globals, &action, args] {
    action = [&globals, args] { return run_export(globals, *args); };
  });

  auto* imp = store->add_subcommand(
      "import",
      "Import problems/prompts from JSONL(.gz): task_id, prompt, and optionally "
      "entry_point, canonical_solution, test, split");
  add_run(imp);
  imp->add_option("--problems", args->input, "JSONL file (plain or gzip)")
      ->required()
      ->check(CLI::ExistingFile);
  imp->add_option("--split", args->split, "Split label for rows without one")
      ->capture_default_str();
  imp->callback([&globals, &action, args] {
    action = [&globals, args] { return run_import(globals, *args); };
  });
}

}  // namespace

DSTC_REGISTER_COMMAND(store, register_store);

}  // namespace dstc::cli
