// Golden ids from the Hugging Face Rust tokenizers (../shared/goldens, copied into
// tests/generator_text/data/ with the tokenizer files): every line must match exactly.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/file.h"
#include "common/json.h"
#include "generator/text/tokenizer.h"

namespace dstc::generator {
namespace {

const std::string kData = std::string(DSTC_SOURCE_DIR) + "/tests/generator_text/data/";

struct GoldenLine {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::string decoded;
  std::string decoded_skip_special;
};

std::vector<GoldenLine> load_goldens(const std::string& path) {
  auto text = read_file(path);
  EXPECT_TRUE(text.has_value()) << path;
  std::vector<GoldenLine> lines;
  if (!text) return lines;
  auto s = for_each_jsonl(*text, path, [&](size_t, const Json& obj) -> Status {
    GoldenLine g;
    g.text = obj["text"].get<std::string>();
    g.ids = obj["ids"].get<std::vector<int32_t>>();
    g.tokens = obj["tokens"].get<std::vector<std::string>>();
    g.decoded = obj["decoded"].get<std::string>();
    g.decoded_skip_special = obj.value("decoded_skip_special", g.decoded);
    lines.push_back(std::move(g));
    return {};
  });
  EXPECT_TRUE(s.has_value());
  return lines;
}

// Loaded once per process: the Qwen file is 11 MB of JSON.
const Tokenizer& tokenizer(const std::string& name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    auto tok = Tokenizer::from_file(kData + name + "_tokenizer.json.gz");
    if (!tok) {
      ADD_FAILURE() << tok.error().message();
      std::abort();
    }
    it = cache.emplace(name, std::move(*tok)).first;
  }
  return it->second;
}

void check_goldens(const std::string& name) {
  const Tokenizer& tok = tokenizer(name);
  auto lines = load_goldens(kData + "tokenizer_" + name + ".jsonl");
  ASSERT_EQ(lines.size(), 257u);
  size_t ok_ids = 0, ok_decode = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const GoldenLine& g = lines[i];
    auto ids = tok.encode(g.text);
    EXPECT_EQ(ids, g.ids) << name << " line " << i + 1 << ": " << g.text;
    ok_ids += ids == g.ids;
    std::vector<std::string> tokens;
    for (int32_t id : g.ids) tokens.push_back(tok.id_to_token(id).value_or("<unknown>"));
    EXPECT_EQ(tokens, g.tokens) << name << " line " << i + 1;
    std::string decoded = tok.decode(g.ids);
    EXPECT_EQ(decoded, g.decoded) << name << " line " << i + 1;
    EXPECT_EQ(tok.decode(g.ids, /*skip_special=*/true), g.decoded_skip_special)
        << name << " line " << i + 1;
    ok_decode += decoded == g.decoded;
  }
  EXPECT_EQ(ok_ids, lines.size());
  EXPECT_EQ(ok_decode, lines.size());
}

TEST(TokenizerGolden, Gpt2AllLines) { check_goldens("gpt2"); }

TEST(TokenizerGolden, Qwen3AllLines) { check_goldens("qwen3"); }

TEST(TokenizerGolden, PublishedIds) {
  EXPECT_EQ(tokenizer("gpt2").encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(tokenizer("qwen3").encode("Hello world"), (std::vector<int32_t>{9707, 1879}));
  EXPECT_EQ(tokenizer("qwen3").encode(" Hello world"), (std::vector<int32_t>{21927, 1879}));
  EXPECT_EQ(tokenizer("qwen3").encode("def add(a, b):\n    return a + b\n"),
            (std::vector<int32_t>{750, 912, 2877, 11, 293, 982, 262, 470, 264, 488, 293, 198}));
  EXPECT_EQ(tokenizer("qwen3").encode("x = 12345"),
            (std::vector<int32_t>{87, 284, 220, 16, 17, 18, 19, 20}));
}

TEST(TokenizerGolden, ParseSpecialOffKeepsControlTokensAsText) {
  const Tokenizer& tok = tokenizer("qwen3");
  auto parsed = tok.encode("a<|im_end|>b");
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[1], 151645);
  auto literal = tok.encode("a<|im_end|>b", false, /*parse_special=*/false);
  for (int32_t id : literal) EXPECT_FALSE(tok.is_special(id)) << id;
  EXPECT_EQ(tok.decode(literal), "a<|im_end|>b");
  // <think> is an added token with special=false: still matched, kept by skip_special.
  auto think = tok.encode("<think>x", false, false);
  EXPECT_EQ(think.front(), *tok.token_to_id("<think>"));
  EXPECT_EQ(tok.decode(think, true), "<think>x");
}

TEST(TokenizerGolden, ConfigGivesEosAndTemplate) {
  auto tok = Tokenizer::from_file(kData + "qwen3_tokenizer.json.gz");
  ASSERT_TRUE(tok) << tok.error().message();
  auto config_text = read_file(kData + "qwen3_tokenizer_config.json");
  ASSERT_TRUE(config_text);
  auto config = parse_json(*config_text, "config");
  ASSERT_TRUE(config);
  ASSERT_TRUE(tok->apply_config(*config));
  EXPECT_EQ(tok->eos_id(), 151645);  // <|im_end|>
  EXPECT_EQ(tok->pad_id(), 151643);
  EXPECT_FALSE(tok->bos_id().has_value());
  EXPECT_NE(tok->chat_template().find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(tok->vocab_size(), 151669);
}

}  // namespace
}  // namespace dstc::generator
