// Training data: JSONL readers and their errors, tokenisation with an exact completion
// mask, truncation/skip policy with counts, seeded shuffles, KTO unpairing and rotation.
#include "trainer/data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace dstc::trainer {
namespace {

namespace fs = std::filesystem;

std::string write_temp(const std::string& name, const std::string& text) {
  auto path = fs::temp_directory_path() / ("dstc_trainer_" + std::to_string(::getpid()) + name);
  std::ofstream(path) << text;
  return path.string();
}

// A toy tokenizer: one token per byte, and "ab" merges into 300 (so a prompt ending in
// "a" followed by a completion starting with "b" merges across the boundary). BOS = 1 on
// prompts.
TextEncoder toy_encoder() {
  TextEncoder enc;
  enc.eos_id = 2;
  enc.encode = [](std::string_view text, bool prompt) {
    std::vector<int32_t> ids;
    if (prompt) ids.push_back(1);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == 'a' && i + 1 < text.size() && text[i + 1] == 'b') {
        ids.push_back(300);
        ++i;
      } else {
        ids.push_back(static_cast<unsigned char>(text[i]));
      }
    }
    return ids;
  };
  return enc;
}

TEST(TrainData, ReadsDpoJsonl) {
  auto path = write_temp("ok.jsonl",
                         "{\"prompt\": \"p1\", \"chosen\": \"c1\", \"rejected\": \"r1\"}\n\n"
                         "{\"prompt\": \"p2\", \"chosen\": \"c2\", \"rejected\": \"r2\", "
                         "\"reference_response\": \"y\"}\n");
  auto pairs = read_pairs_jsonl(path);
  ASSERT_TRUE(pairs) << pairs.error().message();
  ASSERT_EQ(pairs->size(), 2u);
  EXPECT_EQ((*pairs)[1].chosen, "c2");
  EXPECT_EQ((*pairs)[1].reference_response, "y");
  EXPECT_EQ((*pairs)[1].source, path + ":3");
  EXPECT_EQ(*detect_jsonl_format(path), DataFormat::kPairs);
  fs::remove(path);
}

TEST(TrainData, MissingFieldNamesFileLineAndField) {
  auto path = write_temp("bad.jsonl",
                         "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n"
                         "{\"prompt\": \"p\", \"chosen\": \"c\"}\n");
  auto pairs = read_pairs_jsonl(path);
  ASSERT_FALSE(pairs);
  const auto& msg = pairs.error().message();
  EXPECT_NE(msg.find(path + ":2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rejected"), std::string::npos) << msg;
  fs::remove(path);
}

TEST(TrainData, KtoLabelMustBeBoolean) {
  auto path = write_temp("kto.jsonl",
                         "{\"prompt\": \"p\", \"completion\": \"c\", \"label\": true}\n"
                         "{\"prompt\": \"p\", \"completion\": \"c\", \"label\": \"yes\"}\n");
  EXPECT_EQ(*detect_jsonl_format(path), DataFormat::kKto);
  auto kto = read_kto_jsonl(path);
  ASSERT_FALSE(kto);
  EXPECT_NE(kto.error().message().find(":2"), std::string::npos);
  EXPECT_NE(kto.error().message().find("label"), std::string::npos);
  fs::remove(path);
}

TEST(TrainData, CompletionMaskIsExactAcrossBoundaryMerges) {
  TokenizeOptions o;
  DataStats stats;
  Sequence s;
  ASSERT_TRUE(tokenize_one(toy_encoder(), o, "xa", "bc", s, stats));
  // Separately: [BOS, x, a] ++ [b, c] ++ [EOS]; joint tokenisation would give "ab" = 300.
  EXPECT_EQ(s.ids, (std::vector<int32_t>{1, 'x', 'a', 'b', 'c', 2}));
  EXPECT_EQ(s.prompt_len, 3);
  EXPECT_EQ(s.completion_len(), 3);  // b, c, EOS
  EXPECT_EQ(stats.boundary_merges, 1u);
}

TEST(TrainData, TruncationAndSkipsAreCounted) {
  TokenizeOptions o;
  o.max_length = 8;
  o.max_prompt_length = 4;
  std::vector<PairText> pairs = {
      {"pp", "cccccccccc", "r", "", "long completion"},  // truncated, kept
      {"pppppp", "c", "r", "", "long prompt"},           // skipped
      {"pp", "", "r", "", "empty chosen"},               // skipped
      {"pp", "same", "same", "", "identical"},           // skipped
      {"pp", "c", "r", "", "fine"},
  };
  DataStats stats;
  auto out = tokenize_pairs(toy_encoder(), o, pairs, stats);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(stats.read, 5u);
  EXPECT_EQ(stats.kept, 2u);
  EXPECT_EQ(stats.skipped_long_prompt, 1u);
  EXPECT_EQ(stats.skipped_empty_completion, 1u);
  EXPECT_EQ(stats.skipped_identical, 1u);
  EXPECT_EQ(stats.truncated_completions, 1u);
  EXPECT_EQ(out[0].chosen.ids.size(), 8u);  // cut at max_length, EOS lost
  EXPECT_NE(out[0].chosen.ids.back(), 2);
  EXPECT_EQ(out[1].chosen.ids.back(), 2);  // EOS appended
  EXPECT_NE(stats.summary().find("1 prompt too long"), std::string::npos);
}

TEST(TrainData, SeededShuffleIsAPermutationAndReproducible) {
  std::vector<int> a(50), b;
  for (int i = 0; i < 50; ++i) a[static_cast<size_t>(i)] = i;
  b = a;
  auto c = a;
  seeded_shuffle(a, 42);
  seeded_shuffle(b, 42);
  seeded_shuffle(c, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int>(a.begin(), a.end()).size(), 50u);
  // Fixed values: the same on every platform (own splitmix64, not std::shuffle).
  std::vector<size_t> order = {0, 1, 2, 3, 4};
  seeded_permutation(order, 7);
  std::vector<size_t> again = {0, 1, 2, 3, 4};
  seeded_permutation(again, 7);
  EXPECT_EQ(order, again);
}

TEST(TrainData, UnpairGivesBothLabelsAndShuffleMixesThem) {
  std::vector<PairText> pairs;
  for (int i = 0; i < 20; ++i) {
    pairs.push_back({"p" + std::to_string(i), "good", "bad", "", "s"});
  }
  auto kto = unpair(pairs);
  ASSERT_EQ(kto.size(), 40u);
  EXPECT_TRUE(kto[0].desirable);
  EXPECT_FALSE(kto[1].desirable);
  seeded_shuffle(kto, 1);
  // After the shuffle, micro-batches of 4 are not all one class (TRL's trap, §2.3).
  int mixed = 0;
  for (size_t b = 0; b < 40; b += 4) {
    int d = 0;
    for (size_t i = b; i < b + 4; ++i) d += kto[i].desirable;
    mixed += (d > 0 && d < 4);
  }
  EXPECT_GT(mixed, 3);
}

TEST(TrainData, MismatchedTakesPromptOfOneAndCompletionOfOther) {
  Sequence a{{1, 10, 11, 12, 2}, 2};
  Sequence b{{1, 20, 21, 22, 23, 2}, 3};
  auto m = mismatched(a, b, 100);
  EXPECT_EQ(m.ids, (std::vector<int32_t>{1, 10, 22, 23, 2}));
  EXPECT_EQ(m.prompt_len, 2);
  auto cut = mismatched(a, b, 3);
  EXPECT_EQ(cut.ids, (std::vector<int32_t>{1, 10, 22}));
}

}  // namespace
}  // namespace dstc::trainer
