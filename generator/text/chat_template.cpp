#include "generator/text/chat_template.h"

namespace dstc::generator {

namespace {

constexpr const char* kLlama3Bos = "<|begin_of_text|>";
// DeepSeek-Coder's BOS uses full-width bars and U+2581: <｜begin▁of▁sentence｜>.
constexpr const char* kDeepSeekBos =
    "<\xEF\xBD\x9C"
    "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";

const char* bos_text(ChatFormat format) {
  switch (format) {
    case ChatFormat::kLlama3:
      return kLlama3Bos;
    case ChatFormat::kDeepSeekCoder:
      return kDeepSeekBos;
    default:
      return nullptr;
  }
}

// Llama 3's template trims each message's content (`message['content'] | trim`).
std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

Result<ChatFormat> parse_chat_format(std::string_view name) {
  if (name == "plain" || name == "completion") return ChatFormat::kPlain;
  if (name == "chatml" || name == "qwen") return ChatFormat::kChatMl;
  if (name == "llama3") return ChatFormat::kLlama3;
  if (name == "deepseek-coder" || name == "deepseek") return ChatFormat::kDeepSeekCoder;
  return fail(ErrorCode::kInvalidArgument,
              "unknown chat format '" + std::string(name) +
                  "' (expected auto, plain, chatml, llama3 or deepseek-coder)");
}

std::string_view chat_format_name(ChatFormat format) {
  switch (format) {
    case ChatFormat::kPlain:
      return "plain";
    case ChatFormat::kChatMl:
      return "chatml";
    case ChatFormat::kLlama3:
      return "llama3";
    case ChatFormat::kDeepSeekCoder:
      return "deepseek-coder";
  }
  return "plain";
}

Result<ChatFormat> detect_chat_format(std::string_view t) {
  if (t.find("<|im_start|>") != std::string_view::npos) return ChatFormat::kChatMl;
  if (t.find("<|start_header_id|>") != std::string_view::npos) return ChatFormat::kLlama3;
  if (t.find("### Instruction") != std::string_view::npos &&
      t.find("### Response") != std::string_view::npos) {
    return ChatFormat::kDeepSeekCoder;
  }
  std::string head(t.substr(0, 80));
  for (char& c : head) {
    if (c == '\n') c = ' ';
  }
  return fail(ErrorCode::kInvalidArgument,
              "unrecognised chat_template in tokenizer_config.json (starts \"" + head +
                  "...\"); no built-in template matches its markers: choose one with "
                  "chat_format = plain, chatml, llama3 or deepseek-coder");
}

Result<ChatFormat> resolve_chat_format(std::string_view name, std::string_view jinja_template) {
  if (name.empty() || name == "auto") {
    if (jinja_template.empty()) return ChatFormat::kPlain;
    return detect_chat_format(jinja_template);
  }
  return parse_chat_format(name);
}

std::vector<PromptSegment> ChatTemplate::segments(const std::vector<ChatMessage>& messages,
                                                  bool add_generation_prompt) const {
  std::vector<PromptSegment> out;
  auto control = [&](std::string text) { out.push_back({std::move(text), true}); };
  auto content = [&](std::string text) {
    if (!text.empty()) out.push_back({std::move(text), false});
  };
  switch (format_) {
    case ChatFormat::kPlain: {
      for (size_t i = 0; i < messages.size(); ++i) {
        if (i > 0) content("\n\n");
        content(messages[i].content);
      }
      break;
    }
    case ChatFormat::kChatMl: {
      for (const auto& m : messages) {
        control("<|im_start|>" + m.role + "\n");
        content(m.content);
        control("<|im_end|>\n");
      }
      if (add_generation_prompt) control("<|im_start|>assistant\n");
      break;
    }
    case ChatFormat::kLlama3: {
      for (const auto& m : messages) {
        control("<|start_header_id|>" + m.role + "<|end_header_id|>\n\n");
        content(trim(m.content));
        control("<|eot_id|>");
      }
      if (add_generation_prompt) control("<|start_header_id|>assistant<|end_header_id|>\n\n");
      break;
    }
    case ChatFormat::kDeepSeekCoder: {
      bool has_system = false;
      for (const auto& m : messages) has_system |= m.role == "system";
      if (!has_system) content(kDeepSeekCoderSystem);
      for (const auto& m : messages) {
        if (m.role == "system") {
          content(m.content);
        } else if (m.role == "user") {
          control("### Instruction:\n");
          content(m.content);
          control("\n");
        } else {
          control("### Response:\n");
          content(m.content);
          control("\n<|EOT|>\n");
        }
      }
      if (add_generation_prompt) control("### Response:");
      break;
    }
  }
  return out;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  std::string text;
  if (const char* bos = bos_text(format_)) text += bos;
  for (const auto& s : segments(messages, add_generation_prompt)) text += s.text;
  return text;
}

std::vector<int32_t> ChatTemplate::encode(const Tokenizer& tokenizer,
                                          const std::vector<ChatMessage>& messages,
                                          bool add_generation_prompt) const {
  std::vector<int32_t> ids;
  if (const char* bos = bos_text(format_)) {
    if (tokenizer.bos_id()) {
      ids.push_back(*tokenizer.bos_id());
    } else if (auto id = tokenizer.token_to_id(bos)) {
      ids.push_back(*id);
    }
  }
  // Added tokens are matched only inside control segments; the plain text between two
  // of them is encoded in one piece across segment boundaries, as HF encodes the
  // rendered string (pre-tokenization may join a marker's "\n" with the content).
  std::string pending;
  auto flush = [&] {
    auto part = tokenizer.encode(pending, /*add_special=*/false, /*parse_special=*/false);
    ids.insert(ids.end(), part.begin(), part.end());
    pending.clear();
  };
  const auto& added = tokenizer.added_tokens();
  for (const auto& seg : segments(messages, add_generation_prompt)) {
    if (!seg.control) {
      pending += seg.text;
      continue;
    }
    for (size_t i = 0; i < seg.text.size();) {
      const AddedToken* match = nullptr;
      for (const auto& a : added) {
        if (seg.text.compare(i, a.content.size(), a.content) == 0 &&
            (match == nullptr || a.content.size() > match->content.size())) {
          match = &a;
        }
      }
      if (match == nullptr) {
        pending += seg.text[i++];
        continue;
      }
      flush();
      ids.push_back(match->id);
      i += match->content.size();
    }
  }
  flush();
  return ids;
}

std::vector<std::string> ChatTemplate::stop_strings() const {
  switch (format_) {
    case ChatFormat::kChatMl:
      return {"<|im_end|>"};
    case ChatFormat::kLlama3:
      return {"<|eot_id|>"};
    case ChatFormat::kDeepSeekCoder:
      return {"<|EOT|>"};
    case ChatFormat::kPlain:
      return {};
  }
  return {};
}

}  // namespace dstc::generator
