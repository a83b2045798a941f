#include "benchmarks/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "benchmarks/pass_at_k.h"
#include "benchmarks/programs.h"
#include "common/file.h"
#include "common/log.h"

namespace dstc::benchmarks {

namespace {

namespace fs = std::filesystem;
using sandbox::Job;
using sandbox::Verdict;
namespace sb = dstc::sandbox;

// Bumped whenever the ground-truth program changes what it records.
constexpr const char* kGroundTruthFormat = "gt4";
// Interpreter start and imports, on top of the per-input limits.
constexpr double kStartupSlack = 2.0;

std::shared_ptr<spdlog::logger> logger() { return log::get("benchmarks"); }

std::string clip(std::string s, size_t n) {
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

std::string verdict_detail(const Verdict& v) {
  std::string d(sb::status_name(v.status));
  if (!v.error_type.empty()) d += ": " + v.error_type;
  if (!v.error_message.empty()) d += ": " + clip(v.error_message, 500);
  if (!v.reason.empty()) d += " (" + clip(v.reason, 200) + ")";
  return d;
}

std::string status_of(const Verdict& v) {
  switch (v.status) {
    case sb::Status::kPassed:
      return "pass";
    case sb::Status::kFailed:
      return "fail";
    case sb::Status::kTimeout:
      return "timeout";
    case sb::Status::kSandboxError:
      return "sandbox_error";
    case sb::Status::kError:
      return v.error_type == "DstcInputTimeout" ? "timeout" : "error";
    default:
      return "error";
  }
}

// Runs jobs through the sandbox, reporting progress under `phase`.
std::vector<Verdict> run_jobs(sb::Sandbox& sandbox, const std::vector<Job>& jobs,
                              const EvalOptions& options, const std::string& phase) {
  std::atomic<size_t> done{0};
  const size_t total = jobs.size();
  return sandbox.run_batch(jobs, options.parallel, [&](size_t) {
    size_t d = ++done;
    if (options.progress) options.progress(phase, d, total);
  });
}

std::string cache_path(const Dataset& ds, const EvalOptions& options) {
  std::string name(benchmark_name(ds.benchmark));
  std::replace(name.begin(), name.end(), '+', 'P');
  return options.cache_dir + "/evalplus-" + name + "-" + ds.version + "-" + kGroundTruthFormat +
         ".json";
}

// Parses "DSTC-GT <times json> <blob>" from a ground-truth run's stdout.
GroundTruth parse_ground_truth(const Verdict& v, size_t expected_count) {
  GroundTruth gt;
  if (v.status != sb::Status::kPassed) {
    gt.error = "canonical solution did not run: " + verdict_detail(v);
    return gt;
  }
  if (v.stdout_truncated) {
    gt.error = "expected outputs exceed the sandbox output limit";
    return gt;
  }
  size_t at = v.stdout_text.rfind("DSTC-GT ");
  if (at == std::string::npos) {
    gt.error = "canonical run printed no expected outputs";
    return gt;
  }
  std::string rest = v.stdout_text.substr(at + 8);
  size_t sp = rest.find("] ");
  if (sp == std::string::npos) {
    gt.error = "malformed ground-truth line";
    return gt;
  }
  auto times = parse_json(rest.substr(0, sp + 1), "ground truth times");
  if (!times || !times->is_array() || times->size() != expected_count) {
    gt.error = "malformed ground-truth times";
    return gt;
  }
  for (const auto& t : *times) gt.seconds.push_back(t.get<double>());
  gt.wall_seconds = static_cast<double>(v.wall_ms) / 1000.0;
  gt.blob = rest.substr(sp + 2);
  while (!gt.blob.empty() && std::isspace(static_cast<unsigned char>(gt.blob.back()))) {
    gt.blob.pop_back();
  }
  return gt;
}

Json gt_to_json(const GroundTruth& g) {
  return Json{
      {"blob", g.blob}, {"seconds", g.seconds}, {"wall", g.wall_seconds}, {"error", g.error}};
}

GroundTruth gt_from_json(const Json& j) {
  GroundTruth g;
  g.blob = j.value("blob", "");
  g.error = j.value("error", "");
  if (j.contains("seconds")) g.seconds = j["seconds"].get<std::vector<double>>();
  g.wall_seconds = j.value("wall", 0.0);
  return g;
}

std::vector<double> time_limits(const GroundTruth& gt, const EvalOptions& o) {
  std::vector<double> out;
  for (double t : gt.seconds) out.push_back(std::max(o.min_time_limit, o.gt_time_limit_factor * t));
  return out;
}

// EvalPlus: min(EVALPLUS_TIMEOUT_PER_TASK, sum of limits) + 1. Never below twice the
// canonical solution's own time, so a task whose canonical run alone exceeds the cap on
// this host (Mbpp/599: ~70 s here) does not fail its own canonical solution.
double job_timeout(const GroundTruth& gt, const std::vector<double>& limits, const EvalOptions& o) {
  double sum = 0, canonical = 0;
  for (double l : limits) sum += l;
  for (double t : gt.seconds) canonical += t;
  // The check repeats the canonical run's work (outputs, digests of large ones): give it
  // twice what the whole canonical program took as well.
  canonical = std::max(canonical, gt.wall_seconds);
  return std::max(std::min(o.evalplus_task_timeout, sum), 2.0 * canonical) + 1.0 + kStartupSlack;
}

// The modules a BigCodeBench task needs: its `libs` plus the top-level modules its prompt
// and its test import (tests use faker, requests_mock, ... that `libs` does not name).
std::vector<std::string> task_modules(const Task& t) {
  std::set<std::string> mods(t.libs.begin(), t.libs.end());
  for (const std::string* src : {&t.prompt, &t.canonical, &t.test}) {
    size_t pos = 0;
    while (pos < src->size()) {
      size_t nl = src->find('\n', pos);
      if (nl == std::string::npos) nl = src->size();
      std::string line = src->substr(pos, nl - pos);
      pos = nl + 1;
      size_t a = line.find_first_not_of(" \t");
      if (a == std::string::npos) continue;
      line = line.substr(a);
      // Only statement-shaped lines: docstrings say "from 0 to 1" or "import it".
      std::string rest;
      if (line.rfind("import ", 0) == 0) {
        rest = line.substr(7);
        bool ok = true;
        for (char c : rest) {
          ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
                      c == ',' || c == ' ' || c == '\r');
        }
        if (!ok) continue;
      } else if (line.rfind("from ", 0) == 0 && line.find(" import ") != std::string::npos) {
        rest = line.substr(5);
        rest = rest.substr(0, rest.find(" import"));
        if (rest.find(' ') != std::string::npos) continue;
      } else {
        continue;
      }
      // "a.b as c, d" -> a, d
      size_t start = 0;
      while (start < rest.size()) {
        size_t comma = rest.find(',', start);
        std::string item =
            rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? rest.size() : comma + 1;
        size_t b = item.find_first_not_of(" (");
        if (b == std::string::npos) continue;
        size_t e = b;
        while (e < item.size() &&
               (std::isalnum(static_cast<unsigned char>(item[e])) || item[e] == '_'))
          ++e;
        if (e > b && (std::isalpha(static_cast<unsigned char>(item[b])) || item[b] == '_')) {
          mods.insert(item.substr(b, e - b));
        }
      }
    }
  }
  return {mods.begin(), mods.end()};
}

// BigCodeBench: which of the tasks' libraries fail to import in the sandbox.
Result<std::set<std::string>> missing_libraries(const std::vector<const Task*>& tasks,
                                                sb::Sandbox& sandbox, int64_t* runs) {
  std::set<std::string> all;
  for (const Task* t : tasks) {
    for (const auto& m : task_modules(*t)) all.insert(m);
  }
  Job job;
  job.id = "bigcodebench-libs";
  job.program = missing_libs_program(std::vector<std::string>(all.begin(), all.end()));
  job.profile = "bigcodebench";
  job.timeout_seconds = 300;
  Verdict v = sandbox.run(job);
  ++*runs;
  if (v.status != sb::Status::kPassed) {
    return fail(ErrorCode::kUnavailable,
                "probing BigCodeBench libraries in the sandbox failed: " + verdict_detail(v));
  }
  size_t nl = v.stdout_text.rfind('[');
  auto list = parse_json(nl == std::string::npos ? "" : v.stdout_text.substr(nl), "library probe");
  if (!list || !list->is_array()) {
    return fail(ErrorCode::kInternal, "library probe printed no list: " + clip(v.stdout_text, 200));
  }
  std::set<std::string> missing;
  for (const auto& m : *list) missing.insert(m.get<std::string>());
  return missing;
}

}  // namespace

Result<std::map<std::string, std::pair<GroundTruth, GroundTruth>>> evalplus_ground_truth(
    const Dataset& ds, const std::vector<const Task*>& tasks, sb::Sandbox& sandbox,
    const EvalOptions& options, int64_t* programs_run) {
  std::map<std::string, std::pair<GroundTruth, GroundTruth>> out;
  Json cache = Json::object();
  const bool use_cache = !options.cache_dir.empty();
  const std::string path = use_cache ? cache_path(ds, options) : "";
  if (use_cache && fs::exists(path)) {
    auto text = read_file(path);
    auto j = text ? parse_json(*text, path) : Result<Json>(fail(text.error()));
    if (j && j->is_object()) {
      cache = std::move(*j);
    } else {
      logger()->warn("ignoring unreadable ground-truth cache {}", path);
    }
  }
  std::vector<Job> jobs;
  std::vector<std::pair<const Task*, bool>> what;
  for (const Task* t : tasks) {
    if (cache.contains(t->task_id)) {
      const Json& e = cache[t->task_id];
      out[t->task_id] = {gt_from_json(e["base"]), gt_from_json(e["plus"])};
      continue;
    }
    for (bool plus : {false, true}) {
      Job job;
      job.id = t->task_id + (plus ? "/plus" : "/base");
      job.program = evalplus_groundtruth_program(ds.benchmark, *t, plus);
      job.timeout_seconds = 600;
      job.memory_mb = options.evalplus_memory_mb;
      jobs.push_back(std::move(job));
      what.emplace_back(t, plus);
    }
  }
  if (jobs.empty()) return out;
  logger()->info("computing EvalPlus expected outputs: {} canonical runs", jobs.size());
  std::vector<Verdict> verdicts = run_jobs(sandbox, jobs, options, "ground truth");
  if (programs_run) *programs_run += static_cast<int64_t>(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& [t, plus] = what[i];
    GroundTruth gt = parse_ground_truth(verdicts[i], plus ? t->plus_count : t->base_count);
    if (verdicts[i].status == sb::Status::kSandboxError) {
      return fail(ErrorCode::kUnavailable, "sandbox could not run the canonical solution of " +
                                               t->task_id + ": " + verdicts[i].reason);
    }
    auto& slot = out[t->task_id];
    (plus ? slot.second : slot.first) = std::move(gt);
  }
  if (use_cache) {
    for (const auto& [id, pair] : out) {
      // Failed canonical runs are not cached: a later run (another host, more memory)
      // may succeed.
      if (pair.first.error.empty() && pair.second.error.empty()) {
        cache[id] = Json{{"base", gt_to_json(pair.first)}, {"plus", gt_to_json(pair.second)}};
      }
    }
    std::error_code ec;
    fs::create_directories(options.cache_dir, ec);
    auto st = write_file_atomic(path, cache.dump());
    if (!st) logger()->warn("could not write ground-truth cache: {}", st.error().message());
  }
  return out;
}

Result<EvalReport> evaluate(const Dataset& ds, const std::vector<Sample>& samples,
                            sb::Sandbox& sandbox, const EvalOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  EvalReport report;
  report.benchmark = ds.benchmark;
  report.split = ds.split;
  report.data_path = ds.path;
  report.data_version = ds.version;
  report.greedy = options.greedy;

  // Group samples by task, in dataset order.
  std::map<std::string, std::vector<const Sample*>> by_task;
  for (const auto& s : samples) {
    if (!ds.find(s.task_id)) {
      return fail(ErrorCode::kInvalidArgument,
                  "sample names task '" + s.task_id + "', which is not in " + ds.path);
    }
    by_task[s.task_id].push_back(&s);
  }
  std::vector<const Task*> tasks;
  for (const auto& t : ds.tasks) {
    if (by_task.count(t.task_id)) {
      tasks.push_back(&t);
    } else {
      report.without_samples.push_back(t.task_id);
    }
  }
  report.tasks.resize(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    TaskResult& tr = report.tasks[i];
    tr.task_id = tasks[i]->task_id;
    const auto& ss = by_task[tr.task_id];
    tr.n = static_cast<int64_t>(ss.size());
    for (size_t j = 0; j < ss.size(); ++j) {
      SampleResult sr;
      sr.task_id = tr.task_id;
      sr.index = j;
      tr.samples.push_back(sr);
    }
  }

  // Tasks that cannot be scored here are skipped, with the reason.
  if (ds.benchmark == Benchmark::kBigCodeBench && !tasks.empty()) {
    DSTC_TRY(auto missing, missing_libraries(tasks, sandbox, &report.programs_run));
    for (size_t i = 0; i < tasks.size(); ++i) {
      std::string names;
      for (const auto& lib : task_modules(*tasks[i])) {
        if (missing.count(lib)) names += (names.empty() ? "" : ", ") + lib;
      }
      if (!names.empty()) {
        report.tasks[i].skipped = true;
        report.tasks[i].skip_reason = "missing library: " + names;
      }
    }
    if (!missing.empty()) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      logger()->warn(
          "BigCodeBench: {} libraries do not import in the sandbox ({}); their "
          "tasks are skipped (scripts/install-bigcodebench-deps.sh)",
          missing.size(), clip(list, 400));
    }
  }
  std::map<std::string, std::pair<GroundTruth, GroundTruth>> truth;
  if (is_evalplus(ds.benchmark) && !tasks.empty()) {
    DSTC_TRY(truth, evalplus_ground_truth(ds, tasks, sandbox, options, &report.programs_run));
    for (size_t i = 0; i < tasks.size(); ++i) {
      const auto& [base, plus] = truth[tasks[i]->task_id];
      if (!base.error.empty() || !plus.error.empty()) {
        report.tasks[i].skipped = true;
        report.tasks[i].skip_reason =
            "canonical solution failed: " + (base.error.empty() ? plus.error : base.error);
        logger()->warn("{}: {}", tasks[i]->task_id, report.tasks[i].skip_reason);
      }
    }
  }

  // One job per sample (EvalPlus: two, base and plus inputs).
  struct Ref {
    size_t task;
    size_t sample;
    bool plus;
  };
  std::vector<Job> jobs;
  std::vector<Ref> refs;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Task& t = *tasks[i];
    TaskResult& tr = report.tasks[i];
    const auto& ss = by_task[t.task_id];
    for (size_t j = 0; j < ss.size(); ++j) {
      if (tr.skipped) {
        tr.samples[j].status = "skipped";
        tr.samples[j].detail = tr.skip_reason;
        continue;
      }
      const std::string& sol = ss[j]->solution;
      const std::string id = t.task_id + "#" + std::to_string(j);
      switch (ds.benchmark) {
        case Benchmark::kHumanEval:
        case Benchmark::kMbpp:
        case Benchmark::kMbppSanitized: {
          Job job;
          job.id = id;
          job.program = ds.benchmark == Benchmark::kHumanEval ? humaneval_program(t, sol)
                                                              : mbpp_program(t, sol);
          job.timeout_seconds = ds.benchmark == Benchmark::kHumanEval
                                    ? options.timeout_seconds
                                    : options.mbpp_timeout_seconds;
          jobs.push_back(std::move(job));
          refs.push_back({i, j, false});
          break;
        }
        case Benchmark::kBigCodeBench: {
          Job job;
          job.id = id;
          job.program = bigcodebench_program(t, sol);
          job.profile = "bigcodebench";
          job.timeout_seconds = options.bigcodebench_timeout_seconds;
          if (options.bigcodebench_memory_mb > 0) job.memory_mb = options.bigcodebench_memory_mb;
          jobs.push_back(std::move(job));
          refs.push_back({i, j, false});
          break;
        }
        case Benchmark::kHumanEvalPlus:
        case Benchmark::kMbppPlus: {
          const auto& [base, plus] = truth[t.task_id];
          for (bool p : {false, true}) {
            const GroundTruth& gt = p ? plus : base;
            auto limits = time_limits(gt, options);
            Job job;
            job.id = id + (p ? "/plus" : "/base");
            job.program = evalplus_check_program(ds.benchmark, t, p, sol, gt.blob, limits);
            job.timeout_seconds = job_timeout(gt, limits, options);
            job.memory_mb = options.evalplus_memory_mb;
            jobs.push_back(std::move(job));
            refs.push_back({i, j, p});
          }
          break;
        }
      }
    }
  }
  std::vector<Verdict> verdicts = run_jobs(sandbox, jobs, options, "samples");
  report.programs_run += static_cast<int64_t>(jobs.size());
  const bool plus_mode = is_evalplus(ds.benchmark);
  for (size_t k = 0; k < jobs.size(); ++k) {
    const Ref& r = refs[k];
    const Verdict& v = verdicts[k];
    SampleResult& sr = report.tasks[r.task].samples[r.sample];
    std::string st = status_of(v);
    if (st == "sandbox_error") ++report.sandbox_errors;
    if (!plus_mode) {
      sr.status = st;
      sr.detail = st == "pass" ? "" : verdict_detail(v);
      sr.wall_ms = v.wall_ms;
      continue;
    }
    (r.plus ? sr.plus_status : sr.base_status) = st;
    sr.wall_ms += v.wall_ms;
    if (st != "pass" && sr.detail.empty()) {
      sr.detail = std::string(r.plus ? "plus inputs: " : "base inputs: ") + verdict_detail(v);
    }
  }
  // Totals and pass@k.
  std::vector<int64_t> ns, cs, bcs;
  for (auto& tr : report.tasks) {
    for (auto& sr : tr.samples) {
      if (plus_mode && sr.status.empty()) {
        sr.status = sr.base_status != "pass" ? sr.base_status : sr.plus_status;
      }
      sr.passed = sr.status == "pass";
      if (sr.status == "skipped") {
        ++report.samples_skipped;
      } else if (sr.passed) {
        ++report.samples_passed;
        ++tr.correct;
      } else {
        ++report.samples_failed;
      }
      if (plus_mode && sr.base_status == "pass") ++tr.base_correct;
      if (!plus_mode && sr.passed) tr.base_correct = tr.correct;
    }
    if (tr.skipped) {
      ++report.tasks_skipped;
      continue;
    }
    (tr.correct > 0 ? report.tasks_passed : report.tasks_failed)++;
    ns.push_back(tr.n);
    cs.push_back(tr.correct);
    bcs.push_back(tr.base_correct);
  }
  report.pass_at_k = mean_pass_at_k(ns, cs, options.ks);
  if (plus_mode) report.base_pass_at_k = mean_pass_at_k(ns, bcs, options.ks);
  if (report.sandbox_errors > 0) {
    logger()->error("{} sandbox run(s) failed on our side; they count as failed samples",
                    report.sandbox_errors);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

Json EvalReport::summary() const {
  Json j;
  j["benchmark"] = std::string(benchmark_name(benchmark));
  j["split"] = split;
  j["data"] = data_path;
  j["data_version"] = data_version;
  j["greedy"] = greedy;
  for (const auto& [k, v] : pass_at_k) j[k] = v;
  if (!base_pass_at_k.empty()) {
    Json b = Json::object();
    for (const auto& [k, v] : base_pass_at_k) b[k] = v;
    j["base"] = b;  // EvalPlus: the original HumanEval / MBPP tests only
  }
  int64_t min_n = 0, max_n = 0;
  for (const auto& t : tasks) {
    min_n = min_n == 0 ? t.n : std::min(min_n, t.n);
    max_n = std::max(max_n, t.n);
  }
  j["samples_per_task"] = Json{{"min", min_n}, {"max", max_n}};
  j["tasks"] = Json{{"scored", tasks_passed + tasks_failed},
                    {"passed", tasks_passed},
                    {"failed", tasks_failed},
                    {"skipped", tasks_skipped},
                    {"without_samples", static_cast<int64_t>(without_samples.size())}};
  j["samples"] = Json{{"passed", samples_passed},
                      {"failed", samples_failed},
                      {"skipped", samples_skipped},
                      {"sandbox_errors", sandbox_errors}};
  Json skipped = Json::array();
  for (const auto& t : tasks) {
    if (t.skipped) skipped.push_back(Json{{"task_id", t.task_id}, {"reason", t.skip_reason}});
  }
  j["skipped"] = skipped;
  j["programs_run"] = programs_run;
  j["seconds"] = seconds;
  return j;
}

std::vector<Sample> canonical_samples(const Dataset& ds) {
  std::vector<Sample> out;
  for (const auto& t : ds.tasks) out.push_back({t.task_id, t.canonical});
  return out;
}

Result<std::vector<Sample>> read_samples(const std::string& path, const Dataset& ds) {
  DSTC_TRY(auto text, read_maybe_gzip(path));
  std::vector<Sample> out;
  DSTC_CHECK_OK(for_each_jsonl(text, path, [&](size_t line, const Json& o) -> Status {
    const std::string where = path + ":" + std::to_string(line);
    if (!o.is_object() || !o.contains("task_id")) {
      return fail(ErrorCode::kCorrupt, where + ": missing field 'task_id'");
    }
    Sample s;
    s.task_id = normalize_task_id(ds.benchmark, o["task_id"]);
    const Task* t = ds.find(s.task_id);
    if (!t) {
      return fail(ErrorCode::kInvalidArgument, where + ": task '" + s.task_id + "' is not in " +
                                                   ds.path + " (split " + ds.split + ")");
    }
    if (o.contains("solution") && o["solution"].is_string()) {
      s.solution = o["solution"];
    } else if (o.contains("completion") && o["completion"].is_string()) {
      s.solution = t->prompt + o["completion"].get<std::string>();
    } else {
      return fail(ErrorCode::kCorrupt, where + ": needs a string field 'solution' or 'completion'");
    }
    out.push_back(std::move(s));
    return {};
  }));
  return out;
}

Status write_samples(const std::string& path, const std::vector<Sample>& samples) {
  std::string text;
  for (const auto& s : samples) {
    text += Json{{"task_id", s.task_id}, {"solution", s.solution}}.dump(
                -1, ' ', false, Json::error_handler_t::replace) +
            "\n";
  }
  return write_file_atomic(path, text);
}

Status write_report(const EvalReport& report, const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return fail(ErrorCode::kIo, "creating " + out_dir + ": " + ec.message());
  std::string lines;
  for (const auto& t : report.tasks) {
    Json j;
    j["task_id"] = t.task_id;
    j["n"] = t.n;
    j["correct"] = t.correct;
    if (is_evalplus(report.benchmark)) j["base_correct"] = t.base_correct;
    j["skipped"] = t.skipped;
    if (t.skipped) j["skip_reason"] = t.skip_reason;
    Json ss = Json::array();
    for (const auto& s : t.samples) {
      Json e{{"index", s.index}, {"status", s.status}, {"passed", s.passed}};
      if (!s.base_status.empty()) e["base_status"] = s.base_status;
      if (!s.plus_status.empty()) e["plus_status"] = s.plus_status;
      if (!s.detail.empty()) e["detail"] = s.detail;
      e["wall_ms"] = s.wall_ms;
      ss.push_back(std::move(e));
    }
    j["samples"] = std::move(ss);
    lines += j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  }
  DSTC_CHECK_OK(write_file_atomic(out_dir + "/results.jsonl", lines));
  return write_file_atomic(
      out_dir + "/summary.json",
      report.summary().dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
}

std::string format_summary(const EvalReport& r) {
  std::ostringstream os;
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%-16s %s%s\n", "benchmark",
                std::string(benchmark_name(r.benchmark)).c_str(),
                r.split.empty() || r.split == "all" ? "" : (" (" + r.split + ")").c_str());
  os << buf;
  for (const auto& [k, v] : r.pass_at_k) {
    std::snprintf(buf, sizeof(buf), "%-16s %.4f\n", (k + (r.greedy ? " (greedy)" : "")).c_str(), v);
    os << buf;
  }
  for (const auto& [k, v] : r.base_pass_at_k) {
    std::snprintf(buf, sizeof(buf), "%-16s %.4f\n", ("base " + k).c_str(), v);
    os << buf;
  }
  std::snprintf(buf, sizeof(buf),
                "%-16s %lld passed, %lld failed, %lld skipped, %zu without samples\n", "tasks",
                static_cast<long long>(r.tasks_passed), static_cast<long long>(r.tasks_failed),
                static_cast<long long>(r.tasks_skipped), r.without_samples.size());
  os << buf;
  std::snprintf(buf, sizeof(buf), "%-16s %lld passed, %lld failed, %lld skipped\n", "samples",
                static_cast<long long>(r.samples_passed), static_cast<long long>(r.samples_failed),
                static_cast<long long>(r.samples_skipped));
  os << buf;
  if (r.sandbox_errors) {
    std::snprintf(buf, sizeof(buf), "%-16s %lld (counted as failed)\n", "sandbox errors",
                  static_cast<long long>(r.sandbox_errors));
    os << buf;
  }
  std::snprintf(buf, sizeof(buf), "%-16s %lld in %.1f s (%.1f/s)\n", "programs",
                static_cast<long long>(r.programs_run), r.seconds,
                r.seconds > 0 ? r.programs_run / r.seconds : 0.0);
  os << buf;
  return os.str();
}

}  // namespace dstc::benchmarks
