#include "cli/run_config.h"

#include <gtest/gtest.h>

#include <sstream>

namespace dstc::cli {
namespace {

TEST(RunConfigTest, DumpParsesBackToTheSameConfig) {
  RunConfig c;
  c.run.name = "x";
  c.generate.temperature = 0.35;
  c.execute.servers = {"http://a:1", "http://b:2"};
  c.select.skip_same_code = true;
  auto parsed = parse_run_config(dump_run_config(c), "dump");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(diff_run_configs(c, *parsed).empty());
  EXPECT_EQ(parsed->execute.servers.size(), 2u);
  EXPECT_DOUBLE_EQ(parsed->generate.temperature, 0.35);
}

TEST(RunConfigTest, EveryKeyHasADefaultAndAComment) {
  std::string dump = dump_run_config(RunConfig{});
  std::istringstream in(dump);
  std::string line;
  size_t keys = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '[') continue;
    ++keys;
    EXPECT_NE(line.find(" = "), std::string::npos) << line;
    EXPECT_NE(line.find("  # "), std::string::npos) << "no comment: " << line;
  }
  EXPECT_GT(keys, 30u);
}

TEST(RunConfigTest, UnknownKeysAndSectionsAreNamed) {
  auto r = parse_run_config("[train]\nbetta = 0.1\n", "my.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("my.toml: unknown key 'train.betta'"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("beta"), std::string::npos);  // lists the real keys

  auto s = parse_run_config("[trian]\nbeta = 0.1\n", "my.toml");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("unknown section 'trian'"), std::string::npos);
}

TEST(RunConfigTest, WrongTypesAndBadValuesAreNamed) {
  auto r = parse_run_config("[generate]\ncodes = \"eight\"\n", "c.toml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("generate.codes must be an integer"), std::string::npos)
      << r.error().message();
  auto t = parse_run_config("[generate]\ntop_p = 1.5\n", "c.toml");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("generate.top_p"), std::string::npos);
  auto u = parse_run_config("[model]\nbackend = \"openai\"\n", "c.toml");
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message().find("model.url"), std::string::npos);
  auto v = parse_run_config("[run\n", "c.toml");
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("c.toml:1"), std::string::npos) << v.error().message();
  // Integers are accepted where numbers are expected.
  auto w = parse_run_config("[train]\nbeta = 1\n", "c.toml");
  ASSERT_TRUE(w);
  EXPECT_DOUBLE_EQ(w->train.beta, 1.0);
}

TEST(RunConfigTest, CompareVariantsNeedABuiltSelectorAndAKnownLoss) {
  auto ok = parse_run_config("[compare]\nvariants = [\"oracle\", \"dstc:kto\", \"random:ipo\"]\n",
                             "c.toml");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(split_variant("dstc:kto"), std::make_pair(std::string("dstc"), std::string("kto")));
  EXPECT_EQ(split_variant("oracle"), std::make_pair(std::string("oracle"), std::string()));
  // codet is not among select.ablations by default: its pairs are never built.
  auto unbuilt = parse_run_config("[compare]\nvariants = [\"codet\"]\n", "c.toml");
  ASSERT_FALSE(unbuilt);
  EXPECT_NE(unbuilt.error().message().find("compare.variants \"codet\""), std::string::npos)
      << unbuilt.error().message();
  auto loss = parse_run_config("[compare]\nvariants = [\"dstc:ppo\"]\n", "c.toml");
  ASSERT_FALSE(loss);
  EXPECT_NE(loss.error().message().find("unknown loss 'ppo'"), std::string::npos);
  auto twice = parse_run_config("[compare]\nvariants = [\"random\", \"random\"]\n", "c.toml");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message().find("twice"), std::string::npos);
}

TEST(RunConfigTest, DiffNamesChangedKeys) {
  RunConfig a, b;
  b.train.lr = 3e-4;
  b.select.ablations = {"random"};
  auto d = diff_run_configs(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].rfind("select.ablations:", 0), 0u);
  EXPECT_EQ(d[1].rfind("train.lr:", 0), 0u);
}

TEST(RunConfigTest, EmbeddedDefaultIsTheToyConfig) {
  auto c = parse_run_config(embedded_default_config(), "embedded");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->data.train, "toy");
  EXPECT_TRUE(diff_run_configs(*c, RunConfig{}).empty())
      << "configs/toy.toml differs from the compiled-in defaults; regenerate it with "
         "`dstc run --print-config > configs/toy.toml`";
}

}  // namespace
}  // namespace dstc::cli
