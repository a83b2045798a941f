// Content hashing for cache keys (reference log-probs, dataset versions). Not
// cryptographic: FNV-1a 64-bit, written as 16 lower-case hex digits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dstc {

uint64_t fnv1a64(std::string_view data, uint64_t seed = 0xcbf29ce484222325ULL);
std::string hex64(uint64_t value);

}  // namespace dstc
