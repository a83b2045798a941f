// `dstc tokenizer`: encode and decode with a tokenizer.json, train a byte-level BPE.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "cli/command.h"
#include "common/file.h"
#include "common/json.h"
#include "generator/text/bpe_trainer.h"
#include "generator/text/tokenizer.h"

namespace dstc::cli {
namespace {

using generator::Tokenizer;

struct TokenizerArgs {
  std::string tokenizer;
  std::string text;
  bool text_given = false;
  std::string ids;
  bool add_special = false;
  bool no_parse_special = false;
  bool skip_special = false;
  // train
  std::vector<std::string> inputs;
  std::vector<std::string> fields;
  int32_t vocab_size = 1024;
  std::vector<std::string> specials = {"<|endoftext|>"};
  std::string style = "gpt2";
  int64_t min_frequency = 2;
  std::string out;
};

std::string read_stdin() {
  std::ostringstream ss;
  ss << std::cin.rdbuf();
  return ss.str();
}

Status run_encode(const TokenizerArgs& a) {
  DSTC_TRY(Tokenizer tok, Tokenizer::from_file(a.tokenizer));
  std::string text = a.text_given ? a.text : read_stdin();
  auto ids = tok.encode(text, a.add_special, !a.no_parse_special);
  std::printf("%s\n", Json{{"ids", ids}}.dump().c_str());
  return {};
}

// Ids from "1,2,3", "1 2 3", "[1,2,3]" or {"ids": [1,2,3]}.
Result<std::vector<int32_t>> parse_ids(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
    trimmed.pop_back();
  size_t first = trimmed.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (trimmed[first] == '[' || trimmed[first] == '{')) {
    DSTC_TRY(Json j, parse_json(trimmed, "ids"));
    if (j.is_object()) j = j.value("ids", Json());
    if (!j.is_array())
      return fail(ErrorCode::kInvalidArgument, "ids: expected a JSON array or {\"ids\": [...]}");
    std::vector<int32_t> ids;
    for (const Json& v : j) {
      if (!v.is_number_integer())
        return fail(ErrorCode::kInvalidArgument, "ids: " + v.dump() + " is not an integer");
      ids.push_back(v.get<int32_t>());
    }
    return ids;
  }
  std::vector<int32_t> ids;
  std::string token;
  auto flush = [&]() -> Status {
    if (token.empty()) return {};
    try {
      size_t used = 0;
      long v = std::stol(token, &used);
      if (used != token.size()) throw std::invalid_argument(token);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return fail(ErrorCode::kInvalidArgument, "ids: '" + token + "' is not an integer");
    }
    token.clear();
    return {};
  };
  for (char c : trimmed) {
    if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
      DSTC_CHECK_OK(flush());
    } else {
      token += c;
    }
  }
  DSTC_CHECK_OK(flush());
  return ids;
}

Status run_decode(const TokenizerArgs& a) {
  DSTC_TRY(Tokenizer tok, Tokenizer::from_file(a.tokenizer));
  DSTC_TRY(auto ids, parse_ids(a.ids.empty() ? read_stdin() : a.ids));
  for (int32_t id : ids) {
    if (!tok.id_to_token(id)) {
      return fail(ErrorCode::kInvalidArgument, "id " + std::to_string(id) + " is not in " +
                                                   a.tokenizer + " (vocab size " +
                                                   std::to_string(tok.vocab_size()) + ")");
    }
  }
  std::printf("%s\n", Json{{"text", tok.decode(ids, a.skip_special)}}.dump().c_str());
  return {};
}

Status run_info(const TokenizerArgs& a) {
  DSTC_TRY(Tokenizer tok, Tokenizer::from_file(a.tokenizer));
  Json out = {{"vocab_size", tok.vocab_size()},
              {"tokens", tok.token_count()},
              {"added_tokens", tok.added_tokens().size()},
              {"eos_id", tok.eos_id() ? Json(*tok.eos_id()) : Json(nullptr)},
              {"bos_id", tok.bos_id() ? Json(*tok.bos_id()) : Json(nullptr)},
              {"pad_id", tok.pad_id() ? Json(*tok.pad_id()) : Json(nullptr)},
              {"has_chat_template", !tok.chat_template().empty()}};
  std::printf("%s\n", out.dump().c_str());
  return {};
}

Status run_train(const TokenizerArgs& a) {
  auto start = std::chrono::steady_clock::now();
  generator::BpeTrainerOptions opts;
  opts.vocab_size = a.vocab_size;
  opts.special_tokens = a.specials;
  DSTC_TRY(opts.style, generator::parse_pretokenizer_style(a.style));
  opts.min_frequency = a.min_frequency;
  DSTC_TRY(auto trainer, generator::BpeTrainer::create(opts));
  size_t documents = 0, bytes = 0;
  for (const std::string& path : a.inputs) {
    DSTC_TRY(std::string text, read_maybe_gzip(path));
    bool jsonl = path.find(".jsonl") != std::string::npos;
    if (!jsonl) {
      trainer.add_text(text);
      ++documents;
      bytes += text.size();
      continue;
    }
    // JSONL: the named fields of each object, or every string field when none is named.
    DSTC_CHECK_OK(for_each_jsonl(text, path, [&](size_t line, const Json& obj) -> Status {
      if (!obj.is_object())
        return fail(ErrorCode::kInvalidArgument,
                    "line " + std::to_string(line) + " is not an object");
      if (a.fields.empty()) {
        for (const auto& [key, value] : obj.items()) {
          if (value.is_string()) {
            trainer.add_text(value.get_ref<const std::string&>());
            ++documents;
            bytes += value.get_ref<const std::string&>().size();
          }
        }
        return {};
      }
      for (const std::string& field : a.fields) {
        DSTC_TRY(std::string value, json_string(obj, field));
        trainer.add_text(value);
        ++documents;
        bytes += value.size();
      }
      return {};
    }));
  }
  DSTC_TRY(std::string json, trainer.train_json());
  DSTC_TRY(Tokenizer tok, Tokenizer::from_json_text(json, a.out));
  DSTC_CHECK_OK(write_file_atomic(a.out, json));
  std::filesystem::path config_path =
      std::filesystem::path(a.out).parent_path() / "tokenizer_config.json";
  DSTC_CHECK_OK(write_file_atomic(config_path.string(),
                                  generator::trained_tokenizer_config(opts).dump(2) + "\n"));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Json out = {{"out", a.out},
              {"config", config_path.string()},
              {"vocab_size", tok.vocab_size()},
              {"documents", documents},
              {"input_bytes", bytes},
              {"unique_words", trainer.unique_words()},
              {"seconds", seconds}};
  std::printf("%s\n", out.dump().c_str());
  return {};
}

void register_tokenizer(CLI::App& app, Globals& /*globals*/, Action& action) {
  auto args = std::make_shared<TokenizerArgs>();
  auto* cmd =
      app.add_subcommand("tokenizer", "Encode, decode and train tokenizer.json BPE tokenizers");
  cmd->require_subcommand(1);
  auto add_tokenizer = [&](CLI::App* sub) {
    sub->add_option("--tokenizer", args->tokenizer,
                    "tokenizer.json (plain or gzip) or a model directory holding one")
        ->required();
  };

  auto* enc =
      cmd->add_subcommand("encode", "Text (--text or stdin) to ids; prints {\"ids\": [...]}");
  add_tokenizer(enc);
  enc->add_option("--text", args->text, "Text to encode (default: all of stdin)");
  enc->add_flag("--add-special", args->add_special, "Run the post-processor (e.g. add a BOS)");
  enc->add_flag("--no-parse-special", args->no_parse_special,
                "Encode special-token text (e.g. <|im_end|>) as plain text");
  enc->callback([&action, args, enc] {
    args->text_given = enc->count("--text") > 0;
    action = [args] { return run_encode(*args); };
  });

  auto* dec = cmd->add_subcommand(
      "decode",
      "Ids (--ids 1,2,3 or stdin: list or {\"ids\": [...]}) to text; prints {\"text\": ...}");
  add_tokenizer(dec);
  dec->add_option("--ids", args->ids, "Comma-separated ids (default: read stdin)");
  dec->add_flag("--skip-special", args->skip_special, "Drop special tokens");
  dec->callback([&action, args] { action = [args] { return run_decode(*args); }; });

  auto* info = cmd->add_subcommand("info", "Vocab size, special ids and template presence as JSON");
  add_tokenizer(info);
  info->callback([&action, args] { action = [args] { return run_info(*args); }; });

  auto* train = cmd->add_subcommand(
      "train",
      "Train a byte-level BPE on text or JSONL files; writes tokenizer.json and a "
      "tokenizer_config.json beside it");
  train
      ->add_option("--input", args->inputs,
                   "Input files: .txt (whole file) or .jsonl (string fields)")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--field", args->fields,
                    "JSONL fields to read (repeatable; default: every string field)");
  train->add_option("--vocab-size", args->vocab_size, "Total ids: specials + 256 bytes + merges")
      ->capture_default_str();
  train
      ->add_option("--special", args->specials,
                   "Special tokens, ids 0.. in order; the first is EOS and PAD")
      ->capture_default_str();
  train->add_option("--style", args->style, "Pre-tokenizer: gpt2 or qwen2 (single digits)")
      ->check(CLI::IsMember({"gpt2", "qwen2"}))
      ->capture_default_str();
  train->add_option("--min-frequency", args->min_frequency, "Smallest pair count that is merged")
      ->capture_default_str();
  train->add_option("--out", args->out, "Output tokenizer.json")->required();
  train->callback([&action, args] { action = [args] { return run_train(*args); }; });
}

}  // namespace

DSTC_REGISTER_COMMAND(tokenizer, register_tokenizer);

}  // namespace dstc::cli
