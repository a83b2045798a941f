// Crash safety: a child process commits units in a loop and is SIGKILLed at random
// moments. After each kill the reopened store must hold only whole units, each
// marked done exactly when all its records are there; writing then resumes.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include "store/store.h"
#include "tests/store/test_util.h"

extern char** environ;

namespace dstc::store {
namespace {

constexpr int kUnits = 400;
constexpr uint32_t kCodes = 4, kTests = 4;  // each unit: 8 samples + 16 executions
constexpr const char* kWriterEnv = "DSTC_STORE_CRASH_WRITER_DIR";

std::string unit_name(int i) { return "task/" + std::to_string(i); }

std::vector<std::string> all_units() {
  std::vector<std::string> units;
  for (int i = 0; i < kUnits; ++i) units.push_back(unit_name(i));
  return units;
}

// The child: opens the store and commits every pending unit, then exits 0.
[[noreturn]] void writer_main(const std::string& dir) {
  auto st = Store::open(dir);
  if (!st) {
    std::fprintf(stderr, "writer: %s\n", st.error().message().c_str());
    std::_Exit(3);
  }
  auto pending = (*st)->pending_units(0, "generate", all_units());
  if (!pending) std::_Exit(4);
  for (const auto& unit : *pending) {
    WriteSet ws;
    for (uint32_t j = 0; j < kCodes; ++j)
      ws.put(testing::make_sample(0, unit, SampleKind::kCode, j));
    for (uint32_t k = 0; k < kTests; ++k)
      ws.put(testing::make_sample(0, unit, SampleKind::kTest, k));
    for (uint32_t j = 0; j < kCodes; ++j) {
      for (uint32_t k = 0; k < kTests; ++k) {
        ws.put(testing::make_execution(0, unit, j, k, j == k));
      }
    }
    if (!(*st)->commit({0, "generate", unit}, ws)) std::_Exit(5);
  }
  std::_Exit(0);
}

// When spawned as the writer, be the writer and nothing else. This runs from a gtest
// environment, i.e. inside main(): RocksDB's own static data is initialised by then.
class WriterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (const char* dir = std::getenv(kWriterEnv)) writer_main(dir);
  }
};
[[maybe_unused]] ::testing::Environment* const kWriterEnvironment =
    ::testing::AddGlobalTestEnvironment(new WriterEnvironment);

pid_t spawn_writer(const std::string& dir) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kWriterEnv) + "=" + dir);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char self[] = "/proc/self/exe";
  char* argv[] = {self, nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()) != 0) return -1;
  return pid;
}

// Verifies the invariant; returns the number of done units.
int verify_whole_units(const std::string& dir) {
  auto st = Store::open(dir);
  EXPECT_TRUE(st) << (st ? "" : st.error().message());
  if (!st) return -1;
  auto done = (*st)->done_units(0, "generate");
  EXPECT_TRUE(done);
  std::set<std::string> done_set(done->begin(), done->end());
  for (int i = 0; i < kUnits; ++i) {
    std::string unit = unit_name(i);
    auto samples = (*st)->samples(0, unit);
    auto execs = (*st)->executions(0, unit);
    EXPECT_TRUE(samples && execs);
    bool is_done = done_set.count(unit) > 0;
    size_t want_samples = is_done ? kCodes + kTests : 0;
    size_t want_execs = is_done ? kCodes * kTests : 0;
    EXPECT_EQ(samples->size(), want_samples) << unit << (is_done ? " done" : " pending");
    EXPECT_EQ(execs->size(), want_execs) << unit << (is_done ? " done" : " pending");
  }
  auto problems = (*st)->check();
  EXPECT_TRUE(problems && problems->empty());
  return static_cast<int>(done_set.size());
}

TEST(StoreCrashIntegration, KilledWriterLeavesOnlyWholeUnitsAndResumes) {
  testing::TempDir tmp;
  std::mt19937 rng(20261127);
  std::uniform_int_distribution<int> delay_ms(5, 120);
  int previous_done = 0;
  int kills = 0;
  int mid_stream = 0;  // trials that ended with some units done and some pending
  for (int trial = 0; trial < 20; ++trial) {
    pid_t pid = spawn_writer(tmp.path());
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
      ++kills;
    else
      ASSERT_EQ(WEXITSTATUS(status), 0) << "writer failed on its own";
    int done = verify_whole_units(tmp.path());
    ASSERT_GE(done, previous_done) << "a committed unit disappeared";
    previous_done = done;
    if (done > 0 && done < kUnits) ++mid_stream;
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(kills, 0) << "no trial killed the writer";
  EXPECT_GT(mid_stream, 0) << "no kill landed between the first and the last unit";
  std::printf("crash test: %d kills, %d mid-stream, %d/%d units done before the final resume\n",
              kills, mid_stream, previous_done, kUnits);
  // Resume to the end without interruption.
  pid_t pid = spawn_writer(tmp.path());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(verify_whole_units(tmp.path()), kUnits);
}

}  // namespace
}  // namespace dstc::store
