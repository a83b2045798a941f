// Value encoding of the run store: a 3-byte header — magic 0xD5, schema version
// (uint16, big-endian) — then the record as MessagePack. A version newer than
// kSchemaVersion is refused (kVersion) instead of being misread.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "store/records.h"

namespace dstc::store::codec {

std::string encode(const Problem& r);
std::string encode(const Sample& r);
std::string encode(const Execution& r);
std::string encode(const Pair& r);
std::string encode(const KtoExample& r);
std::string encode(const EvalResult& r);
std::string encode_string(std::string_view value);  // meta values

// Decoders: kVersion for a newer schema, kCorrupt for anything malformed.
Status decode(std::string_view value, Problem& out);
Status decode(std::string_view value, Sample& out);
Status decode(std::string_view value, Execution& out);
Status decode(std::string_view value, Pair& out);
Status decode(std::string_view value, KtoExample& out);
Status decode(std::string_view value, EvalResult& out);
Status decode_string(std::string_view value, std::string& out);

// The schema version of an encoded value (kCorrupt when the header is bad).
Result<uint32_t> version_of(std::string_view value);

}  // namespace dstc::store::codec
