// Store benchmark: writes 100,000 execution records as 1,000 committed units (one
// prompt's 10x10 matrix each, synced, as the execute stage does), then scans them back
// one prompt at a time. Baseline in the same run: one synced write per record, the
// naive way to make each verdict durable. One JSON line per configuration.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using dstc::store::Execution;
using dstc::store::Store;
using dstc::store::WriteSet;

constexpr uint32_t kPrompts = 1000, kCodes = 10, kTests = 10;

Execution make(const std::string& task, uint32_t j, uint32_t k) {
  Execution e;
  e.task_id = task;
  e.code_index = j;
  e.test_index = k;
  e.status = (j + k) % 3 ? "passed" : "failed";
  e.wall_ms = 11.0;
  e.cpu_ms = 4.0;
  return e;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void print(const char* name, size_t ops, double secs, double baseline_ops_per_s) {
  double rate = ops / secs;
  std::printf(
      "{\"bench\":\"store\",\"config\":\"%s\",\"records\":%zu,\"seconds\":%.3f,"
      "\"ops_per_s\":%.0f,\"ratio_vs_per_record_sync\":%.2f}\n",
      name, ops, secs, rate, baseline_ops_per_s > 0 ? rate / baseline_ops_per_s : 1.0);
}

}  // namespace

int main() {
  std::string dir =
      (std::filesystem::temp_directory_path() / ("dstc_bench_store_" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove_all(dir);
  auto opened = Store::open(dir);
  if (!opened) {
    std::fprintf(stderr, "bench_store: %s\n", opened.error().message().c_str());
    return 1;
  }
  Store& st = **opened;

  // Baseline: 2,000 records, each its own synced write.
  constexpr size_t kBaselineRecords = 2000;
  auto t0 = Clock::now();
  for (size_t i = 0; i < kBaselineRecords; ++i) {
    WriteSet ws;
    ws.put(make("baseline", static_cast<uint32_t>(i / kTests), static_cast<uint32_t>(i % kTests)));
    if (!st.write(ws)) return 1;
  }
  double baseline_rate = kBaselineRecords / seconds_since(t0);
  print("per_record_sync_write", kBaselineRecords, kBaselineRecords / baseline_rate, baseline_rate);

  // Units: one synced batch per prompt matrix, with its done marker.
  t0 = Clock::now();
  for (uint32_t p = 0; p < kPrompts; ++p) {
    std::string task = "task/" + std::to_string(p);
    WriteSet ws;
    for (uint32_t j = 0; j < kCodes; ++j) {
      for (uint32_t k = 0; k < kTests; ++k) ws.put(make(task, j, k));
    }
    if (!st.commit({0, "execute", task}, ws)) return 1;
  }
  print("unit_commit_sync", kPrompts * kCodes * kTests, seconds_since(t0), baseline_rate);

  // Prefix scans: one prompt's matrix at a time.
  t0 = Clock::now();
  size_t scanned = 0;
  for (uint32_t p = 0; p < kPrompts; ++p) {
    auto rows = st.executions(0, "task/" + std::to_string(p));
    if (!rows || rows->size() != kCodes * kTests) return 1;
    scanned += rows->size();
  }
  print("prefix_scan_decode", scanned, seconds_since(t0), baseline_rate);

  opened->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
