// A compiled Unicode regex (PCRE2 with UTF + UCP, JIT when available) used by the
// tokenizer's pre-tokenizers. Matching works on code points; \p{L}, \p{N}, \s are
// Unicode properties, and lookahead works (needed by `\s+(?!\S)`).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace dstc::generator {

class UnicodeRegex {
 public:
  // Compiles `pattern`; the error names the pattern and PCRE2's message and offset.
  static Result<UnicodeRegex> compile(const std::string& pattern);

  // Byte ranges [begin, end) of the successive non-overlapping matches in `text`
  // (valid UTF-8), scanning left to right as Rust's `find_iter` does. An empty match
  // advances the scan by one character and is not reported.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
  std::string pattern_;
};

// The pre-tokenizer regexes of the common byte-level families (engines.md §2.2).
inline constexpr const char* kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace dstc::generator
