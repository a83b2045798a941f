// Built-in chat templates (no Jinja engine): ChatML (Qwen), Llama 3, DeepSeek-Coder
// instruct, and plain completion. A model's template is picked by name or recognised
// from the `chat_template` string of its tokenizer_config.json by its markers.
//
// Prompts are kept as segments: template markers are control text (encoded with
// special-token parsing on) and message contents are data (encoded with it off), so a
// task or a generated program that contains "<|im_end|>" cannot forge a turn.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "generator/text/tokenizer.h"

namespace dstc::generator {

enum class ChatFormat {
  kPlain,          // completion: contents joined by blank lines, no markers
  kChatMl,         // <|im_start|>role\n...<|im_end|>\n  (Qwen2/2.5/3, Qwen2.5-Coder)
  kLlama3,         // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  kDeepSeekCoder,  // ### Instruction:\n...\n### Response:  (DeepSeek-Coder instruct)
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// "plain" (or "completion"), "chatml" (or "qwen"), "llama3", "deepseek-coder" (or
// "deepseek"). The error lists the accepted names.
Result<ChatFormat> parse_chat_format(std::string_view name);
std::string_view chat_format_name(ChatFormat format);

// Recognises a Jinja chat template by its markers; kInvalidArgument for an unknown one
// (the message says to pick a format by name).
Result<ChatFormat> detect_chat_format(std::string_view jinja_template);

// `name` "auto" (or empty): detect from `jinja_template`, or plain when there is none.
// Any other name: parse_chat_format(name).
Result<ChatFormat> resolve_chat_format(std::string_view name, std::string_view jinja_template);

struct PromptSegment {
  std::string text;
  bool control = false;  // template markup: special tokens in it are parsed
};

class ChatTemplate {
 public:
  explicit ChatTemplate(ChatFormat format) : format_(format) {}
  ChatFormat format() const { return format_; }

  // The prompt as segments. With add_generation_prompt the assistant turn is opened
  // at the end so the model continues as the assistant. BOS is not included (see
  // encode). DeepSeek-Coder adds its default system prompt when none is given, as its
  // template does.
  std::vector<PromptSegment> segments(const std::vector<ChatMessage>& messages,
                                      bool add_generation_prompt = true) const;

  // segments() joined, with the literal BOS text first where the format has one
  // (Llama 3, DeepSeek-Coder). Mirrors what HF's apply_chat_template renders.
  std::string render(const std::vector<ChatMessage>& messages,
                     bool add_generation_prompt = true) const;

  // Token ids: the tokenizer's BOS (when the format uses one and the tokenizer has
  // one), then each segment, control segments with special-token parsing, content
  // without. Encode nothing else with add_special on top of this.
  std::vector<int32_t> encode(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt = true) const;

  // Strings that end the assistant's turn in this format ("<|im_end|>", "<|eot_id|>",
  // "<|EOT|>"); empty for plain. Use them as stop strings along with the EOS id.
  std::vector<std::string> stop_strings() const;

 private:
  ChatFormat format_;
};

// DeepSeek-Coder instruct's default system prompt (used when no system message is given).
inline constexpr const char* kDeepSeekCoderSystem =
    "You are an AI programming assistant, utilizing the Deepseek Coder model, developed by "
    "Deepseek Company, and you only answer questions related to computer science. For "
    "politically sensitive questions, security and privacy issues, and other non-computer "
    "science questions, you will refuse to answer\n";

}  // namespace dstc::generator
