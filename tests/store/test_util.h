// Helpers shared by the store tests: temporary directories and record factories.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "store/records.h"

namespace dstc::store::testing {

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dstc_store_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Sample make_sample(uint32_t round, const std::string& task, SampleKind kind,
                          uint32_t index) {
  Sample s;
  s.round = round;
  s.task_id = task;
  s.kind = kind;
  s.index = index;
  s.raw = "```python\nprint(" + std::to_string(index) + ")\n```";
  s.program = "print(" + std::to_string(index) + ")";
  s.sampling.model_id = "toy@abc";
  s.sampling.temperature = 0.8;
  s.sampling.top_p = 0.95;
  s.sampling.top_k = 40;
  s.sampling.max_new_tokens = 128;
  s.sampling.seed = 1234567890123ULL + index;
  return s;
}

inline Execution make_execution(uint32_t round, const std::string& task, uint32_t code,
                                uint32_t test, bool passed) {
  Execution e;
  e.round = round;
  e.task_id = task;
  e.code_index = code;
  e.test_index = test;
  e.status = passed ? "passed" : "failed";
  e.wall_ms = 12.5;
  e.cpu_ms = 3.25;
  e.detail = passed ? "" : "AssertionError";
  return e;
}

}  // namespace dstc::store::testing
