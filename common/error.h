// Error values that travel up through Result<T> and gain context as they rise.
//
// Failures that come from outside the program (files, formats, configs, child
// processes, RocksDB, user input) are returned, never thrown:
//
//   Result<Model> load(const std::string& dir) {
//     DSTC_TRY(auto config, read_json(dir + "/config.json"));
//     ...
//   }
//   ...
//   if (!r) return r.error().context("loading " + dir);  // "loading m: config.json: ..."
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace dstc {

enum class ErrorCode {
  kInvalidArgument,  // bad user input: flags, config keys, values
  kNotFound,         // a file, record or key that should exist does not
  kIo,               // reading or writing failed
  kCorrupt,          // data exists but is malformed
  kBusy,             // a resource is held by someone else (e.g. a DB lock)
  kVersion,          // data written by a newer, unknown schema
  kUnavailable,      // a service or capability is missing on this host
  kInternal,         // our fault
};

std::string_view error_code_name(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns the same error with `what` prepended: "what: message".
  Error context(std::string_view what) const& {
    return Error(code_, std::string(what) + ": " + message_);
  }
  Error context(std::string_view what) && {
    message_.insert(0, std::string(what) + ": ");
    return std::move(*this);
  }

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

}  // namespace dstc

#define DSTC_CONCAT_INNER(a, b) a##b
#define DSTC_CONCAT(a, b) DSTC_CONCAT_INNER(a, b)

// DSTC_TRY(auto x, expr): evaluates expr (a Result<T>), returns its error from the
// enclosing function if it failed, otherwise binds the value to the declaration.
#define DSTC_TRY(decl, expr) DSTC_TRY_IMPL(DSTC_CONCAT(dstc_try_, __LINE__), decl, expr)
#define DSTC_TRY_IMPL(tmp, decl, expr)                                      \
  auto tmp = (expr);                                                        \
  if (!tmp) return ::tl::unexpected<::dstc::Error>(std::move(tmp).error()); \
  decl = std::move(*tmp)

// DSTC_CHECK_OK(expr): for Status-returning calls.
#define DSTC_CHECK_OK(expr)                                                                     \
  do {                                                                                          \
    auto dstc_status_ = (expr);                                                                 \
    if (!dstc_status_) return ::tl::unexpected<::dstc::Error>(std::move(dstc_status_).error()); \
  } while (0)
