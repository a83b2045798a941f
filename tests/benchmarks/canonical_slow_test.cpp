// Canonical solutions of the real benchmarks pass, and `return None` bodies fail, through
// the sandbox (needs ../shared/benchmarks; skipped visibly without it).
#include <gtest/gtest.h>

#include <filesystem>

#include "benchmarks/evaluate.h"
#include "tests/benchmarks/fixtures.h"

namespace dstc::benchmarks {
namespace {

using namespace dstc::benchmarks::testing;

sandbox::Sandbox* slow_sandbox() {
  static std::unique_ptr<sandbox::Sandbox> sb = [] {
    auto r = sandbox::Sandbox::create();
    return r ? std::move(*r) : nullptr;
  }();
  return sb.get();
}

// A body that returns None: the prompt plus `return None` where the prompt ends inside the
// function (HumanEval), else a stub of the entry point (MBPP).
std::string none_solution(const Task& t, Benchmark b) {
  if (b == Benchmark::kHumanEval || b == Benchmark::kHumanEvalPlus)
    return t.prompt + "    return None\n";
  return t.prompt + "def " + t.entry_point + "(*args, **kwargs):\n    return None\n";
}

struct Case {
  Benchmark benchmark;
  std::string file;
  std::string split;
  size_t tasks;
};

void check_canonical(const Case& c) {
  if (!have_shared(c.file)) {
    GTEST_SKIP() << "no " << shared_benchmarks_dir() << "/" << c.file
                 << " (benchmark data not available here)";
  }
  sandbox::Sandbox* sb = slow_sandbox();
  if (!sb) GTEST_SKIP() << "the sandbox cannot start on this host";
  auto ds = load_dataset(c.benchmark, shared_benchmarks_dir() + "/" + c.file, {c.split});
  ASSERT_TRUE(ds) << ds.error().message();
  ASSERT_EQ(ds->tasks.size(), c.tasks);
  std::vector<Sample> samples = canonical_samples(*ds);
  for (const auto& t : ds->tasks) samples.push_back({t.task_id, none_solution(t, c.benchmark)});
  EvalOptions opt;
  opt.cache_dir = std::filesystem::temp_directory_path().string() + "/dstc_eval_cache";
  auto r = evaluate(*ds, samples, *sb, opt);
  ASSERT_TRUE(r) << r.error().message();
  size_t canonical_pass = 0, none_pass = 0;
  for (const auto& t : r->tasks) {
    EXPECT_FALSE(t.skipped) << t.task_id << ": " << t.skip_reason;
    ASSERT_EQ(t.samples.size(), 2u);
    if (t.samples[0].passed) {
      ++canonical_pass;
    } else {
      ADD_FAILURE() << t.task_id << " canonical: " << t.samples[0].detail;
    }
    if (t.samples[1].passed) {
      ++none_pass;
      ADD_FAILURE() << t.task_id << " return None passed";
    }
  }
  EXPECT_EQ(canonical_pass, c.tasks);
  EXPECT_EQ(none_pass, 0u);
  EXPECT_EQ(r->sandbox_errors, 0);
  std::printf("%s: %zu/%zu canonical pass, %lld programs in %.1f s\n",
              std::string(benchmark_name(c.benchmark)).c_str(), canonical_pass, c.tasks,
              static_cast<long long>(r->programs_run), r->seconds);
}

TEST(CanonicalSlow, HumanEval) {
  check_canonical({Benchmark::kHumanEval, "HumanEval.jsonl.gz", "", 164});
}
TEST(CanonicalSlow, HumanEvalPlusMini) {
  check_canonical({Benchmark::kHumanEvalPlus, "HumanEvalPlus-Mini.jsonl.gz", "", 164});
}
TEST(CanonicalSlow, MbppSanitizedAll) {
  check_canonical({Benchmark::kMbppSanitized, "sanitized-mbpp.json", "all", 427});
}
TEST(CanonicalSlow, MbppPlus) {
  check_canonical({Benchmark::kMbppPlus, "MbppPlus.jsonl.gz", "", 378});
}

}  // namespace
}  // namespace dstc::benchmarks
