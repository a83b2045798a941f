#include "store/keys.h"

#include <charconv>
#include <cstdio>

namespace dstc::store::keys {
namespace {

std::string num(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08u", v);
  return buf;
}

template <typename... Parts>
std::string join(const Parts&... parts) {
  std::string out;
  ((out.append(parts), out.push_back(kSep)), ...);
  out.pop_back();
  return out;
}

}  // namespace

Status validate_component(std::string_view what, std::string_view value) {
  if (value.empty()) return fail(ErrorCode::kInvalidArgument, std::string(what) + " is empty");
  if (value.find(kSep) != std::string_view::npos || value.find('\0') != std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) + " '" + std::string(value) +
                    "' contains a control byte (0x00 or 0x1f), which keys reserve");
  }
  return {};
}

std::string problem(std::string_view task_id) { return std::string(task_id); }

std::string task_prefix(uint32_t round, std::string_view task_id) {
  return join(num(round), task_id) + kSep;
}

std::string sample_kind_prefix(uint32_t round, std::string_view task_id, SampleKind kind) {
  return task_prefix(round, task_id) + std::string(sample_kind_name(kind)) + kSep;
}

std::string sample(const Sample& s) {
  return sample_kind_prefix(s.round, s.task_id, s.kind) + num(s.index);
}

std::string execution(uint32_t round, std::string_view task_id, uint32_t code, uint32_t test) {
  return task_prefix(round, task_id) + join(num(code), num(test));
}

std::string selector_prefix(uint32_t round, std::string_view selector) {
  return join(num(round), selector) + kSep;
}

std::string selector_task_prefix(uint32_t round, std::string_view selector,
                                 std::string_view task_id) {
  return selector_prefix(round, selector) + std::string(task_id) + kSep;
}

std::string pair(uint32_t round, std::string_view selector, std::string_view task_id,
                 uint32_t index) {
  return selector_task_prefix(round, selector, task_id) + num(index);
}

std::string eval_prefix(uint32_t round, std::string_view benchmark) {
  return join(num(round), benchmark) + kSep;
}

std::string eval(uint32_t round, std::string_view benchmark, std::string_view task_id) {
  return eval_prefix(round, benchmark) + std::string(task_id);
}

std::string stage_prefix(uint32_t round, std::string_view stage) {
  return std::string(kStagePrefix) + join(num(round), stage) + kSep;
}

std::string unit_done(const UnitKey& unit) {
  return stage_prefix(unit.round, unit.stage) + unit.unit;
}

std::string meta(std::string_view key) { return std::string(kMetaPrefix) + std::string(key); }

int64_t round_of(std::string_view key) {
  if (key.size() < 9 || key[8] != kSep) return -1;
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(key.data(), key.data() + 8, v);
  if (ec != std::errc() || ptr != key.data() + 8) return -1;
  return v;
}

}  // namespace dstc::store::keys
