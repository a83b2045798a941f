// Key layout of the run store. Components are joined by 0x1f (ASCII unit separator)
// and integers are zero-padded to fixed width, so byte order = logical order and a
// prefix ending in the separator matches exactly one prompt (never "task/1" for "task/10").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "store/records.h"

namespace dstc::store::keys {

inline constexpr char kSep = '\x1f';

// Task ids, selectors, benchmarks and stage names may not contain 0x1f or 0x00.
Status validate_component(std::string_view what, std::string_view value);

std::string problem(std::string_view task_id);
std::string task_prefix(uint32_t round, std::string_view task_id);  // samples, executions
std::string sample(const Sample& s);
std::string sample_kind_prefix(uint32_t round, std::string_view task_id, SampleKind kind);
std::string execution(uint32_t round, std::string_view task_id, uint32_t code, uint32_t test);
std::string selector_prefix(uint32_t round, std::string_view selector);  // pairs, kto
std::string selector_task_prefix(uint32_t round, std::string_view selector,
                                 std::string_view task_id);
std::string pair(uint32_t round, std::string_view selector, std::string_view task_id,
                 uint32_t index);
std::string eval_prefix(uint32_t round, std::string_view benchmark);
std::string eval(uint32_t round, std::string_view benchmark, std::string_view task_id);
std::string stage_prefix(uint32_t round, std::string_view stage);
std::string unit_done(const UnitKey& unit);
std::string meta(std::string_view key);
inline constexpr std::string_view kStagePrefix = "stage\x1f";
inline constexpr std::string_view kMetaPrefix = "meta\x1f";

// The round of a round-keyed record (its first component), or -1 if unparseable.
int64_t round_of(std::string_view key);

}  // namespace dstc::store::keys
