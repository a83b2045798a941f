// Tokenizer behaviour on small synthetic tokenizer.json files built here.
#include "generator/text/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/json.h"
#include "generator/text/bpe_trainer.h"
#include "generator/text/unicode.h"

namespace dstc::generator {
namespace {

// A byte-level tokenizer: ids 0..255 are the byte symbols (in byte order), then one id
// per merge. `merges` are pairs of byte-level strings.
Json synthetic(const std::vector<std::pair<std::string, std::string>>& merges,
               bool string_merges = false) {
  Json vocab = Json::object();
  const auto& table = byte_to_unicode();
  for (int b = 0; b < 256; ++b) vocab[table[b]] = b;
  Json merge_list = Json::array();
  int next = 256;
  for (const auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
    merge_list.push_back(string_merges ? Json(a + " " + b) : Json::array({a, b}));
  }
  return {
      {"version", "1.0"},
      {"added_tokens", Json::array()},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}, {"ignore_merges", false}}}};
}

Tokenizer load(const Json& j) {
  auto tok = Tokenizer::from_json_text(j.dump(), "synthetic");
  EXPECT_TRUE(tok) << (tok ? "" : tok.error().message());
  return tok ? std::move(*tok) : Tokenizer();
}

const std::vector<std::pair<std::string, std::string>> kMerges = {
    {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}};

TEST(Tokenizer, MergesAsStringsAndPairsAgree) {
  Tokenizer pairs = load(synthetic(kMerges, false));
  Tokenizer strings = load(synthetic(kMerges, true));
  for (std::string text : {"hello world", "hellohello", "shell", "worldwide hello"}) {
    EXPECT_EQ(pairs.encode(text), strings.encode(text)) << text;
  }
  auto ids = pairs.encode("hello world");
  ASSERT_EQ(ids.size(), 4u);  // hello, Ġwor, l, d
  EXPECT_EQ(*pairs.id_to_token(ids[0]), "hello");
  EXPECT_EQ(*pairs.id_to_token(ids[1]), "Ġwor");
  EXPECT_EQ(pairs.decode(ids), "hello world");
}

TEST(Tokenizer, LowestRankMergesFirst) {
  // "a b" (rank 0) beats "b c" (rank 1): "abc" -> ab, c.
  Tokenizer tok = load(synthetic({{"a", "b"}, {"b", "c"}}));
  auto ids = tok.encode("abc");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(*tok.id_to_token(ids[0]), "ab");
  Tokenizer rev = load(synthetic({{"b", "c"}, {"a", "b"}}));
  ids = rev.encode("abc");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(*rev.id_to_token(ids[1]), "bc");
  // Repeated pairs merge left to right: "aaa" -> aa, a.
  Tokenizer aa = load(synthetic({{"a", "a"}}));
  ids = aa.encode("aaa");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(*aa.id_to_token(ids[0]), "aa");
}

TEST(Tokenizer, IgnoreMergesEmitsWholeVocabWords) {
  Json j = synthetic({{"h", "e"}});
  j["model"]["vocab"]["hey"] = 300;
  Tokenizer plain = load(j);
  EXPECT_EQ(plain.encode("hey").size(), 2u);  // he, y: no merge builds "hey"
  j["model"]["ignore_merges"] = true;
  Tokenizer ignoring = load(j);
  EXPECT_EQ(ignoring.encode("hey"), std::vector<int32_t>{300});
}

TEST(Tokenizer, AddedTokensStripAndSpecialFlags) {
  Json j = synthetic(kMerges);
  j["added_tokens"] = Json::array(
      {{{"id", 500}, {"content", "<eos>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}},
       {{"id", 501}, {"content", "<tag>"}, {"special", false}},
       {{"id", 502}, {"content", "<tag>x"}, {"special", false}}});
  Tokenizer tok = load(j);
  // lstrip/rstrip swallow the spaces around <eos>.
  auto ids = tok.encode("hello  <eos>  hello");
  EXPECT_EQ(ids, (std::vector<int32_t>{tok.encode("hello")[0], 500, tok.encode("hello")[0]}));
  // Longest added token wins at a position.
  EXPECT_EQ(tok.encode("<tag>x"), std::vector<int32_t>{502});
  EXPECT_EQ(tok.decode({500, 501}), "<eos><tag>");
  EXPECT_EQ(tok.decode({500, 501}, /*skip_special=*/true), "<tag>");
  EXPECT_TRUE(tok.is_special(500));
  EXPECT_FALSE(tok.is_special(501));
  EXPECT_EQ(tok.eos_id(), std::nullopt);  // "<eos>" is not one of the guessed names
  EXPECT_EQ(tok.vocab_size(), 503);
}

TEST(Tokenizer, TemplateProcessingAddsBosOnlyWhenAsked) {
  Json j = synthetic(kMerges);
  j["added_tokens"] = Json::array({{{"id", 400}, {"content", "<s>"}, {"special", true}}});
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", Json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {400}}, {"tokens", {"<s>"}}}}}}};
  Tokenizer tok = load(j);
  auto plain = tok.encode("hello");
  auto with = tok.encode("hello", /*add_special=*/true);
  ASSERT_EQ(with.size(), plain.size() + 1);
  EXPECT_EQ(with[0], 400);
  ASSERT_TRUE(tok.apply_config(Json{{"bos_token", "<s>"}}));
  EXPECT_EQ(tok.bos_id(), 400);
}

TEST(Tokenizer, SplitBehaviours) {
  auto with_split = [](const std::string& behavior, bool invert) {
    Json j = synthetic({});
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         Json::array(
             {{{"type", "Split"},
               {"pattern", {{"String", "-"}}},
               {"behavior", behavior},
               {"invert", invert}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
    j["model"]["vocab"]["ab"] = 300;
    j["model"]["vocab"]["ab-"] = 301;
    j["model"]["vocab"]["-ab"] = 302;
    j["model"]["ignore_merges"] = true;  // whole pieces that are vocab words come out as one id
    return load(j);
  };
  EXPECT_EQ(with_split("Removed", false).encode("ab-ab"), (std::vector<int32_t>{300, 300}));
  EXPECT_EQ(with_split("MergedWithPrevious", false).encode("ab-ab"),
            (std::vector<int32_t>{301, 300}));
  EXPECT_EQ(with_split("MergedWithNext", false).encode("ab-ab"), (std::vector<int32_t>{300, 302}));
  EXPECT_EQ(with_split("Isolated", false).encode("ab-ab"), (std::vector<int32_t>{300, '-', 300}));
}

TEST(Tokenizer, InvalidUtf8BecomesReplacementCharacter) {
  Tokenizer tok = load(synthetic(kMerges));
  auto ids =
      tok.encode(std::string("a\xFF"
                             "b",
                             3));
  EXPECT_EQ(tok.decode(ids),
            "a\xEF\xBF\xBD"
            "b");
  // A token that holds half a character decodes to U+FFFD, never to invalid UTF-8.
  EXPECT_EQ(tok.decode({0xC3}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({0xC3, 0xA9}), "\xC3\xA9");
  EXPECT_EQ(tok.token_bytes(0xC3), std::string("\xC3"));
  EXPECT_EQ(tok.decode({99999}), "\xEF\xBF\xBD");
  EXPECT_FALSE(tok.id_to_token(99999).has_value());
}

TEST(Tokenizer, LoadErrorsNameTheField) {
  auto no_model = Tokenizer::from_json_text("{}", "x.json");
  ASSERT_FALSE(no_model);
  EXPECT_NE(no_model.error().message().find("model"), std::string::npos);

  Json j = synthetic(kMerges);
  j["model"]["merges"].push_back(Json::array({"zz", "q"}));
  auto bad_merge = Tokenizer::from_json_text(j.dump(), "x.json");
  ASSERT_FALSE(bad_merge);
  EXPECT_NE(bad_merge.error().message().find("model.merges[7]"), std::string::npos);

  j = synthetic(kMerges);
  j["normalizer"] = {{"type", "Lowercase"}};
  auto bad_norm = Tokenizer::from_json_text(j.dump(), "x.json");
  ASSERT_FALSE(bad_norm);
  EXPECT_NE(bad_norm.error().message().find("Lowercase"), std::string::npos);

  auto not_json = Tokenizer::from_json_text("{", "x.json");
  EXPECT_FALSE(not_json);
  auto missing = Tokenizer::from_file("/nonexistent/tokenizer.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/nonexistent/tokenizer.json"), std::string::npos);
}

TEST(Tokenizer, SaveAndReloadGivesSameIds) {
  const std::string data = std::string(DSTC_SOURCE_DIR) + "/tests/generator_text/data/";
  auto gpt2 = Tokenizer::from_file(data + "gpt2_tokenizer.json.gz");
  ASSERT_TRUE(gpt2) << gpt2.error().message();
  auto again = Tokenizer::from_json_text(gpt2->to_json_text(), "resaved");
  ASSERT_TRUE(again) << again.error().message();
  for (std::string text : {"Hello world", "def f(x):\n    return x * 2  # ünïcödé\n",
                           "<|endoftext|>tail", "  12345 'll 'S"}) {
    EXPECT_EQ(gpt2->encode(text), again->encode(text)) << text;
  }
  EXPECT_EQ(gpt2->vocab_size(), again->vocab_size());
  std::string path = testing::TempDir() + "/saved_tokenizer.json";
  ASSERT_TRUE(gpt2->save(path));
  auto from_disk = Tokenizer::from_file(path);
  ASSERT_TRUE(from_disk);
  EXPECT_EQ(from_disk->encode("Hello world"), (std::vector<int32_t>{15496, 995}));
}

TEST(Tokenizer, NfcNormalizes) {
  auto nfc = normalize("e\xCC\x81", NormalForm::kNfc);  // e + combining acute
  ASSERT_TRUE(nfc) << nfc.error().message();
  EXPECT_EQ(*nfc, "\xC3\xA9");
  auto nfd = normalize("\xC3\xA9", NormalForm::kNfd);
  ASSERT_TRUE(nfd);
  EXPECT_EQ(*nfd, "e\xCC\x81");
}

// ---- trainer ----

std::string python_corpus() {
  std::string corpus;
  for (int i = 0; i < 40; ++i) {
    corpus += "def add_" + std::to_string(i) + "(a, b):\n    \"\"\"Return the sum.\"\"\"\n";
    corpus += "    return a + b + " + std::to_string(i * 7) + "\n\n";
    corpus += "assert add_" + std::to_string(i) + "(1, 2) == " + std::to_string(3 + i * 7) + "\n";
  }
  return corpus;
}

TEST(BpeTrainer, LearnsFrequentWordsAndRoundTrips) {
  BpeTrainerOptions opts;
  opts.vocab_size = 300;
  auto trainer = BpeTrainer::create(opts);
  ASSERT_TRUE(trainer);
  trainer->add_text(python_corpus());
  trainer->add_text("x<|endoftext|>y");
  auto tok = trainer->train();
  ASSERT_TRUE(tok) << tok.error().message();
  EXPECT_EQ(tok->vocab_size(), 300);
  EXPECT_EQ(tok->eos_id(), 0);
  EXPECT_EQ(tok->pad_id(), 0);
  EXPECT_EQ(*tok->id_to_token(0), "<|endoftext|>");
  // Frequent words became single tokens.
  EXPECT_EQ(tok->encode(" return").size(), 1u);
  EXPECT_EQ(tok->encode("def").size(), 1u);
  // The special token is matched whole; unseen text round-trips through bytes.
  auto ids = tok->encode("print('héllo 🦙')<|endoftext|>");
  EXPECT_EQ(ids.back(), 0);
  EXPECT_EQ(tok->decode(ids), "print('héllo 🦙')<|endoftext|>");
  std::string corpus = python_corpus();
  EXPECT_EQ(tok->decode(tok->encode(corpus)), corpus);
  EXPECT_LT(tok->encode(corpus).size(), corpus.size() / 2);
}

TEST(BpeTrainer, DeterministicAndReloadable) {
  BpeTrainerOptions opts;
  opts.vocab_size = 290;
  opts.special_tokens = {"<|endoftext|>", "<|pad|>"};
  std::string first, second;
  for (std::string* out : {&first, &second}) {
    auto trainer = BpeTrainer::create(opts);
    ASSERT_TRUE(trainer);
    trainer->add_text(python_corpus());
    auto json = trainer->train_json();
    ASSERT_TRUE(json);
    *out = *json;
  }
  EXPECT_EQ(first, second);
  auto tok = Tokenizer::from_json_text(first, "trained");
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->token_to_id("<|pad|>"), 1);
  // save() of a trained tokenizer reloads to the same ids.
  auto again = Tokenizer::from_json_text(tok->to_json_text(), "resaved");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->encode(python_corpus()), tok->encode(python_corpus()));
}

TEST(BpeTrainer, Qwen2StyleKeepsDigitsApart) {
  BpeTrainerOptions opts;
  opts.vocab_size = 400;
  opts.style = PretokenizerStyle::kQwen2;
  auto trainer = BpeTrainer::create(opts);
  ASSERT_TRUE(trainer);
  for (int i = 0; i < 50; ++i) trainer->add_text("x = 1234 + 1234\n");
  auto tok = trainer->train();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("1234").size(), 4u);

  opts.style = PretokenizerStyle::kGpt2;
  auto gpt2 = BpeTrainer::create(opts);
  ASSERT_TRUE(gpt2);
  for (int i = 0; i < 50; ++i) gpt2->add_text("x = 1234 + 1234\n");
  auto tok2 = gpt2->train();
  ASSERT_TRUE(tok2);
  EXPECT_EQ(tok2->encode(" 1234").size(), 1u);
}

TEST(BpeTrainer, RejectsTooSmallVocab) {
  BpeTrainerOptions opts;
  opts.vocab_size = 200;
  auto trainer = BpeTrainer::create(opts);
  ASSERT_FALSE(trainer);
  EXPECT_EQ(trainer.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(parse_pretokenizer_style("llama"));
}

}  // namespace
}  // namespace dstc::generator

namespace dstc::generator {
namespace {

TEST(StreamDecoder, MatchesWholeDecodeAcrossSplitCharacters) {
  auto tok = Tokenizer::from_file(std::string(DSTC_SOURCE_DIR) +
                                  "/tests/generator_text/data/gpt2_tokenizer.json.gz");
  ASSERT_TRUE(tok) << tok.error().message();
  std::string text = "print('héllo 🦙 世界')<|endoftext|>";
  auto ids = tok->encode(text);
  StreamDecoder stream(*tok);
  std::string streamed;
  size_t partial_pushes = 0;
  for (int32_t id : ids) {
    std::string piece = stream.push(id);
    EXPECT_TRUE(is_valid_utf8(piece));
    partial_pushes += piece.empty();
    streamed += piece;
  }
  streamed += stream.finish();
  EXPECT_EQ(streamed, tok->decode(ids));
  EXPECT_EQ(streamed, text);
  EXPECT_GT(partial_pushes, 0u);  // the llama emoji spans several byte tokens
  StreamDecoder skipping(*tok, /*skip_special=*/true);
  std::string s;
  for (int32_t id : ids) s += skipping.push(id);
  s += skipping.finish();
  EXPECT_EQ(s, tok->decode(ids, true));
  // A dangling lead byte is flushed as U+FFFD.
  StreamDecoder dangling(*tok);
  EXPECT_EQ(dangling.push(*tok->token_to_id("\xC3\x83")), "");  // byte 0xC3
  EXPECT_EQ(dangling.finish(), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace dstc::generator

namespace dstc::generator {
namespace {

TEST(Tokenizer, MalformedFieldsAreErrorsNotCrashes) {
  Json j = synthetic(kMerges);
  j["pre_tokenizer"] = {{"type", "Split"}, {"behavior", "Isolated"}};  // no pattern
  auto no_pattern = Tokenizer::from_json_text(j.dump(), "x.json");
  ASSERT_FALSE(no_pattern);
  EXPECT_EQ(no_pattern.error().code(), ErrorCode::kCorrupt);

  j = synthetic(kMerges);
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}};
  auto bad_regex = Tokenizer::from_json_text(j.dump(), "x.json");
  ASSERT_FALSE(bad_regex);
  EXPECT_NE(bad_regex.error().message().find("(unclosed"), std::string::npos);

  j = synthetic(kMerges);
  j["model"]["vocab"]["huge"] = 2000000000;
  EXPECT_FALSE(Tokenizer::from_json_text(j.dump(), "x.json"));

  j = synthetic(kMerges);
  j["decoder"] = {{"type", 7}};
  EXPECT_FALSE(Tokenizer::from_json_text(j.dump(), "x.json"));

  j = synthetic(kMerges);
  j["added_tokens"] = Json::array({{{"id", "seven"}, {"content", "<x>"}}});
  EXPECT_FALSE(Tokenizer::from_json_text(j.dump(), "x.json"));

  Tokenizer tok = load(synthetic(kMerges));
  EXPECT_FALSE(tok.apply_config(Json{{"eos_token", "<missing>"}}));
  EXPECT_FALSE(tok.apply_config(Json{{"eos_token", 5}}));
  EXPECT_FALSE(tok.apply_config(Json{{"chat_template", Json::array({{{"name", 3}}})}}));
}

}  // namespace
}  // namespace dstc::generator

namespace dstc::generator {
namespace {

TEST(Tokenizer, StopIdsJoinEosAndGenerationConfig) {
  Json j = synthetic(kMerges);
  j["added_tokens"] = Json::array({{{"id", 300}, {"content", "<|endoftext|>"}, {"special", true}},
                                   {{"id", 301}, {"content", "<|eot|>"}, {"special", true}}});
  std::string dir = testing::TempDir() + "/stop_ids";
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(write_file_atomic(dir + "/tokenizer.json", j.dump()));
  ASSERT_TRUE(
      write_file_atomic(dir + "/generation_config.json", R"({"eos_token_id": [301, 300]})"));
  auto tok = Tokenizer::from_file(dir);
  ASSERT_TRUE(tok) << tok.error().message();
  EXPECT_EQ(tok->eos_id(), 300);  // guessed from the name: no tokenizer_config.json
  EXPECT_EQ(tok->stop_ids(), (std::vector<int32_t>{300, 301}));
  ASSERT_TRUE(write_file_atomic(dir + "/generation_config.json", R"({"eos_token_id": 9999})"));
  auto bad = Tokenizer::from_file(dir);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("generation_config.json"), std::string::npos);
}

}  // namespace
}  // namespace dstc::generator
