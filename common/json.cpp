#include "common/json.h"

namespace dstc {
namespace {

Result<const Json*> field(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return fail(ErrorCode::kCorrupt, "expected a JSON object");
  auto it = obj.find(key);
  if (it == obj.end()) return fail(ErrorCode::kCorrupt, "missing field '" + std::string(key) + "'");
  return &*it;
}

Error wrong_type(std::string_view key, const char* want, const Json& got) {
  return Error(ErrorCode::kCorrupt,
               "field '" + std::string(key) + "' must be " + want + ", got " + got.type_name());
}

}  // namespace

Result<Json> parse_json(std::string_view text, std::string_view source) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again with exceptions only to get nlohmann's position message.
    try {
      Json unused = Json::parse(text);
      (void)unused;
    } catch (const Json::parse_error& e) {
      return fail(ErrorCode::kCorrupt, std::string(source) + ": invalid JSON: " + e.what());
    }
    return fail(ErrorCode::kCorrupt, std::string(source) + ": invalid JSON");
  }
  return j;
}

Result<std::string> json_string(const Json& obj, std::string_view key) {
  DSTC_TRY(const Json* v, field(obj, key));
  if (!v->is_string()) return fail(wrong_type(key, "a string", *v));
  return v->get<std::string>();
}

Result<int64_t> json_int(const Json& obj, std::string_view key) {
  DSTC_TRY(const Json* v, field(obj, key));
  if (!v->is_number_integer()) return fail(wrong_type(key, "an integer", *v));
  return v->get<int64_t>();
}

Result<double> json_number(const Json& obj, std::string_view key) {
  DSTC_TRY(const Json* v, field(obj, key));
  if (!v->is_number()) return fail(wrong_type(key, "a number", *v));
  return v->get<double>();
}

Result<bool> json_bool(const Json& obj, std::string_view key) {
  DSTC_TRY(const Json* v, field(obj, key));
  if (!v->is_boolean()) return fail(wrong_type(key, "a boolean", *v));
  return v->get<bool>();
}

Status for_each_jsonl(std::string_view text, std::string_view source,
                      const std::function<Status(size_t line, const Json& obj)>& fn) {
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string where = std::string(source) + ":" + std::to_string(line_no);
    Json obj = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (obj.is_discarded()) return fail(ErrorCode::kCorrupt, where + ": invalid JSON");
    if (!obj.is_object()) return fail(ErrorCode::kCorrupt, where + ": expected a JSON object");
    auto status = fn(line_no, obj);
    if (!status) return fail(std::move(status).error().context(where));
  }
  return {};
}

}  // namespace dstc
