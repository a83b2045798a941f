#include "generator/text/extract.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "generator/text/prompts.h"

namespace dstc::generator {

namespace {

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

struct Fence {
  std::string lang;
  std::string body;
};

std::vector<Fence> find_fences(std::string_view text) {
  std::vector<Fence> fences;
  size_t pos = 0;
  while ((pos = text.find("```", pos)) != std::string_view::npos) {
    // An opening fence starts a line (indentation allowed).
    size_t line_start = text.rfind('\n', pos == 0 ? 0 : pos - 1);
    line_start = (line_start == std::string_view::npos || pos == 0) ? 0 : line_start + 1;
    if (text.substr(line_start, pos - line_start).find_first_not_of(" \t") !=
        std::string_view::npos) {
      pos += 3;
      continue;
    }
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) break;  // a fence with no body
    Fence f;
    f.lang = lower(trim(text.substr(pos + 3, eol - pos - 3)));
    size_t body_start = eol + 1;
    size_t close = body_start;
    size_t end = std::string_view::npos;
    while ((close = text.find("```", close)) != std::string_view::npos) {
      size_t ls = text.rfind('\n', close - 1);
      ls = ls == std::string_view::npos ? 0 : ls + 1;
      if (close == body_start ||
          text.substr(ls, close - ls).find_first_not_of(" \t") == std::string_view::npos) {
        end = close;
        break;
      }
      close += 3;
    }
    if (end == std::string_view::npos) {
      f.body = std::string(text.substr(body_start));
      fences.push_back(std::move(f));
      break;
    }
    f.body = std::string(text.substr(body_start, end - body_start));
    fences.push_back(std::move(f));
    size_t after = text.find('\n', end);
    pos = after == std::string_view::npos ? text.size() : after + 1;
  }
  return fences;
}

// A top-level statement with everything indented under it (and decorators above it).
struct Block {
  std::string text;
  std::string head;  // first line that is not a decorator
};

// Splits Python source into top-level blocks. Tracks strings (including triple-quoted),
// comments, bracket depth and backslash continuations, so a multi-line assert or a
// docstring containing unindented text stays in one block.
std::vector<Block> top_level_blocks(std::string_view code) {
  std::vector<Block> blocks;
  int depth = 0;
  bool continued = false;  // previous line ended with a backslash
  std::string quote;       // open string delimiter: ', ", ''' or """
  size_t pos = 0;
  bool decorator_pending = false;
  while (pos < code.size()) {
    size_t eol = code.find('\n', pos);
    if (eol == std::string_view::npos) eol = code.size();
    std::string_view line = code.substr(pos, eol - pos);
    bool in_statement = depth > 0 || continued || quote.size() == 3;
    std::string stripped = trim(line);
    bool starts_top =
        !in_statement && !line.empty() && line[0] != ' ' && line[0] != '\t' && !stripped.empty();
    if (starts_top && stripped[0] == '#') {
      // Top-level comments are dropped.
      pos = eol + 1;
      continue;
    }
    if (starts_top && !decorator_pending) {
      blocks.push_back({});
    }
    if (blocks.empty()) blocks.push_back({});  // leading indented junk
    Block& b = blocks.back();
    b.text.append(line);
    b.text += '\n';
    if (starts_top) {
      decorator_pending = stripped[0] == '@';
      if (!decorator_pending) b.head = stripped;
    }
    // Update lexical state across the line.
    continued = false;
    if (quote.size() == 1) quote.clear();  // single-quoted strings end at the line
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (!quote.empty()) {
        if (c == '\\') {
          ++i;
        } else if (line.compare(i, quote.size(), quote) == 0) {
          i += quote.size() - 1;
          quote.clear();
        }
        continue;
      }
      if (c == '#') break;
      if (c == '\'' || c == '"') {
        if (line.compare(i, 3, std::string(3, c)) == 0) {
          quote = std::string(3, c);
          i += 2;
        } else {
          quote = std::string(1, c);
        }
      } else if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if (c == ')' || c == ']' || c == '}') {
        depth = std::max(0, depth - 1);
      } else if (c == '\\' && i + 1 == line.size()) {
        continued = true;
      }
    }
    pos = eol + 1;
  }
  return blocks;
}

// The identifier after `keyword ` at the start of `head`, e.g. def/class names.
std::string name_after(std::string_view head, std::string_view keyword) {
  if (head.substr(0, 6) == "async ") head.remove_prefix(6);
  if (head.substr(0, keyword.size()) != keyword) return {};
  size_t i = keyword.size();
  if (i >= head.size() || (head[i] != ' ' && head[i] != '\t')) return {};
  while (i < head.size() && (head[i] == ' ' || head[i] == '\t')) ++i;
  size_t b = i;
  while (i < head.size() && is_ident(head[i])) ++i;
  return std::string(head.substr(b, i - b));
}

bool starts_with_word(std::string_view s, std::string_view word) {
  return s.substr(0, word.size()) == word && (s.size() == word.size() || !is_ident(s[word.size()]));
}

// True when a `from X import a, b as c` line imports `name`.
bool imports_name(std::string_view head, std::string_view name) {
  size_t at = head.find(" import ");
  if (at == std::string_view::npos) return false;
  std::string_view rest = head.substr(at + 8);
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && !is_ident(rest[i])) ++i;
    size_t b = i;
    while (i < rest.size() && is_ident(rest[i])) ++i;
    if (rest.substr(b, i - b) == name) return true;
  }
  return false;
}

}  // namespace

std::string extract_code(std::string_view response) {
  auto fences = find_fences(response);
  for (const auto& f : fences) {
    if (f.lang == "python" || f.lang == "py" || f.lang == "python3") return f.body;
  }
  if (!fences.empty()) return fences.front().body;
  return std::string(response);
}

std::string truncate_at_stops(std::string_view text, const std::vector<std::string>& stops) {
  size_t cut = text.size();
  for (const auto& s : stops) {
    if (s.empty()) continue;
    size_t at = text.find(s);
    if (at != std::string_view::npos) cut = std::min(cut, at);
  }
  return std::string(text.substr(0, cut));
}

std::string plain_solution(std::string_view prompt, std::string_view completion) {
  return std::string(prompt) + truncate_at_stops(completion, plain_code_stops());
}

ExtractedTests extract_tests(std::string_view response, std::string_view entry_point) {
  ExtractedTests out;
  std::string code = extract_code(response);
  std::set<std::string> called;  // identifiers called by kept top-level statements
  std::vector<std::string> zero_arg_tests;
  bool has_check_def = false;
  bool has_testcase = false;
  bool unittest_main = false;
  std::string body;
  for (const Block& b : top_level_blocks(code)) {
    const std::string& head = b.head;
    if (head.empty()) continue;  // a dangling decorator or indented junk
    std::string def = name_after(head, "def");
    std::string cls = name_after(head, "class");
    if ((!def.empty() && def == entry_point) || (!cls.empty() && cls == entry_point)) {
      ++out.dropped_redefinitions;
      continue;
    }
    if (starts_with_word(head, "from") && imports_name(head, entry_point)) continue;
    if (starts_with_word(head, "if") && head.find("__name__") != std::string::npos) continue;
    if (starts_with_word(head, "print")) continue;
    if (!def.empty()) {
      if (def == "check") has_check_def = true;
      if (def.rfind("test", 0) == 0 && head.find("()") != std::string::npos) {
        zero_arg_tests.push_back(def);
      }
    }
    if (!cls.empty() && head.find("TestCase") != std::string::npos) has_testcase = true;
    if (starts_with_word(head, "assert")) {
      std::string a = b.text;
      while (!a.empty() && (a.back() == '\n' || a.back() == ' ')) a.pop_back();
      out.asserts.push_back(a);
    }
    if (def.empty() && cls.empty()) {
      // Record top-level calls: `check(f)`, `test_x()`, `unittest.main()`.
      size_t paren = head.find('(');
      if (paren != std::string::npos) called.insert(trim(head.substr(0, paren)));
      if (head.find("unittest.main") != std::string::npos) unittest_main = true;
    }
    body += b.text;
  }
  if (has_check_def) {
    out.has_check = true;
    if (!called.count("check")) body += "\ncheck(" + std::string(entry_point) + ")\n";
  }
  for (const auto& t : zero_arg_tests) {
    ++out.test_functions;
    if (!called.count(t)) body += t + "()\n";
  }
  if (has_testcase && !unittest_main) {
    ++out.test_functions;
    body += "\nimport unittest\nunittest.main()\n";
  }
  out.program = body;
  return out;
}

}  // namespace dstc::generator
