#include "benchmarks/dataset.h"

#include <algorithm>
#include <cctype>

#include "common/file.h"
#include "common/hash.h"

namespace dstc::benchmarks {

namespace {

constexpr std::pair<Benchmark, std::string_view> kNames[] = {
    {Benchmark::kHumanEval, "humaneval"}, {Benchmark::kHumanEvalPlus, "humaneval+"},
    {Benchmark::kMbpp, "mbpp"},           {Benchmark::kMbppSanitized, "mbpp-sanitized"},
    {Benchmark::kMbppPlus, "mbpp+"},      {Benchmark::kBigCodeBench, "bigcodebench"},
};

// Scans one JSON value starting at `i` (after whitespace) and returns the index just past
// it. Only structure is checked (brackets, strings); nlohmann or Python validate the rest.
Result<size_t> skip_value(std::string_view s, size_t i) {
  int depth = 0;
  bool in_string = false;
  size_t start = i;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return i;  // end of the enclosing container: a scalar ended here
      if (--depth == 0) return i + 1;
    } else if (depth == 0 && (c == ',')) {
      return i;
    }
  }
  if (in_string) return fail(ErrorCode::kCorrupt, "unterminated string");
  if (depth != 0) return fail(ErrorCode::kCorrupt, "unbalanced brackets");
  if (i == start) return fail(ErrorCode::kCorrupt, "missing value");
  return i;
}

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

// Number of top-level elements of a JSON array text.
Result<size_t> count_array(std::string_view raw) {
  size_t i = skip_ws(raw, 0);
  if (i >= raw.size() || raw[i] != '[') return fail(ErrorCode::kCorrupt, "expected an array");
  i = skip_ws(raw, i + 1);
  if (i < raw.size() && raw[i] == ']') return size_t{0};
  size_t n = 0;
  while (true) {
    DSTC_TRY(size_t end, skip_value(raw, i));
    ++n;
    i = skip_ws(raw, end);
    if (i >= raw.size()) return fail(ErrorCode::kCorrupt, "unterminated array");
    if (raw[i] == ']') return n;
    if (raw[i] != ',') return fail(ErrorCode::kCorrupt, "expected ',' in array");
    i = skip_ws(raw, i + 1);
  }
}

Result<std::vector<std::string>> string_list(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it == obj.end()) return fail(ErrorCode::kCorrupt, "missing field '" + std::string(key) + "'");
  std::vector<std::string> out;
  if (it->is_string()) {
    // BigCodeBench stores `libs` as a Python list literal: "['random', 'itertools']".
    std::string s = it->get<std::string>();
    std::string cur;
    bool in_q = false;
    char q = 0;
    for (char c : s) {
      if (in_q) {
        if (c == q) {
          out.push_back(cur);
          cur.clear();
          in_q = false;
        } else {
          cur += c;
        }
      } else if (c == '\'' || c == '"') {
        in_q = true;
        q = c;
      }
    }
    return out;
  }
  if (!it->is_array()) {
    return fail(ErrorCode::kCorrupt, "field '" + std::string(key) + "' must be a list");
  }
  for (const auto& v : *it) {
    if (!v.is_string()) {
      return fail(ErrorCode::kCorrupt, "field '" + std::string(key) + "' must hold strings");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::string strip_cr(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '\r'), s.end());
  return s;
}

std::string mbpp_prompt(const std::string& text, const std::vector<std::string>& tests) {
  // The EvalPlus MBPP+ prompt shape (a docstring holding the task and one assert), so a
  // completion that writes the whole function makes `prompt + completion` a program.
  std::string p = "\"\"\"\n" + text + "\n";
  if (!tests.empty()) p += tests[0] + "\n";
  p += "\"\"\"\n";
  return p;
}

Status check_split(const std::string& split, std::initializer_list<std::string_view> allowed,
                   std::string_view benchmark) {
  for (auto a : allowed) {
    if (split == a) return {};
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : "|") + std::string(a);
  return fail(ErrorCode::kInvalidArgument, "split '" + split + "' is not valid for " +
                                               std::string(benchmark) + " (use " + list + ")");
}

// MBPP names no entry point: it is the function of the canonical code the first test calls.
std::string mbpp_entry_point(const std::string& code, const std::vector<std::string>& tests) {
  std::string first_def;
  size_t pos = 0;
  while ((pos = code.find("def ", pos)) != std::string::npos) {
    const bool top = pos == 0 || code[pos - 1] == '\n';
    size_t a = pos + 4, b = a;
    while (b < code.size() && (std::isalnum(static_cast<unsigned char>(code[b])) || code[b] == '_'))
      ++b;
    std::string name = code.substr(a, b - a);
    pos = b;
    if (!top || name.empty()) continue;
    if (first_def.empty()) first_def = name;
    if (!tests.empty()) {
      const std::string& t = tests[0];
      size_t at = t.find(name + "(");
      if (at != std::string::npos &&
          (at == 0 || !(std::isalnum(static_cast<unsigned char>(t[at - 1])) || t[at - 1] == '_'))) {
        return name;
      }
    }
  }
  return first_def;
}

bool keep_mbpp(const std::string& wanted, const std::string& split) {
  return wanted == "all" || wanted == split;
}

Result<Task> parse_humaneval(const Json& o) {
  Task t;
  DSTC_TRY(t.task_id, json_string(o, "task_id"));
  DSTC_TRY(t.prompt, json_string(o, "prompt"));
  DSTC_TRY(t.entry_point, json_string(o, "entry_point"));
  DSTC_TRY(auto sol, json_string(o, "canonical_solution"));
  DSTC_TRY(t.test, json_string(o, "test"));
  t.canonical = t.prompt + sol;
  t.instruction = t.prompt;
  return t;
}

Result<Task> parse_evalplus(Benchmark b, const Json& o,
                            const std::vector<std::pair<std::string, std::string>>& raw) {
  Task t;
  DSTC_TRY(t.task_id, json_string(o, "task_id"));
  DSTC_TRY(t.prompt, json_string(o, "prompt"));
  DSTC_TRY(t.entry_point, json_string(o, "entry_point"));
  DSTC_TRY(auto sol, json_string(o, "canonical_solution"));
  t.canonical = t.prompt + sol;
  t.instruction = t.prompt;
  if (o.contains("contract") && o["contract"].is_string()) t.contract = o["contract"];
  DSTC_TRY(t.atol, json_number(o, "atol"));
  if (b == Benchmark::kMbppPlus && o.contains("assertion") && o["assertion"].is_string()) {
    t.test = o["assertion"];
  }
  bool have_base = false, have_plus = false;
  for (const auto& [key, raw_text] : raw) {
    if (key == "base_input" || key == "plus_input") {
      // MBPP+ v0.2.0 writes an empty input set as {} (Mbpp/793); EvalPlus iterates it as
      // no inputs.
      std::string text = raw_text;
      if (text == "{}") text = "[]";
      auto n = count_array(text);
      if (!n) return fail(n.error().context("field '" + key + "'"));
      if (key == "base_input") {
        t.base_input_json = text;
        t.base_count = *n;
        have_base = true;
      } else {
        t.plus_input_json = text;
        t.plus_count = *n;
        have_plus = true;
      }
    }
  }
  if (!have_base) return fail(ErrorCode::kCorrupt, "missing field 'base_input'");
  if (!have_plus) return fail(ErrorCode::kCorrupt, "missing field 'plus_input'");
  return t;
}

Result<Task> parse_bigcodebench(const Json& o, const std::string& split) {
  Task t;
  DSTC_TRY(t.task_id, json_string(o, "task_id"));
  DSTC_TRY(auto complete, json_string(o, "complete_prompt"));
  DSTC_TRY(t.instruction, json_string(o, "instruct_prompt"));
  DSTC_TRY(auto code_prompt, json_string(o, "code_prompt"));
  DSTC_TRY(auto sol, json_string(o, "canonical_solution"));
  DSTC_TRY(t.test, json_string(o, "test"));
  DSTC_TRY(t.entry_point, json_string(o, "entry_point"));
  DSTC_TRY(t.libs, string_list(o, "libs"));
  // BigCodeBench runs `complete_prompt + completion` (complete) and the model's whole
  // script (instruct); in instruct mode a bare completion continues `code_prompt`.
  t.prompt = split == "instruct" ? code_prompt : complete;
  if (split != "instruct") t.instruction = complete;
  t.canonical = complete + sol;
  t.split = split;
  return t;
}

}  // namespace

std::string_view benchmark_name(Benchmark b) {
  for (const auto& [k, n] : kNames) {
    if (k == b) return n;
  }
  return "?";
}

Result<Benchmark> benchmark_from_name(std::string_view name) {
  for (const auto& [k, n] : kNames) {
    if (n == name) return k;
  }
  std::string list;
  for (const auto& [k, n] : kNames) list += (list.empty() ? "" : "|") + std::string(n);
  return fail(ErrorCode::kInvalidArgument,
              "unknown benchmark '" + std::string(name) + "' (use " + list + ")");
}

std::vector<std::string> benchmark_names() {
  std::vector<std::string> out;
  for (const auto& [k, n] : kNames) out.emplace_back(n);
  return out;
}

bool is_evalplus(Benchmark b) {
  return b == Benchmark::kHumanEvalPlus || b == Benchmark::kMbppPlus;
}

const Task* Dataset::find(std::string_view task_id) const {
  for (const auto& t : tasks) {
    if (t.task_id == task_id) return &t;
  }
  return nullptr;
}

std::string mbpp_split_of(int64_t id) {
  if (id >= 1 && id <= 10) return "prompt";
  if (id >= 11 && id <= 510) return "test";
  if (id >= 511 && id <= 600) return "validation";
  return "train";
}

std::string normalize_task_id(Benchmark b, const Json& id) {
  std::string s = id.is_string()
                      ? id.get<std::string>()
                      : (id.is_number_integer() ? std::to_string(id.get<int64_t>()) : id.dump());
  if (b == Benchmark::kMbpp || b == Benchmark::kMbppSanitized || b == Benchmark::kMbppPlus) {
    if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) return "Mbpp/" + s;
  }
  if (b == Benchmark::kHumanEval || b == Benchmark::kHumanEvalPlus) {
    if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) return "HumanEval/" + s;
  }
  if (b == Benchmark::kBigCodeBench) {
    if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) return "BigCodeBench/" + s;
  }
  return s;
}

namespace detail {

Result<std::vector<std::pair<std::string, std::string>>> split_top_level(std::string_view line) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = skip_ws(line, 0);
  if (i >= line.size() || line[i] != '{')
    return fail(ErrorCode::kCorrupt, "expected a JSON object");
  i = skip_ws(line, i + 1);
  if (i < line.size() && line[i] == '}') return out;
  while (true) {
    if (i >= line.size() || line[i] != '"') return fail(ErrorCode::kCorrupt, "expected a key");
    DSTC_TRY(size_t kend, skip_value(line, i));
    auto key = parse_json(line.substr(i, kend - i), "key");
    if (!key || !key->is_string()) return fail(ErrorCode::kCorrupt, "bad key");
    i = skip_ws(line, kend);
    if (i >= line.size() || line[i] != ':') return fail(ErrorCode::kCorrupt, "expected ':'");
    i = skip_ws(line, i + 1);
    DSTC_TRY(size_t vend, skip_value(line, i));
    size_t vlast = vend;
    while (vlast > i && std::isspace(static_cast<unsigned char>(line[vlast - 1]))) --vlast;
    out.emplace_back(key->get<std::string>(), std::string(line.substr(i, vlast - i)));
    i = skip_ws(line, vend);
    if (i >= line.size()) return fail(ErrorCode::kCorrupt, "unterminated object");
    if (line[i] == '}') {
      if (skip_ws(line, i + 1) != line.size()) {
        return fail(ErrorCode::kCorrupt, "trailing characters after the object");
      }
      return out;
    }
    if (line[i] != ',') return fail(ErrorCode::kCorrupt, "expected ',' or '}'");
    i = skip_ws(line, i + 1);
  }
}

}  // namespace detail

Result<Dataset> load_dataset(Benchmark b, const std::string& path, const LoadOptions& options) {
  Dataset ds;
  ds.benchmark = b;
  ds.path = path;
  std::string split = options.split;
  const bool mbpp_like = b == Benchmark::kMbpp || b == Benchmark::kMbppSanitized;
  if (mbpp_like) {
    if (split.empty()) split = "test";
    DSTC_CHECK_OK(
        check_split(split, {"test", "train", "validation", "prompt", "all"}, benchmark_name(b)));
  } else if (b == Benchmark::kBigCodeBench) {
    if (split.empty()) split = "complete";
    DSTC_CHECK_OK(check_split(split, {"complete", "instruct"}, benchmark_name(b)));
  } else {
    if (split.empty()) split = "all";
    DSTC_CHECK_OK(check_split(split, {"all"}, benchmark_name(b)));
  }
  ds.split = split;

  auto text = read_maybe_gzip(path);
  if (!text) {
    return fail(text.error().context("loading " + std::string(benchmark_name(b)) + " data"));
  }
  ds.version = hex64(fnv1a64(*text));

  if (b == Benchmark::kMbppSanitized) {
    // A JSON array (the official file); a JSONL variant of it is accepted too.
    size_t first = skip_ws(*text, 0);
    auto add = [&](const Json& o, const std::string& where) -> Status {
      auto fail_at = [&](const Error& e) { return fail(e.context(where)); };
      if (!o.is_object()) return fail_at(Error(ErrorCode::kCorrupt, "expected an object"));
      if (!o.contains("task_id") || !o["task_id"].is_number_integer()) {
        return fail_at(Error(ErrorCode::kCorrupt, "field 'task_id' must be an integer"));
      }
      int64_t id = o["task_id"];
      Task t;
      t.task_id = "Mbpp/" + std::to_string(id);
      t.split = mbpp_split_of(id);
      auto p = json_string(o, "prompt");
      if (!p) return fail_at(p.error());
      auto code = json_string(o, "code");
      if (!code) return fail_at(code.error());
      auto tests = string_list(o, "test_list");
      if (!tests) return fail_at(tests.error());
      auto imports = string_list(o, "test_imports");
      if (!imports) return fail_at(imports.error());
      t.instruction = *p;
      t.test_list = *tests;
      for (const auto& imp : *imports) t.test_setup += imp + "\n";
      t.prompt = mbpp_prompt(*p, t.test_list);
      t.canonical = t.prompt + strip_cr(*code) + "\n";
      t.entry_point = mbpp_entry_point(t.canonical, t.test_list);
      if (keep_mbpp(split, t.split)) ds.tasks.push_back(std::move(t));
      return {};
    };
    if (first < text->size() && (*text)[first] == '[') {
      DSTC_TRY(auto arr, parse_json(*text, path));
      if (!arr.is_array()) return fail(ErrorCode::kCorrupt, path + ": expected a JSON array");
      for (size_t i = 0; i < arr.size(); ++i) {
        DSTC_CHECK_OK(add(arr[i], path + ": record " + std::to_string(i)));
      }
    } else {
      DSTC_CHECK_OK(for_each_jsonl(*text, path, [&](size_t line, const Json& o) -> Status {
        return add(o, path + ":" + std::to_string(line));
      }));
    }
  } else {
    // JSONL, one task per line. Lines are split by hand first so that EvalPlus inputs
    // (big integers, NaN) stay raw; everything else goes through nlohmann.
    size_t pos = 0, line_no = 0;
    while (pos < text->size()) {
      size_t nl = text->find('\n', pos);
      if (nl == std::string::npos) nl = text->size();
      std::string_view line(text->data() + pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (skip_ws(line, 0) == line.size()) continue;
      const std::string where = path + ":" + std::to_string(line_no);
      auto members = detail::split_top_level(line);
      if (!members) return fail(members.error().context(where));
      Json o = Json::object();
      for (const auto& [key, raw] : *members) {
        if (key == "base_input" || key == "plus_input") continue;
        auto v = parse_json(raw, "field '" + key + "'");
        if (!v) return fail(v.error().context(where));
        o[key] = std::move(*v);
      }
      Result<Task> t = fail(ErrorCode::kInternal, "unreachable");
      switch (b) {
        case Benchmark::kHumanEval:
          t = parse_humaneval(o);
          break;
        case Benchmark::kHumanEvalPlus:
        case Benchmark::kMbppPlus:
          t = parse_evalplus(b, o, *members);
          break;
        case Benchmark::kBigCodeBench:
          t = parse_bigcodebench(o, split);
          break;
        case Benchmark::kMbpp: {
          if (!o.contains("task_id") || !o["task_id"].is_number_integer()) {
            t = fail(ErrorCode::kCorrupt, "field 'task_id' must be an integer");
            break;
          }
          int64_t id = o["task_id"];
          Task m;
          m.task_id = "Mbpp/" + std::to_string(id);
          m.split = mbpp_split_of(id);
          auto txt = json_string(o, "text");
          auto code = json_string(o, "code");
          auto tests = string_list(o, "test_list");
          if (!txt || !code || !tests) {
            t = fail(!txt ? txt.error() : !code ? code.error() : tests.error());
            break;
          }
          if (o.contains("test_setup_code") && o["test_setup_code"].is_string()) {
            m.test_setup = strip_cr(o["test_setup_code"].get<std::string>());
          }
          m.instruction = *txt;
          m.test_list = *tests;
          m.prompt = mbpp_prompt(*txt, m.test_list);
          m.canonical = m.prompt + strip_cr(*code) + "\n";
          m.entry_point = mbpp_entry_point(m.canonical, m.test_list);
          t = std::move(m);
          break;
        }
        case Benchmark::kMbppSanitized:
          break;
      }
      if (!t) return fail(t.error().context(where));
      if (b == Benchmark::kMbpp && !keep_mbpp(split, t->split)) continue;
      ds.tasks.push_back(std::move(*t));
    }
  }
  if (ds.tasks.empty()) {
    return fail(ErrorCode::kCorrupt,
                path + ": no tasks (empty file or empty split '" + split + "')");
  }
  return ds;
}

}  // namespace dstc::benchmarks
