// Small pieces of the service's safety rules: listen addresses, loopback detection,
// bearer tokens.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace dstc::sandbox_service {

struct ListenAddress {
  std::string host;  // without brackets: "127.0.0.1", "::1", "0.0.0.0"
  int port = 0;      // 0 = an ephemeral port
};

// "HOST:PORT", "[V6]:PORT" or ":PORT" (= 127.0.0.1). Errors name the value.
Result<ListenAddress> parse_listen(std::string_view text);

// True for 127.0.0.0/8, ::1, ::ffff:127.x.x.x and the name "localhost". Everything
// else, including 0.0.0.0 and host names, may be reachable from other machines.
bool is_loopback_host(std::string_view host);

// Compares a presented secret with the expected one in time that depends only on the
// presented length, never on where the first difference is.
bool constant_time_equal(std::string_view presented, std::string_view expected);

// Reads a bearer token: the file's content without surrounding whitespace. Empty files,
// tokens shorter than 16 bytes and tokens with whitespace or control bytes inside are
// refused (they would be weak or not fit an Authorization header).
Result<std::string> read_token_file(const std::string& path);

}  // namespace dstc::sandbox_service
