#pragma once

namespace dstc {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace dstc
