#include "generator/text/prompts.h"

#include <cctype>

namespace dstc::generator {

namespace {

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Byte offset of each line start.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// The name after "def " at the start of `line` (after optional "async "), or empty.
std::string def_name(std::string_view line) {
  if (line.substr(0, 6) == "async ") line.remove_prefix(6);
  if (line.substr(0, 4) != "def ") return {};
  size_t i = 4;
  while (i < line.size() && line[i] == ' ') ++i;
  size_t b = i;
  while (i < line.size() && is_ident(line[i])) ++i;
  return std::string(line.substr(b, i - b));
}

std::string with_entry(std::string text, std::string_view entry) {
  size_t pos;
  while ((pos = text.find("{entry}")) != std::string::npos) text.replace(pos, 7, entry);
  return text;
}

Result<std::string> resolve_entry(const CodeTask& task) {
  if (!task.entry_point.empty()) return task.entry_point;
  auto entry = infer_entry_point(task.prompt);
  if (!entry) {
    return fail(std::move(entry).error().context("task " + task.task_id));
  }
  return entry;
}

std::string fenced(std::string_view prompt) {
  std::string text = "```python\n" + std::string(prompt);
  if (text.back() != '\n') text += '\n';
  return text + "```\n";
}

}  // namespace

Result<std::string> infer_entry_point(std::string_view prompt) {
  std::string last;
  for (std::string_view line : lines_of(prompt)) {
    std::string name = def_name(line);  // top level only: no indentation
    if (!name.empty()) last = name;
  }
  if (last.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "no top-level 'def NAME(' in the prompt to use as entry point; give "
                "'entry_point' in the prompts file");
  }
  return last;
}

std::string entry_signature(std::string_view prompt, std::string_view entry_point) {
  auto lines = lines_of(prompt);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (def_name(lines[i]) != entry_point) continue;
    // A signature may span lines until the bracket depth returns to zero and ':' ends it.
    std::string sig;
    int depth = 0;
    for (size_t j = i; j < lines.size(); ++j) {
      if (j > i) sig += ' ';
      std::string_view l = lines[j];
      size_t b = l.find_first_not_of(" \t");
      if (b != std::string_view::npos) sig += l.substr(b);
      for (char c : l) depth += c == '(' || c == '[' ? 1 : c == ')' || c == ']' ? -1 : 0;
      if (depth <= 0) break;
    }
    while (!sig.empty() && (sig.back() == ' ' || sig.back() == '\r')) sig.pop_back();
    return sig;
  }
  return "def " + std::string(entry_point) + "(...)";
}

Result<std::vector<ChatMessage>> code_prompt(const CodeTask& task, ChatFormat format,
                                             const PromptOptions& options) {
  DSTC_TRY(std::string entry, resolve_entry(task));
  std::vector<ChatMessage> messages;
  if (format == ChatFormat::kPlain) {
    messages.push_back({"user", task.prompt});
    return messages;
  }
  if (!options.system.empty()) messages.push_back({"system", options.system});
  std::string sig = entry_signature(task.prompt, entry);
  std::string text =
      "Complete the following Python function. Implement it as a self-contained function "
      "named `" +
      entry + "` with the signature `" + sig +
      "`, including any imports it needs.\n"
      "Reply with a single ```python code block that contains the complete function. Do not "
      "include tests, example usage or input/output.\n\n" +
      fenced(task.prompt);
  messages.push_back({"user", std::move(text)});
  return messages;
}

Result<std::vector<ChatMessage>> test_prompt(const CodeTask& task, ChatFormat format,
                                             const PromptOptions& options) {
  DSTC_TRY(std::string entry, resolve_entry(task));
  std::vector<ChatMessage> messages;
  if (format == ChatFormat::kPlain) {
    std::string text = task.prompt;
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += "    pass\n\n\n" + with_entry(kPlainTestHeader, entry);
    messages.push_back({"user", std::move(text)});
    return messages;
  }
  if (!options.system.empty()) messages.push_back({"system", options.system});
  std::string sig = entry_signature(task.prompt, entry);
  std::string n = std::to_string(options.num_tests);
  std::string text =
      "Write tests for the following Python function `" + entry + "` with the signature `" + sig +
      "`. The function is already defined: do not implement or redefine it.\n"
      "Reply with a single ```python code block of " +
      n + " independent test cases, one per line, each of the form `assert " + entry +
      "(...) == ...`, with expected values that follow from the description. No input/output, "
      "no other code.\n\n" +
      fenced(task.prompt);
  messages.push_back({"user", std::move(text)});
  return messages;
}

const std::vector<std::string>& plain_code_stops() {
  static const std::vector<std::string> stops = {"\ndef ",   "\nclass ",  "\nif __name__",
                                                 "\nprint(", "\nassert ", "\n#"};
  return stops;
}

}  // namespace dstc::generator
