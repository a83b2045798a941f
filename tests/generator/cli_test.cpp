// `dstc model init|info|generate` and `dstc serve model` through the real executable.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/json.h"
#include "generator/openai.h"

namespace dstc::generator {
namespace {
namespace fs = std::filesystem;

struct CmdResult {
  int code = -1;
  std::string out;
};

CmdResult run(const std::string& args) {
  CmdResult r;
  std::string cmd = std::string(DSTC_BINARY) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string golden(const std::string& name) {
  return std::string(DSTC_SOURCE_DIR) + "/tests/generator/data/" + name;
}

class CliIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(DSTC_BINARY)) GTEST_SKIP() << "dstc binary not built: " << DSTC_BINARY;
    dir_ = fs::temp_directory_path() / ("dstc-cli-model-" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CliIntegration, ModelGenerateMatchesGoldens) {
  CmdResult r =
      run("model generate --model " + golden("tiny-qwen2") +
          " --ids 1,161,84,73,141 --max-new-tokens 16 --greedy --ignore-eos --logits --stats");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = parse_json(r.out, "stdout");
  ASSERT_TRUE(j.has_value()) << r.out;
  EXPECT_EQ((*j)["ids"].get<std::vector<int>>(),
            (std::vector<int>{58, 87, 226, 41, 33, 203, 169, 114, 226, 114, 226, 287, 107, 114, 226,
                              287}));
  EXPECT_EQ((*j)["logits"].size(), 320u);
  EXPECT_TRUE((*j)["tokens_per_s"].is_number());
  // Bad ids: usage error (exit 2).
  EXPECT_EQ(run("model generate --model " + golden("tiny-qwen2") + " --ids 1,x").code, 2);
  EXPECT_EQ(run("model generate --model " + golden("tiny-qwen2") + " --ids 1,5000").code, 2);
}

TEST_F(CliIntegration, ModelInitInfoGenerate) {
  std::string out = (dir_ / "m").string();
  CmdResult r =
      run("model init --arch qwen2 --hidden 32 --layers 2 --heads 4 --kv-heads 2 "
          "--intermediate 48 --vocab 100 --seed 3 --out " +
          out);
  ASSERT_EQ(r.code, 0) << r.out;
  CmdResult info = run("model info " + out);
  ASSERT_EQ(info.code, 0);
  auto j = parse_json(info.out, "info");
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ((*j)["arch"], "qwen2");
  EXPECT_EQ((*j)["config"]["num_key_value_heads"], 2);
  CmdResult g1 = run("model generate --model " + out +
                     " --ids 1,5,9 --max-new-tokens 5 --greedy "
                     "--ignore-eos");
  CmdResult g2 = run("model generate --model " + out +
                     " --ids 1,5,9 --max-new-tokens 5 --greedy "
                     "--ignore-eos");
  ASSERT_EQ(g1.code, 0);
  EXPECT_EQ(g1.out, g2.out);
  EXPECT_EQ((*parse_json(g1.out, "g"))["ids"].size(), 5u);
  // Same seed, same weights.
  std::string out2 = (dir_ / "m2").string();
  ASSERT_EQ(run("model init --arch qwen2 --hidden 32 --layers 2 --heads 4 --kv-heads 2 "
                "--intermediate 48 --vocab 100 --seed 3 --out " +
                out2)
                .code,
            0);
  EXPECT_EQ(run("model generate --model " + out2 +
                " --ids 1,5,9 --max-new-tokens 5 --greedy "
                "--ignore-eos")
                .out,
            g1.out);
  EXPECT_EQ(run("model init --arch gpt2 --out " + out).code, 2);
  EXPECT_NE(run("model info " + (dir_ / "nope").string()).code, 0);
}

TEST_F(CliIntegration, ServeModelAnswersCompletions) {
  // Start `dstc serve model` on an ephemeral port and read the URL it prints.
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    execl(DSTC_BINARY, DSTC_BINARY, "serve", "model", "--model", golden("tiny-qwen2").c_str(),
          "--listen", "127.0.0.1:0", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipefd[1]);
  std::string line;
  char ch;
  while (read(pipefd[0], &ch, 1) == 1 && ch != '\n') line += ch;
  close(pipefd[0]);
  auto j = parse_json(line, "serve stdout");
  ASSERT_TRUE(j.has_value()) << line;
  OpenAIClientOptions o;
  o.base_url = (*j)["listening"].get<std::string>();
  auto client = OpenAIClient::create(o);
  ASSERT_TRUE(client.has_value());
  SamplingParams p;
  p.greedy = true;
  p.max_new_tokens = 4;
  p.ignore_eos = true;
  auto out = (*client)->generate({Prompt::from_ids({1, 161, 84, 73, 141})}, p);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(out.has_value()) << out.error().message();
  EXPECT_EQ((*out)[0][0].ids, (std::vector<int32_t>{58, 87, 226, 41}));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace dstc::generator
