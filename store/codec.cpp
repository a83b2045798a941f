#include "store/codec.h"

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace dstc::store::codec {
namespace {

using Json = nlohmann::json;
constexpr unsigned char kMagic = 0xD5;

std::string frame(const Json& body) {
  std::string out;
  out.push_back(static_cast<char>(kMagic));
  out.push_back(static_cast<char>((kSchemaVersion >> 8) & 0xff));
  out.push_back(static_cast<char>(kSchemaVersion & 0xff));
  std::vector<uint8_t> packed = Json::to_msgpack(body);
  out.append(reinterpret_cast<const char*>(packed.data()), packed.size());
  return out;
}

Result<Json> unframe(std::string_view value) {
  DSTC_TRY(uint32_t version, version_of(value));
  if (version > kSchemaVersion) {
    return fail(ErrorCode::kVersion, "record has schema version " + std::to_string(version) +
                                         ", this dstc understands up to " +
                                         std::to_string(kSchemaVersion) + "; upgrade dstc");
  }
  Json body = Json::from_msgpack(value.substr(3), /*strict=*/true, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return fail(ErrorCode::kCorrupt, "record body is not valid MessagePack");
  }
  return body;
}

// Reads body[key] into out; a missing or mistyped field is corruption.
template <typename T>
Status field(const Json& body, const char* key, T& out) {
  auto it = body.find(key);
  if (it == body.end())
    return fail(ErrorCode::kCorrupt, std::string("record lacks field '") + key + "'");
  try {
    out = it->get<T>();
  } catch (const Json::exception&) {
    return fail(ErrorCode::kCorrupt, std::string("record field '") + key + "' has the wrong type");
  }
  return {};
}

template <typename Record, typename Fn>
Status decode_with(std::string_view value, Record& out, Fn&& fields) {
  DSTC_TRY(Json body, unframe(value));
  return fields(body, out);
}

}  // namespace

Result<uint32_t> version_of(std::string_view value) {
  if (value.size() < 3 || static_cast<unsigned char>(value[0]) != kMagic) {
    return fail(ErrorCode::kCorrupt, "record header is not a dstc store value");
  }
  return (static_cast<uint32_t>(static_cast<unsigned char>(value[1])) << 8) |
         static_cast<unsigned char>(value[2]);
}

std::string encode(const Problem& r) {
  return frame({{"task_id", r.task_id},
                {"prompt", r.prompt},
                {"entry_point", r.entry_point},
                {"canonical_solution", r.canonical_solution},
                {"hidden_tests", r.hidden_tests},
                {"split", r.split}});
}

Status decode(std::string_view value, Problem& out) {
  return decode_with(value, out, [](const Json& b, Problem& r) -> Status {
    DSTC_CHECK_OK(field(b, "task_id", r.task_id));
    DSTC_CHECK_OK(field(b, "prompt", r.prompt));
    DSTC_CHECK_OK(field(b, "entry_point", r.entry_point));
    DSTC_CHECK_OK(field(b, "canonical_solution", r.canonical_solution));
    DSTC_CHECK_OK(field(b, "hidden_tests", r.hidden_tests));
    return field(b, "split", r.split);
  });
}

std::string encode(const Sample& r) {
  const SamplingInfo& s = r.sampling;
  return frame({{"round", r.round},
                {"task_id", r.task_id},
                {"kind", std::string(sample_kind_name(r.kind))},
                {"index", r.index},
                {"raw", r.raw},
                {"program", r.program},
                {"model_id", s.model_id},
                {"temperature", s.temperature},
                {"top_p", s.top_p},
                {"top_k", s.top_k},
                {"max_new_tokens", s.max_new_tokens},
                {"seed", s.seed}});
}

Status decode(std::string_view value, Sample& out) {
  return decode_with(value, out, [](const Json& b, Sample& r) -> Status {
    std::string kind;
    DSTC_CHECK_OK(field(b, "kind", kind));
    if (kind != "code" && kind != "test") {
      return fail(ErrorCode::kCorrupt, "sample kind '" + kind + "' is neither code nor test");
    }
    r.kind = kind == "code" ? SampleKind::kCode : SampleKind::kTest;
    DSTC_CHECK_OK(field(b, "round", r.round));
    DSTC_CHECK_OK(field(b, "task_id", r.task_id));
    DSTC_CHECK_OK(field(b, "index", r.index));
    DSTC_CHECK_OK(field(b, "raw", r.raw));
    DSTC_CHECK_OK(field(b, "program", r.program));
    DSTC_CHECK_OK(field(b, "model_id", r.sampling.model_id));
    DSTC_CHECK_OK(field(b, "temperature", r.sampling.temperature));
    DSTC_CHECK_OK(field(b, "top_p", r.sampling.top_p));
    DSTC_CHECK_OK(field(b, "top_k", r.sampling.top_k));
    DSTC_CHECK_OK(field(b, "max_new_tokens", r.sampling.max_new_tokens));
    return field(b, "seed", r.sampling.seed);
  });
}

std::string encode(const Execution& r) {
  return frame({{"round", r.round},
                {"task_id", r.task_id},
                {"code", r.code_index},
                {"test", r.test_index},
                {"status", r.status},
                {"wall_ms", r.wall_ms},
                {"cpu_ms", r.cpu_ms},
                {"detail", r.detail}});
}

Status decode(std::string_view value, Execution& out) {
  return decode_with(value, out, [](const Json& b, Execution& r) -> Status {
    DSTC_CHECK_OK(field(b, "round", r.round));
    DSTC_CHECK_OK(field(b, "task_id", r.task_id));
    DSTC_CHECK_OK(field(b, "code", r.code_index));
    DSTC_CHECK_OK(field(b, "test", r.test_index));
    DSTC_CHECK_OK(field(b, "status", r.status));
    DSTC_CHECK_OK(field(b, "wall_ms", r.wall_ms));
    DSTC_CHECK_OK(field(b, "cpu_ms", r.cpu_ms));
    return field(b, "detail", r.detail);
  });
}

std::string encode(const Pair& r) {
  return frame({{"round", r.round},
                {"task_id", r.task_id},
                {"selector", r.selector},
                {"index", r.index},
                {"prompt", r.prompt},
                {"chosen", r.chosen},
                {"rejected", r.rejected},
                {"chosen_code", r.chosen_code},
                {"chosen_test", r.chosen_test},
                {"rejected_code", r.rejected_code},
                {"rejected_test", r.rejected_test},
                {"chosen_score", r.chosen_score},
                {"rejected_score", r.rejected_score}});
}

Status decode(std::string_view value, Pair& out) {
  return decode_with(value, out, [](const Json& b, Pair& r) -> Status {
    DSTC_CHECK_OK(field(b, "round", r.round));
    DSTC_CHECK_OK(field(b, "task_id", r.task_id));
    DSTC_CHECK_OK(field(b, "selector", r.selector));
    DSTC_CHECK_OK(field(b, "index", r.index));
    DSTC_CHECK_OK(field(b, "prompt", r.prompt));
    DSTC_CHECK_OK(field(b, "chosen", r.chosen));
    DSTC_CHECK_OK(field(b, "rejected", r.rejected));
    DSTC_CHECK_OK(field(b, "chosen_code", r.chosen_code));
    DSTC_CHECK_OK(field(b, "chosen_test", r.chosen_test));
    DSTC_CHECK_OK(field(b, "rejected_code", r.rejected_code));
    DSTC_CHECK_OK(field(b, "rejected_test", r.rejected_test));
    DSTC_CHECK_OK(field(b, "chosen_score", r.chosen_score));
    return field(b, "rejected_score", r.rejected_score);
  });
}

std::string encode(const KtoExample& r) {
  return frame({{"round", r.round},
                {"task_id", r.task_id},
                {"selector", r.selector},
                {"index", r.index},
                {"prompt", r.prompt},
                {"completion", r.completion},
                {"label", r.label}});
}

Status decode(std::string_view value, KtoExample& out) {
  return decode_with(value, out, [](const Json& b, KtoExample& r) -> Status {
    DSTC_CHECK_OK(field(b, "round", r.round));
    DSTC_CHECK_OK(field(b, "task_id", r.task_id));
    DSTC_CHECK_OK(field(b, "selector", r.selector));
    DSTC_CHECK_OK(field(b, "index", r.index));
    DSTC_CHECK_OK(field(b, "prompt", r.prompt));
    DSTC_CHECK_OK(field(b, "completion", r.completion));
    return field(b, "label", r.label);
  });
}

std::string encode(const EvalResult& r) {
  return frame({{"round", r.round},
                {"benchmark", r.benchmark},
                {"task_id", r.task_id},
                {"n", r.n},
                {"correct", r.correct},
                {"statuses", r.statuses}});
}

Status decode(std::string_view value, EvalResult& out) {
  return decode_with(value, out, [](const Json& b, EvalResult& r) -> Status {
    DSTC_CHECK_OK(field(b, "round", r.round));
    DSTC_CHECK_OK(field(b, "benchmark", r.benchmark));
    DSTC_CHECK_OK(field(b, "task_id", r.task_id));
    DSTC_CHECK_OK(field(b, "n", r.n));
    DSTC_CHECK_OK(field(b, "correct", r.correct));
    return field(b, "statuses", r.statuses);
  });
}

std::string encode_string(std::string_view value) { return frame({{"v", value}}); }

Status decode_string(std::string_view value, std::string& out) {
  DSTC_TRY(Json body, unframe(value));
  return field(body, "v", out);
}

}  // namespace dstc::store::codec
