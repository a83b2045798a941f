#include "sandbox_service/net.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstring>

#include "common/file.h"

namespace dstc::sandbox_service {

Result<ListenAddress> parse_listen(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument,
                "--listen '" + std::string(text) + "': " + why +
                    " (expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  ListenAddress out;
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("IPv6 addresses need brackets");
  }
  out.host = host.empty() ? "127.0.0.1" : std::string(host);
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || out.port < 0 ||
      out.port > 65535) {
    return bad("port must be a number in 0..65535");
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

bool constant_time_equal(std::string_view presented, std::string_view expected) {
  if (expected.empty()) return false;
  // Walk the presented bytes against the expected ones (cycled), accumulating every
  // difference; the length difference is folded in at the end. No early exit.
  volatile unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    diff = diff | static_cast<unsigned char>(presented[i] ^ expected[i % expected.size()]);
  }
  return diff == 0 && !presented.empty();
}

Result<std::string> read_token_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) return fail(text.error().context("--token-file " + path));
  std::string_view t = *text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  if (t.size() < 16) {
    return fail(ErrorCode::kInvalidArgument,
                "--token-file " + path + ": token must be at least 16 bytes (got " +
                    std::to_string(t.size()) + "); e.g. `head -c 24 /dev/urandom | base64`");
  }
  for (char c : t) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) {
      return fail(ErrorCode::kInvalidArgument,
                  "--token-file " + path + ": token must not contain whitespace or control bytes");
    }
  }
  return std::string(t);
}

}  // namespace dstc::sandbox_service
