// Toy world: determinism, template balance, disjoint splits, size limits, text formats,
// and (with /usr/bin/python3) that canonical solutions pass every hidden and self test.
#include "benchmarks/toy/toy_world.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

namespace dstc::toy {
namespace {

TEST(ToyWorld, HasAtLeastTwentyDistinctTemplates) {
  const auto& names = template_names();
  EXPECT_GE(names.size(), 20u);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
}

TEST(ToyWorld, IsDeterministicBySeed) {
  auto a = generate_tasks(Split::kEval, 60, 3);
  auto b = generate_tasks(Split::kEval, 60, 3);
  auto c = generate_tasks(Split::kEval, 60, 4);
  ASSERT_EQ(a.size(), 60u);
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt, b[i].prompt);
    EXPECT_EQ(a[i].test, b[i].test);
    EXPECT_EQ(a[i].task_id, b[i].task_id);
    differ += a[i].prompt != c[i].prompt;
  }
  EXPECT_GT(differ, 40u);
}

TEST(ToyWorld, TemplatesAreEquallyRepresented) {
  const size_t T = template_names().size();
  auto tasks = generate_tasks(Split::kTrain, 3 * T + 5, 1);
  std::map<std::string, size_t> counts;
  for (const auto& t : tasks) ++counts[t.template_name];
  ASSERT_EQ(counts.size(), T);
  for (const auto& [name, n] : counts) {
    EXPECT_GE(n, 3u) << name;
    EXPECT_LE(n, 4u) << name;
  }
}

TEST(ToyWorld, SplitsAreDisjointAndLargeEnough) {
  auto pre = generate_tasks(Split::kPretrain, 4000, 0);
  auto train = generate_tasks(Split::kTrain, 1000, 0);
  auto eval = generate_tasks(Split::kEval, 500, 0);
  std::map<std::string, Split> owner;
  for (auto [split, tasks] : {std::pair{Split::kPretrain, &pre}, std::pair{Split::kTrain, &train},
                              std::pair{Split::kEval, &eval}}) {
    for (const auto& t : *tasks) {
      EXPECT_EQ(split_of_prompt(t.template_name, t.prompt), split);
      auto [it, fresh] = owner.emplace(t.prompt, split);
      if (!fresh) {
        ASSERT_EQ(it->second, split) << "prompt in two splits:\n" << t.prompt;
      }
    }
  }
  // Within the DSTC training prompts and the held-out set, prompts do not repeat.
  for (const auto* tasks : {&train, &eval}) {
    std::set<std::string> prompts;
    for (const auto& t : *tasks) prompts.insert(t.prompt);
    EXPECT_EQ(prompts.size(), tasks->size());
  }
  // Another training round's seed gives mostly new prompts.
  auto train2 = generate_tasks(Split::kTrain, 1000, 1);
  std::set<std::string> first;
  for (const auto& t : train) first.insert(t.prompt);
  size_t repeated = 0;
  for (const auto& t : train2) repeated += first.count(t.prompt);
  EXPECT_LT(repeated, 300u);
}

TEST(ToyWorld, TasksAreShortAndWellFormed) {
  auto tasks = generate_tasks(Split::kPretrain, 26 * 40, 9);
  for (const auto& t : tasks) {
    SCOPED_TRACE(t.task_id + "\n" + t.prompt);
    EXPECT_LE(t.prompt.size(), 300u);
    EXPECT_LE(t.solution.size(), 200u);
    EXPECT_EQ(t.prompt.rfind("def " + t.entry_point + "(", 0), 0u);
    EXPECT_EQ(t.solution.rfind("def " + t.entry_point + "(", 0), 0u);
    EXPECT_TRUE(t.prompt.ends_with("    \"\"\"\n"));
    EXPECT_TRUE(t.solution.ends_with(t.canonical_solution));
    EXPECT_EQ(t.examples.size(), 2u);
    EXPECT_EQ(t.hidden.size(), 5u);
    EXPECT_EQ(t.extra.size(), 1u);
    std::set<std::string> args;
    for (const auto* set : {&t.examples, &t.hidden, &t.extra})
      for (const auto& e : *set) EXPECT_TRUE(args.insert(e.args).second) << e.args;
    for (const auto& e : t.examples) {
      EXPECT_NE(t.prompt.find(">>> " + t.entry_point + "(" + e.args + ")\n    " + e.output + "\n"),
                std::string::npos);
    }
    EXPECT_EQ(t.test.rfind("def check(candidate):\n", 0), 0u);
  }
}

TEST(ToyWorld, OptionsControlExampleCount) {
  ToyOptions o;
  o.min_examples = 1;
  o.max_examples = 2;
  std::set<size_t> sizes;
  for (const auto& t : generate_tasks(Split::kTrain, 100, 2, o)) sizes.insert(t.examples.size());
  EXPECT_EQ(sizes, (std::set<size_t>{1, 2}));
  o.min_examples = 0;
  EXPECT_THROW(generate_tasks(Split::kTrain, 1, 2, o), std::invalid_argument);
}

TEST(ToyFormats, QueriesResponsesAndPrograms) {
  auto t = generate_tasks(Split::kEval, 1, 0)[0];
  EXPECT_EQ(code_query(t), t.prompt + "# code\n");
  EXPECT_EQ(test_query(t), t.prompt + "# test\n");
  auto tests = sft_test_responses(t);
  ASSERT_EQ(tests.size(), 3u);
  EXPECT_EQ(tests[0], "assert " + t.entry_point + "(" + t.examples[0].args +
                          ") == " + t.examples[0].output + "\n");
  EXPECT_EQ(hidden_test_program(t, "CODE"),
            "CODE\n\n" + t.test + "\n\ncheck(" + t.entry_point + ")\n");
  EXPECT_EQ(strip_trailing_tests("def f(x):\n    return x\n\n\nassert f(1) == 1\n"),
            "def f(x):\n    return x\n");
  EXPECT_EQ(strip_trailing_tests("def f(x):\n    return x\n"), "def f(x):\n    return x\n");
  EXPECT_EQ(strip_trailing_tests("def f(x):\n    assert x\n    return x\n"),
            "def f(x):\n    assert x\n    return x\n");  // indented asserts stay
}

TEST(ToyFormats, JsonHasHumanEvalFields) {
  auto t = generate_tasks(Split::kEval, 1, 0)[0];
  Json j = task_to_json(t);
  for (const char* key : {"task_id", "prompt", "entry_point", "canonical_solution", "test",
                          "solution", "template", "examples", "example_tests"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["prompt"], t.prompt);
  EXPECT_EQ(j["examples"].size(), t.examples.size());
  auto split = parse_split("eval");
  ASSERT_TRUE(split);
  EXPECT_EQ(*split, Split::kEval);
  EXPECT_FALSE(parse_split("test"));
}

TEST(ToyValues, ReprMatchesPython) {
  EXPECT_EQ(Value::of_int(-3).repr(), "-3");
  EXPECT_EQ(Value::of_bool(true).repr(), "True");
  EXPECT_EQ(Value::of_bool(false).repr(), "False");
  EXPECT_EQ(Value::of_str("ab").repr(), "'ab'");
  EXPECT_EQ(Value::of_list({}).repr(), "[]");
  EXPECT_EQ(Value::of_list({1, -2}).repr(), "[1, -2]");
}

TEST(ToyMeasure, RestatedTestsAreValidAndExamplesDiscriminate) {
  auto tasks = generate_tasks(Split::kEval, 26 * 20, 0);
  Json m = measure_tasks(tasks, 0);
  std::printf("toy measure (eval, %zu tasks): %s\n", tasks.size(), m["overall"].dump().c_str());
  EXPECT_DOUBLE_EQ(m["overall"]["restate_validity"].get<double>(), 1.0);
  EXPECT_EQ(m["templates"].size(), template_names().size());
  // Lazy copying is sometimes right (booleans, small counts) but not usually.
  double lazy = m["overall"]["lazy_validity"].get<double>();
  EXPECT_GT(lazy, 0.05);
  EXPECT_LT(lazy, 0.6);
  // Restating the docstring examples catches most off-by-one-parameter solutions.
  EXPECT_GT(m["overall"]["mutant_caught_by_examples"].get<double>(), 0.7);
}

TEST(ToyEvaluator, ReproducesExamplesAndSeparatesParameters) {
  for (const auto& t : generate_tasks(Split::kTrain, 26 * 4, 5)) {
    for (const auto& e : t.examples) {
      EXPECT_EQ(evaluate(t.template_name, t.params, e.inputs), e.result) << t.task_id;
      EXPECT_EQ(args_source(e.inputs), e.args);
    }
    auto a = draw_input(t.template_name, t.params, 1), b = draw_input(t.template_name, t.params, 1);
    EXPECT_EQ(args_source(a), args_source(b));  // seeded
  }
  EXPECT_EQ(evaluate("affine", {3, 4}, {Value::of_int(2)}), Value::of_int(10));
  EXPECT_EQ(evaluate("floor_div", {4, 0}, {Value::of_int(-1)}), Value::of_int(-1));  // floor
  EXPECT_THROW(evaluate("nope", {}, {}), std::invalid_argument);
}

// `dstc toy export` writes HumanEval-compatible JSONL (needs the built dstc binary).
TEST(ToyCliIntegration, ExportWritesJsonl) {
  if (std::FILE* f = std::fopen(DSTC_BINARY, "r")) {
    std::fclose(f);
  } else {
    GTEST_SKIP() << "dstc binary not built at " << DSTC_BINARY << "; build target dstc first";
  }
  const std::string out = testing::TempDir() + "/toy_export.jsonl";
  std::string cmd = std::string(DSTC_BINARY) +
                    " toy export --split eval --count 30 --seed 2 --out " + out + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  std::string line;
  size_t n = 0;
  auto expected = generate_tasks(Split::kEval, 30, 2);
  while (std::getline(in, line)) {
    Json j = Json::parse(line);
    ASSERT_LT(n, expected.size());
    EXPECT_EQ(j["prompt"], expected[n].prompt);
    EXPECT_EQ(j["test"], expected[n].test);
    ++n;
  }
  EXPECT_EQ(n, 30u);
  std::string bad = std::string(DSTC_BINARY) + " toy export --split nope > /dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

// Runs every canonical solution against its hidden tests, its restated docstring examples
// and its varied SFT tests in one /usr/bin/python3 process, and checks that the C++
// evaluator's outputs equal Python's reprs.
TEST(ToyPythonIntegration, CanonicalSolutionsPassEverything) {
  const char* python = "/usr/bin/python3";
  if (std::FILE* f = std::fopen(python, "r")) {
    std::fclose(f);
  } else {
    GTEST_SKIP() << "no " << python << "; cannot run the toy programs";
  }
  std::vector<ToyTask> tasks;
  for (Split s : {Split::kPretrain, Split::kTrain, Split::kEval}) {
    auto part = generate_tasks(s, 26 * 30, 11);
    tasks.insert(tasks.end(), part.begin(), part.end());
  }
  Json programs = Json::array();
  size_t self_tests = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto& t = tasks[i];
    Json entry;
    entry["id"] = t.task_id;
    entry["humaneval"] =
        t.prompt + t.canonical_solution + "\n\n" + t.test + "\n\ncheck(" + t.entry_point + ")\n";
    entry["hidden"] = hidden_test_program(t, t.solution);
    Json selfs = Json::array();
    for (const auto& test : sft_test_responses(t)) {
      selfs.push_back(t.solution + "\n\n" + test);
      ++self_tests;
    }
    entry["self"] = selfs;
    Json reprs = Json::array();
    for (const auto& e : t.examples)
      reprs.push_back({t.entry_point + "(" + e.args + ")", e.output});
    for (const auto& e : t.hidden) reprs.push_back({t.entry_point + "(" + e.args + ")", e.output});
    entry["reprs"] = reprs;
    // A same-template task with other parameters is a wrong solution for this one.
    const auto& other = tasks[(i + template_names().size()) % tasks.size()];
    entry["wrong"] = other.params != t.params ? hidden_test_program(t, other.solution) : "";
    // The template's typical slip (SFT noise): the hidden tests and, mostly, the docstring
    // examples restated as tests must expose it, or DSTC could not tell it apart.
    entry["bug_hidden"] = t.buggy_solution.empty() ? "" : hidden_test_program(t, t.buggy_solution);
    std::string bug_examples = t.buggy_solution;
    for (const auto& e : t.examples) bug_examples += "\n" + test_response(t.entry_point, e);
    entry["bug_examples"] = t.buggy_solution.empty() ? "" : bug_examples;
    programs.push_back(entry);
  }
  const std::string dir = testing::TempDir();
  const std::string data = dir + "/toy_programs.json", script = dir + "/toy_check.py";
  std::ofstream(data) << programs.dump();
  std::ofstream(script) << R"PY(
import json, sys
ok = bad = wrong_total = wrong_failed = self_ok = self_total = 0
bugs = bug_hidden_failed = bug_examples_failed = 0
def runs(src):
    try:
        exec(compile(src, "<toy>", "exec"), {})
        return True
    except Exception:
        return False
for e in json.load(open(sys.argv[1])):
    good = runs(e["humaneval"]) and runs(e["hidden"])
    ns = {}
    exec(e["hidden"].split("\n\ndef check")[0], ns)
    for call, out in e["reprs"]:
        if repr(eval(call, ns)) != out:
            good = False
            print("repr mismatch", e["id"], call, repr(eval(call, ns)), out)
    for s in e["self"]:
        self_total += 1
        self_ok += runs(s)
    if e["wrong"]:
        wrong_total += 1
        wrong_failed += not runs(e["wrong"])
    if e["bug_hidden"]:
        bugs += 1
        bug_hidden_failed += not runs(e["bug_hidden"])
        bug_examples_failed += not runs(e["bug_examples"])
    if good: ok += 1
    else:
        bad += 1
        print("FAILED", e["id"])
print("RESULT", ok, bad, self_ok, self_total, wrong_failed, wrong_total, bugs,
      bug_hidden_failed, bug_examples_failed)
)PY";
  std::string cmd = std::string(python) + " -I -S " + script + " " + data + " 2>&1";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  ASSERT_EQ(pclose(pipe), 0) << out;
  size_t pos = out.find("RESULT ");
  ASSERT_NE(pos, std::string::npos) << out;
  size_t ok = 0, bad = 0, self_ok = 0, self_total = 0, wrong_failed = 0, wrong_total = 0, bugs = 0,
         bug_hidden_failed = 0, bug_examples_failed = 0;
  ASSERT_EQ(std::sscanf(out.c_str() + pos, "RESULT %zu %zu %zu %zu %zu %zu %zu %zu %zu", &ok, &bad,
                        &self_ok, &self_total, &wrong_failed, &wrong_total, &bugs,
                        &bug_hidden_failed, &bug_examples_failed),
            9)
      << out;
  std::printf(
      "python: typical slips fail the hidden tests %zu/%zu, the docstring examples %zu/%zu\n",
      bug_hidden_failed, bugs, bug_examples_failed, bugs);
  EXPECT_EQ(bugs, 23u * 3 * 30);  // 23 of 26 templates have one; 30 tasks each per split
  EXPECT_GT(bug_hidden_failed, bugs * 95 / 100);
  EXPECT_GT(bug_examples_failed, bugs * 80 / 100);
  std::printf(
      "python: %zu/%zu canonical pass; self tests valid %zu/%zu; other-parameter "
      "solutions fail hidden tests %zu/%zu\n",
      ok, ok + bad, self_ok, self_total, wrong_failed, wrong_total);
  EXPECT_EQ(bad, 0u) << out.substr(0, 2000);
  EXPECT_EQ(ok, tasks.size());
  EXPECT_EQ(self_total, self_tests);
  EXPECT_EQ(self_ok, self_total);  // every SFT test target passes the canonical solution
  EXPECT_GT(wrong_failed, wrong_total * 8 / 10);  // hidden tests reject other parameters
}

}  // namespace
}  // namespace dstc::toy
