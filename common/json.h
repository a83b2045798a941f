// JSON helpers on nlohmann::json: parsing with errors that name the source, typed
// field access whose errors name the field, and JSONL reading with line numbers.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/error.h"

namespace dstc {

using Json = nlohmann::json;

// Parses `text`; `source` names it in the error ("config.json").
Result<Json> parse_json(std::string_view text, std::string_view source);

// Typed access to a required field of a JSON object: "missing field 'prompt'",
// "field 'n' must be an integer, got string".
Result<std::string> json_string(const Json& obj, std::string_view key);
Result<int64_t> json_int(const Json& obj, std::string_view key);
Result<double> json_number(const Json& obj, std::string_view key);
Result<bool> json_bool(const Json& obj, std::string_view key);

// Calls `fn(line_number, object)` for each non-blank line of a JSONL text; stops at
// the first error, which names `source` and the 1-based line.
Status for_each_jsonl(std::string_view text, std::string_view source,
                      const std::function<Status(size_t line, const Json& obj)>& fn);

}  // namespace dstc
