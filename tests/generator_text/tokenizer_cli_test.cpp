// `dstc tokenizer encode|decode|train` through the built executable.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "common/file.h"
#include "common/json.h"
#include "generator/text/tokenizer.h"

namespace dstc::generator {
namespace {

const std::string kData = std::string(DSTC_SOURCE_DIR) + "/tests/generator_text/data/";

struct CliRun {
  int code;
  std::string out;
};

CliRun run_dstc(const std::string& args, const std::string& stdin_text = "") {
  std::string dir = testing::TempDir();
  std::string in = dir + "/cli_in.txt", out = dir + "/cli_out.txt";
  EXPECT_TRUE(write_file_atomic(in, stdin_text));
  std::string cmd = std::string(DSTC_BINARY) + " " + args + " < " + in + " > " + out + " 2>&1";
  int status = std::system(cmd.c_str());
  auto text = read_file(out);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text ? *text : ""};
}

class TokenizerCliIntegration : public testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(DSTC_BINARY)) {
      GTEST_SKIP() << "dstc executable not built at " << DSTC_BINARY;
    }
  }
};

TEST_F(TokenizerCliIntegration, EncodeAndDecode) {
  std::string tok = kData + "gpt2_tokenizer.json.gz";
  CliRun enc = run_dstc("tokenizer encode --tokenizer " + tok + " --text 'Hello world'");
  ASSERT_EQ(enc.code, 0) << enc.out;
  EXPECT_EQ(enc.out, "{\"ids\":[15496,995]}\n");
  CliRun from_stdin = run_dstc("tokenizer encode --tokenizer " + tok, "Hello world");
  EXPECT_EQ(from_stdin.out, "{\"ids\":[15496,995]}\n");
  CliRun dec = run_dstc("tokenizer decode --tokenizer " + tok, "{\"ids\": [15496, 995, 50256]}");
  ASSERT_EQ(dec.code, 0) << dec.out;
  EXPECT_EQ(dec.out, "{\"text\":\"Hello world<|endoftext|>\"}\n");
  CliRun skip =
      run_dstc("tokenizer decode --skip-special --tokenizer " + tok + " --ids 15496,50256");
  EXPECT_EQ(skip.out, "{\"text\":\"Hello\"}\n");
  CliRun bad = run_dstc("tokenizer decode --tokenizer " + tok + " --ids 1,99999999");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("99999999"), std::string::npos);
  CliRun missing = run_dstc("tokenizer encode --tokenizer /nonexistent.json --text x");
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.out.find("/nonexistent.json"), std::string::npos);
}

TEST_F(TokenizerCliIntegration, TrainWritesLoadableTokenizer) {
  std::string dir = testing::TempDir() + "/cli_train";
  std::filesystem::create_directories(dir);
  std::string corpus;
  for (int i = 0; i < 30; ++i) {
    corpus += Json{{"prompt", "def f" + std::to_string(i) + "(x):\n"},
                   {"solution", "    return x * " + std::to_string(i) + "\n"},
                   {"n", i}}
                  .dump() +
              "\n";
  }
  ASSERT_TRUE(write_file_atomic(dir + "/corpus.jsonl", corpus));
  CliRun train = run_dstc("tokenizer train --input " + dir +
                          "/corpus.jsonl --vocab-size 280 --special "
                          "'<|endoftext|>' --special '<|pad|>' --out " +
                          dir + "/tokenizer.json");
  ASSERT_EQ(train.code, 0) << train.out;
  auto summary = parse_json(train.out, "train output");
  ASSERT_TRUE(summary) << train.out;
  EXPECT_EQ((*summary)["documents"], 60);  // two string fields per line
  auto tok = Tokenizer::from_file(dir);
  ASSERT_TRUE(tok) << tok.error().message();
  EXPECT_EQ(tok->vocab_size(), (*summary)["vocab_size"].get<int>());
  EXPECT_EQ(tok->eos_id(), 0);
  EXPECT_EQ(tok->token_to_id("<|pad|>"), 1);
  std::string text = "def f7(x):\n    return x * 7\n";
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
  CliRun bad = run_dstc("tokenizer train --input " + dir + "/corpus.jsonl --vocab-size 10 --out " +
                        dir + "/t2.json");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("vocab size 10"), std::string::npos);
}

}  // namespace
}  // namespace dstc::generator
