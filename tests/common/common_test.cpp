#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>

#include "common/error.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/thread_pool.h"

namespace dstc {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return fail(ErrorCode::kInvalidArgument, "value " + std::to_string(v) + " <= 0");
  return v;
}

Result<int> doubled(int v) {
  DSTC_TRY(int x, parse_positive(v));
  return 2 * x;
}

TEST(ErrorTest, TryPropagatesAndContextPrepends) {
  EXPECT_EQ(*doubled(4), 8);
  auto r = doubled(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().context("reading x").message(), "reading x: value -1 <= 0");
}

TEST(JsonTest, FieldErrorsNameTheField) {
  Json obj = {{"a", "s"}, {"n", 3}};
  EXPECT_EQ(*json_string(obj, "a"), "s");
  EXPECT_EQ(*json_int(obj, "n"), 3);
  EXPECT_EQ(json_string(obj, "b").error().message(), "missing field 'b'");
  EXPECT_EQ(json_int(obj, "a").error().message(), "field 'a' must be an integer, got string");
}

TEST(JsonTest, JsonlErrorsNameSourceAndLine) {
  std::string text = "{\"a\":1}\n\n{\"a\":2}\n{broken\n";
  int seen = 0;
  auto s = for_each_jsonl(text, "in.jsonl", [&](size_t, const Json&) -> Status {
    ++seen;
    return {};
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(s.error().message(), "in.jsonl:4: invalid JSON");
  auto t = for_each_jsonl("{\"a\":1}\n", "f", [](size_t, const Json& o) -> Status {
    DSTC_TRY(auto v, json_string(o, "a"));
    (void)v;
    return {};
  });
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message(), "f:1: field 'a' must be a string, got number");
}

TEST(FileTest, AtomicWriteAndGzipRead) {
  auto dir = std::filesystem::temp_directory_path() / ("dstc_common_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string plain = (dir / "a.txt").string();
  ASSERT_TRUE(write_file_atomic(plain, "hello\n"));
  EXPECT_EQ(*read_file(plain), "hello\n");
  EXPECT_EQ(*read_maybe_gzip(plain), "hello\n");

  std::string gz = (dir / "a.txt.gz").string();
  gzFile f = gzopen(gz.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::string content(100000, 'x');
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
  EXPECT_EQ(*read_maybe_gzip(gz), content);

  auto raw = *read_file(gz);
  ASSERT_TRUE(write_file_atomic(gz, raw.substr(0, raw.size() / 2)));
  auto truncated = read_maybe_gzip(gz);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code(), ErrorCode::kCorrupt);

  auto missing = read_file((dir / "nope").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(HashTest, Fnv1aKnownValues) {
  EXPECT_EQ(hex64(fnv1a64("")), "cbf29ce484222325");
  EXPECT_EQ(hex64(fnv1a64("a")), "af63dc4c8601ec8c");
}

TEST(ThreadPoolTest, ParallelForVisitsEveryIndexOnceAndRethrows) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(hits.size(), [&](size_t i) { hits[i]++; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_THROW(pool.parallel_for(10,
                                 [](size_t i) {
                                   if (i == 5) throw std::runtime_error("boom");
                                 }),
               std::runtime_error);
}

}  // namespace
}  // namespace dstc
