// UTF-8 helpers shared by the tokenizer: validation, NFC-family normalization
// (through utf8proc) and GPT-2's byte <-> printable-character map.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace dstc::generator {

// Replaces every invalid UTF-8 sequence (stray continuation bytes, overlongs,
// surrogates, truncated sequences) with U+FFFD, as Rust's from_utf8_lossy does.
// Valid input is returned unchanged.
std::string sanitize_utf8(std::string_view text);

// True when `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };

// Unicode normalization of valid UTF-8 through utf8proc. Pure-ASCII input is returned
// as is (it is already in every normal form). Fails with kUnavailable when
// libutf8proc cannot be found.
Result<std::string> normalize(std::string_view text, NormalForm form);

// GPT-2's byte-level alphabet (tokenizers' byte_level.rs, OpenAI encoder.py):
// printable bytes map to the code point of the same value, the other 68 bytes to
// U+0100.. in increasing order. Returned as the UTF-8 encoding of each character.
const std::array<std::string, 256>& byte_to_unicode();

// Inverse of byte_to_unicode(): code point -> byte, or -1 for a character outside
// the alphabet. Valid for code points below 0x200.
int unicode_to_byte(uint32_t code_point);

// Decodes one code point from valid UTF-8 at `pos`; advances pos.
uint32_t next_code_point(std::string_view text, size_t& pos);

// Appends the UTF-8 encoding of `cp`.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace dstc::generator
