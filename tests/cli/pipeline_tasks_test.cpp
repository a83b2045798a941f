// Prompt sources of `dstc run` (cli/pipeline_tasks.h): JSONL prompts files with their
// errors, benchmark files for evaluation, and the queries and program extraction of each
// prompt format. No model and no sandbox: what the stages would send and run.
#include "cli/pipeline_tasks.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/store/test_util.h"

namespace dstc::cli {
namespace {

const std::string kData = std::string(DSTC_SOURCE_DIR) + "/tests/cli/data";

std::string write(const store::testing::TempDir& tmp, const std::string& name,
                  const std::string& text) {
  std::string path = tmp.sub(name);
  std::ofstream(path) << text;
  return path;
}

RunConfig file_config(const std::string& format) {
  RunConfig c;
  c.base_dir = kData;
  c.model.path = "../../../models/toy";
  c.model.prompt_format = format;
  c.data.train = "tiny_prompts.jsonl";
  c.data.train_count = 6;
  c.data.eval = "tiny_humaneval.jsonl";
  return c;
}

TEST(PromptFile, LoadsRecordsWithDefaultsForOptionalFields) {
  auto tasks = load_prompt_file(kData + "/tiny_prompts.jsonl");
  ASSERT_TRUE(tasks) << tasks.error().message();
  ASSERT_EQ(tasks->size(), 8u);
  EXPECT_EQ((*tasks)[0].task_id, "tiny/0");
  EXPECT_EQ((*tasks)[0].entry_point, "affine");
  EXPECT_EQ((*tasks)[0].canonical, (*tasks)[0].prompt + "    return x * 4 + 7\n");
  EXPECT_NE((*tasks)[0].test.find("def check(candidate)"), std::string::npos);
  EXPECT_TRUE((*tasks)[6].test.empty());
  EXPECT_TRUE((*tasks)[6].canonical.empty());
  // Line 8 has only a prompt: its id comes from the file and line, its entry point from
  // the prompt's def.
  EXPECT_EQ((*tasks)[7].task_id, "tiny_prompts.jsonl/8");
  EXPECT_FALSE((*tasks)[7].entry_point.empty());
  EXPECT_NE((*tasks)[7].prompt.find("def " + (*tasks)[7].entry_point + "("), std::string::npos);
}

TEST(PromptFile, ErrorsNameFileLineAndField) {
  store::testing::TempDir tmp;
  const std::string good = R"({"task_id": "a", "prompt": "def f(x):\n    pass\n"})";
  struct Case {
    std::string second_line;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"task_id": "b"})", "field 'prompt'"},
           {R"({"task_id": "b", "prompt": 3})", "field 'prompt'"},
           {R"({"task_id": 7, "prompt": "def g():\n  pass\n"})", "field 'task_id'"},
           {R"({"task_id": "a", "prompt": "def g():\n  pass\n"})", "repeats the task of line 1"},
           {R"({"prompt": "x = 1\n"})", "field 'entry_point'"},
           {R"({"prompt": "def g():\n  pass\n", "entry_point": "g h"})", "field 'entry_point'"},
           {R"({"prompt": "def g():\n  pass\n", "test": "assert g() == 1"})", "field 'test'"},
           {R"({"prompt": "def g():\n", )", "invalid JSON"},
       }) {
    std::string path = write(tmp, "p.jsonl", good + "\n" + c.second_line + "\n");
    auto r = load_prompt_file(path);
    ASSERT_FALSE(r) << c.second_line;
    EXPECT_NE(r.error().message().find(path + ":2"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(c.expected), std::string::npos) << r.error().message();
  }
  auto missing = load_prompt_file(tmp.sub("absent.jsonl"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("absent.jsonl"), std::string::npos);
  auto empty = load_prompt_file(write(tmp, "empty.jsonl", "\n"));
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message().find("no prompts"), std::string::npos);
}

TEST(PromptFile, ConfigErrorsNameTheKey) {
  RunConfig c = file_config("toy");
  c.data.train = "no_such_file.jsonl";
  auto r = training_tasks(c, 0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("data.train"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(kData + "/no_such_file.jsonl"), std::string::npos);

  c = file_config("toy");
  c.data.eval = "tasks.jsonl";
  auto unnamed = evaluation_tasks(c);
  ASSERT_FALSE(unnamed);
  EXPECT_NE(unnamed.error().message().find("data.eval_benchmark"), std::string::npos);
  c.data.eval = "HumanEvalPlus-v0.1.10.jsonl.gz";
  auto plus = evaluation_tasks(c);
  ASSERT_FALSE(plus);
  EXPECT_NE(plus.error().message().find("dstc eval"), std::string::npos);
}

TEST(PromptFile, RoundsTakeWrappingWindows) {
  RunConfig c = file_config("toy");
  auto ids = [&](uint32_t round) {
    std::vector<std::string> out;
    auto tasks = training_tasks(c, round);
    EXPECT_TRUE(tasks);
    for (const auto& t : tasks.value()) out.push_back(t.task_id);
    return out;
  };
  EXPECT_EQ(ids(0),
            (std::vector<std::string>{"tiny/0", "tiny/1", "tiny/2", "tiny/3", "tiny/4", "tiny/5"}));
  EXPECT_EQ(ids(1), (std::vector<std::string>{"tiny/6", "tiny_prompts.jsonl/8", "tiny/0", "tiny/1",
                                              "tiny/2", "tiny/3"}));
  c.data.train_count = 100;  // more than the file holds: all of it, every round
  EXPECT_EQ(ids(3).size(), 8u);
  EXPECT_EQ(ids(3).front(), "tiny/0");
}

TEST(PromptFile, ToyFormatMatchesTheToyWorld) {
  auto tasks = training_tasks(file_config("toy"), 0);
  ASSERT_TRUE(tasks) << tasks.error().message();
  const PipelineTask& t = (*tasks)[0];
  EXPECT_EQ(t.code_query, t.prompt + "# code\n");
  EXPECT_EQ(t.test_query, t.prompt + "# test\n");
  EXPECT_EQ(t.test_stops, std::vector<std::string>{"\n"});
  EXPECT_EQ(t.code_program("def affine(x):\n    return x * 4 + 7\nassert affine(1) == 11\n"),
            "def affine(x):\n    return x * 4 + 7\n");
  EXPECT_EQ(t.code_program("def other(x):\n    return x\n"), "");
  EXPECT_EQ(t.test_program("assert affine(1) == 11"), "assert affine(1) == 11\n");
  EXPECT_TRUE(t.has_hidden_tests());
  // HumanEval's program (benchmarks/programs.h; the code travels base64-encoded).
  EXPECT_NE(t.hidden_program("def affine(x): pass\n").find("_dstc_quiet"), std::string::npos);
  EXPECT_EQ(t.canonical_program(), t.prompt + "    return x * 4 + 7\n");
  auto p = t.to_problem("train");
  EXPECT_EQ(p.canonical_solution, "    return x * 4 + 7\n");
  EXPECT_EQ(p.hidden_tests, t.bench->test);
  // Without ground truth nothing is run against it.
  auto round1 = training_tasks(file_config("toy"), 1);
  ASSERT_TRUE(round1);
  const PipelineTask& bare = (*round1)[0];
  EXPECT_EQ(bare.task_id, "tiny/6");
  EXPECT_FALSE(bare.has_hidden_tests());
  EXPECT_EQ(bare.hidden_program("def f(): pass\n"), "");
  EXPECT_EQ(bare.canonical_program(), "");
}

TEST(PromptFile, ChatFormatAsksThroughTheTemplateAndReadsFencedBlocks) {
  auto tasks = training_tasks(file_config("chatml"), 0);
  ASSERT_TRUE(tasks) << tasks.error().message();
  const PipelineTask& t = (*tasks)[0];
  EXPECT_EQ(t.style, PromptStyle::kChat);
  EXPECT_EQ(t.code_query.rfind("<|im_start|>user\n", 0), 0u) << t.code_query;
  EXPECT_NE(t.code_query.find("`affine`"), std::string::npos);
  EXPECT_NE(t.code_query.find("<|im_start|>assistant\n"), std::string::npos);
  EXPECT_NE(t.test_query.find("assert affine"), std::string::npos);
  EXPECT_EQ(t.code_stops, std::vector<std::string>{"<|im_end|>"});
  std::string code = t.code_program(
      "Here it is:\n```python\ndef affine(x):\n    return 4 * x + 7\n\nprint(affine(2))\n```\n");
  EXPECT_EQ(code, "def affine(x):\n    return 4 * x + 7\n");
  EXPECT_EQ(t.code_program("```python\ndef helper(x):\n    return x\n```"), "");
  std::string test = t.test_program(
      "```python\ndef affine(x):\n    return 0\n\nassert affine(1) == 11\nassert affine(0) == "
      "7\n```");
  EXPECT_EQ(test.find("def affine"), std::string::npos) << test;
  EXPECT_NE(test.find("assert affine(1) == 11"), std::string::npos) << test;
  EXPECT_EQ(t.test_program("no tests here"), "");
}

TEST(PromptFile, PlainFormatContinuesThePrompt) {
  auto tasks = training_tasks(file_config("plain"), 0);
  ASSERT_TRUE(tasks) << tasks.error().message();
  const PipelineTask& t = (*tasks)[0];
  EXPECT_EQ(t.style, PromptStyle::kPlain);
  EXPECT_EQ(t.code_query, t.prompt);
  EXPECT_NE(t.test_query.find("# Tests for affine\n"), std::string::npos);
  EXPECT_EQ(t.code_program("    return x * 4 + 7\n\ndef unrelated():\n    pass\n"),
            t.prompt + "    return x * 4 + 7\n");
  EXPECT_NE(t.test_program("assert affine(1) == 11\nassert affine(2) == 15\n")
                .find("assert affine(2) == 15"),
            std::string::npos);
}

TEST(PromptFile, AutoFormatReadsTheCheckpointsChatTemplate) {
  store::testing::TempDir tmp;
  RunConfig c = file_config("auto");
  // The toy model has no chat template: plain.
  auto plain = training_tasks(c, 0);
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ((*plain)[0].style, PromptStyle::kPlain);
  write(
      tmp, "tokenizer_config.json",
      R"({"chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"})");
  c.model.path = tmp.path();
  auto chat = training_tasks(c, 0);
  ASSERT_TRUE(chat) << chat.error().message();
  EXPECT_EQ((*chat)[0].style, PromptStyle::kChat);
  EXPECT_EQ((*chat)[0].chat, generator::ChatFormat::kChatMl);
  c.model.path = tmp.sub("missing");
  auto missing = training_tasks(c, 0);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("model.prompt_format"), std::string::npos);
  // The toy world keeps the toy format under auto.
  RunConfig toy;
  toy.data.train_count = 2;
  auto toy_tasks = training_tasks(toy, 0);
  ASSERT_TRUE(toy_tasks);
  EXPECT_EQ((*toy_tasks)[0].style, PromptStyle::kToy);
}

TEST(PromptFile, BenchmarkEvaluationAsksWhatDstcEvalAsks) {
  RunConfig c = file_config("plain");
  c.data.eval_count = 4;
  auto tasks = evaluation_tasks(c);
  ASSERT_TRUE(tasks) << tasks.error().message();
  ASSERT_EQ(tasks->size(), 4u);
  EXPECT_EQ(*evaluation_benchmark(c), "humaneval");
  const PipelineTask& t = (*tasks)[0];
  EXPECT_TRUE(t.benchmark_eval);
  EXPECT_EQ(t.code_query, t.prompt);  // completion mode
  EXPECT_FALSE(t.code_stops.empty());
  std::string program = t.score_program("    return 0\n\n\ndef demo():\n    pass\n");
  EXPECT_NE(program.find("_dstc_quiet"), std::string::npos);  // benchmarks/programs.h
  EXPECT_EQ(t.hidden_timeout, 3.0);

  c.model.prompt_format = "chatml";
  auto chat = evaluation_tasks(c);
  ASSERT_TRUE(chat);
  EXPECT_NE((*chat)[0].code_query.find("```python\n"), std::string::npos);
  EXPECT_EQ((*chat)[0].code_query.substr((*chat)[0].code_query.size() - 10), "```python\n");

  RunConfig toy;
  EXPECT_EQ(*evaluation_benchmark(toy), "toy-eval");
}

}  // namespace
}  // namespace dstc::cli
