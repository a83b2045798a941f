#include "benchmarks/sanitize.h"

#include <cctype>
#include <deque>
#include <map>
#include <set>

namespace dstc::benchmarks {

namespace {

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (pos < s.size()) out.emplace_back(s.substr(pos));
      break;
    }
    out.emplace_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  for (auto& l : out) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Lexical state carried across lines: open brackets and an open triple-quoted string.
struct LexState {
  int depth = 0;
  std::string triple;  // "\"\"\"" or "'''" while inside one
};

// Advances `st` over one line and collects identifiers outside strings and comments.
void scan_line(const std::string& line, LexState& st, std::set<std::string>* idents) {
  size_t i = 0;
  const size_t n = line.size();
  while (i < n) {
    if (!st.triple.empty()) {
      size_t e = line.find(st.triple, i);
      while (e != std::string::npos && e > 0 && line[e - 1] == '\\')
        e = line.find(st.triple, e + 1);
      if (e == std::string::npos) return;
      i = e + 3;
      st.triple.clear();
      continue;
    }
    char c = line[i];
    if (c == '#') return;
    if (c == '"' || c == '\'') {
      if (line.compare(i, 3, std::string(3, c)) == 0) {
        st.triple = std::string(3, c);
        i += 3;
        continue;
      }
      ++i;
      while (i < n && line[i] != c) i += (line[i] == '\\') ? 2 : 1;
      ++i;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++st.depth;
    if ((c == ')' || c == ']' || c == '}') && st.depth > 0) --st.depth;
    if (is_ident_start(c)) {
      size_t j = i;
      while (j < n && is_ident(line[j])) ++j;
      // A string prefix (f"...", r'...', b"...") is not an identifier.
      if (j < n && (line[j] == '"' || line[j] == '\'') && j - i <= 2) {
        i = j;
        continue;
      }
      if (idents && (i == 0 || line[i - 1] != '.')) idents->insert(line.substr(i, j - i));
      i = j;
      continue;
    }
    ++i;
  }
}

enum class Kind { kImport, kDef, kAssign, kMainGuard, kOther };

struct Block {
  std::vector<std::string> lines;
  Kind kind = Kind::kOther;
  std::vector<std::string> names;  // what it defines
  std::set<std::string> uses;
};

std::string first_ident(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_ident(s[i])) ++i;
  return std::string(s.substr(0, i));
}

void classify(Block& b) {
  // The first line that is not a decorator says what the block is.
  std::string head;
  for (const auto& l : b.lines) {
    std::string t = trim(l);
    if (t.empty() || t[0] == '@') continue;
    head = t;
    break;
  }
  if (starts_with(head, "import ") || starts_with(head, "from ")) {
    b.kind = Kind::kImport;
    return;
  }
  for (std::string_view kw : {"def ", "async def ", "class "}) {
    if (starts_with(head, kw)) {
      b.kind = Kind::kDef;
      b.names.push_back(first_ident(trim(head.substr(kw.size()))));
      return;
    }
  }
  if (starts_with(head, "if __name__") || starts_with(head, "if (__name__")) {
    b.kind = Kind::kMainGuard;
    return;
  }
  // NAME = ..., NAME: T = ..., A, B = ... (not ==, not augmented on an undefined name).
  size_t eq = std::string::npos;
  int depth = 0;
  for (size_t i = 0; i < head.size(); ++i) {
    char c = head[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == '"' || c == '\'') break;
    if (c == '=' && depth == 0 && i + 1 < head.size() && head[i + 1] != '=' && i > 0 &&
        std::string("=!<>+-*/%&|^@:").find(head[i - 1]) == std::string::npos) {
      eq = i;
      break;
    }
  }
  if (eq != std::string::npos) {
    std::string lhs = head.substr(0, eq);
    size_t colon = lhs.find(':');
    if (colon != std::string::npos) lhs = lhs.substr(0, colon);
    std::string name;
    bool ok = true;
    for (char c : lhs) {
      if (is_ident(c)) {
        name += c;
      } else if (c == ',' || c == ' ' || c == '(' || c == ')') {
        if (!name.empty()) b.names.push_back(name);
        name.clear();
      } else {
        ok = false;  // subscript or attribute target: not a definition
        break;
      }
    }
    if (!name.empty()) b.names.push_back(name);
    if (ok && !b.names.empty() && is_ident_start(b.names[0][0])) {
      b.kind = Kind::kAssign;
      return;
    }
    b.names.clear();
  }
  b.kind = Kind::kOther;
}

}  // namespace

std::string extract_code(std::string_view text) {
  std::vector<std::string> lines = split_lines(text);
  auto is_fence = [](const std::string& l) { return starts_with(trim(l), "```"); };
  std::string first;
  bool have_first = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_fence(lines[i])) continue;
    std::string tag = trim(trim(lines[i]).substr(3));
    std::string body;
    size_t j = i + 1;
    for (; j < lines.size() && !is_fence(lines[j]); ++j) body += lines[j] + "\n";
    const bool python = tag == "python" || tag == "py" || tag == "python3";
    if (python) return body;
    if (!have_first && (tag.empty() || python)) {
      first = body;
      have_first = true;
    }
    i = j;  // skip the closing fence
  }
  if (have_first) return first;
  return std::string(text);
}

std::string sanitize(std::string_view code, std::string_view entry_point) {
  std::vector<std::string> lines = split_lines(code);
  std::vector<Block> blocks;
  LexState st;
  bool pending_decorator = false;
  for (const auto& line : lines) {
    const bool top = st.depth == 0 && st.triple.empty();
    const bool starts_stmt = top && !line.empty() &&
                             !std::isspace(static_cast<unsigned char>(line[0])) && line[0] != '#' &&
                             line[0] != ')' && line[0] != ']' && line[0] != '}';
    if (starts_stmt && !pending_decorator) blocks.emplace_back();
    if (blocks.empty()) blocks.emplace_back();  // leading comments/blank lines
    Block& b = blocks.back();
    b.lines.push_back(line);
    scan_line(line, st, &b.uses);
    if (starts_stmt) pending_decorator = line[0] == '@';
  }
  std::map<std::string, std::vector<size_t>> defined;
  for (size_t i = 0; i < blocks.size(); ++i) {
    classify(blocks[i]);
    for (const auto& nm : blocks[i].names) defined[nm].push_back(i);
  }
  std::vector<bool> keep(blocks.size(), false);
  const bool reachable_only = !entry_point.empty() && defined.count(std::string(entry_point));
  if (reachable_only) {
    std::deque<std::string> todo{std::string(entry_point)};
    std::set<std::string> seen;
    while (!todo.empty()) {
      std::string nm = todo.front();
      todo.pop_front();
      if (!seen.insert(nm).second) continue;
      auto it = defined.find(nm);
      if (it == defined.end()) continue;
      for (size_t bi : it->second) {
        if (keep[bi]) continue;
        keep[bi] = true;
        for (const auto& u : blocks[bi].uses) todo.push_back(u);
      }
    }
  }
  std::string out;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    bool k = b.kind == Kind::kImport ||
             (reachable_only ? keep[i] : (b.kind == Kind::kDef || b.kind == Kind::kAssign));
    if (!k) continue;
    // Trailing blank lines of a block are dropped; one blank line separates blocks.
    size_t end = b.lines.size();
    while (end > 0 && trim(b.lines[end - 1]).empty()) --end;
    for (size_t j = 0; j < end; ++j) out += b.lines[j] + "\n";
    if (b.kind != Kind::kImport) out += "\n";
  }
  return out;
}

std::string truncate_at_stops(std::string_view completion, const std::vector<std::string>& stops) {
  size_t cut = completion.size();
  for (const auto& s : stops) {
    size_t p = completion.find(s);
    if (p != std::string_view::npos && p < cut) cut = p;
  }
  return std::string(completion.substr(0, cut));
}

const std::vector<std::string>& completion_stops() {
  static const std::vector<std::string> kStops = {
      "\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n#", "\n```"};
  return kStops;
}

}  // namespace dstc::benchmarks
