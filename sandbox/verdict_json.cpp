// The JSON forms of jobs and verdicts shared by `dstc exec`, the HTTP service and the
// evaluation harness.
#include <array>

#include "sandbox/sandbox.h"

namespace dstc::sandbox {
namespace {

constexpr std::array<std::string_view, 8> kStatusNames = {
    "passed", "failed", "error", "timeout", "memory", "output_limit", "killed", "sandbox_error"};

// Program output is raw bytes; JSON needs UTF-8. Invalid sequences become U+FFFD so a
// hostile program cannot make the result line unparsable.
std::string to_valid_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    if (ok && len > 1) {
      // Reject overlong forms, surrogates and code points past U+10FFFF.
      uint32_t cp = c & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
      static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += 1;
    }
  }
  return out;
}

}  // namespace

std::string_view status_name(Status s) { return kStatusNames[static_cast<size_t>(s)]; }

Result<Status> status_from_name(std::string_view name) {
  for (size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == name) return static_cast<Status>(i);
  }
  return fail(ErrorCode::kInvalidArgument, "unknown verdict status '" + std::string(name) + "'");
}

Json verdict_to_json(const Verdict& v) {
  Json j;
  if (!v.id.empty()) j["id"] = v.id;
  j["status"] = status_name(v.status);
  j["stdout"] = to_valid_utf8(v.stdout_text);
  j["stderr"] = to_valid_utf8(v.stderr_text);
  j["stdout_truncated"] = v.stdout_truncated;
  j["stderr_truncated"] = v.stderr_truncated;
  j["wall_ms"] = v.wall_ms;
  j["cpu_ms"] = v.cpu_ms;
  j["peak_rss_kb"] = v.peak_rss_kb;
  j["exit_code"] = v.exit_code;
  j["signal"] = v.signal;
  j["error_type"] = to_valid_utf8(v.error_type);
  j["error_message"] = to_valid_utf8(v.error_message);
  j["reason"] = to_valid_utf8(v.reason);
  return j;
}

Result<Verdict> verdict_from_json(const Json& j) {
  if (!j.is_object()) return fail(ErrorCode::kCorrupt, "verdict: expected a JSON object");
  Verdict v;
  DSTC_TRY(std::string status, json_string(j, "status"));
  DSTC_TRY(v.status, status_from_name(status));
  auto str = [&](const char* key, std::string& out) -> ::dstc::Status {
    if (!j.contains(key)) return {};
    DSTC_TRY(out, json_string(j, key));
    return {};
  };
  auto num = [&](const char* key, int64_t& out) -> ::dstc::Status {
    if (!j.contains(key)) return {};
    DSTC_TRY(out, json_int(j, key));
    return {};
  };
  auto flag = [&](const char* key, bool& out) -> ::dstc::Status {
    if (!j.contains(key)) return {};
    DSTC_TRY(out, json_bool(j, key));
    return {};
  };
  DSTC_CHECK_OK(str("id", v.id));
  DSTC_CHECK_OK(str("stdout", v.stdout_text));
  DSTC_CHECK_OK(str("stderr", v.stderr_text));
  DSTC_CHECK_OK(flag("stdout_truncated", v.stdout_truncated));
  DSTC_CHECK_OK(flag("stderr_truncated", v.stderr_truncated));
  DSTC_CHECK_OK(num("wall_ms", v.wall_ms));
  DSTC_CHECK_OK(num("cpu_ms", v.cpu_ms));
  DSTC_CHECK_OK(num("peak_rss_kb", v.peak_rss_kb));
  int64_t exit_code = v.exit_code, signal = v.signal;
  DSTC_CHECK_OK(num("exit_code", exit_code));
  DSTC_CHECK_OK(num("signal", signal));
  v.exit_code = static_cast<int>(exit_code);
  v.signal = static_cast<int>(signal);
  DSTC_CHECK_OK(str("error_type", v.error_type));
  DSTC_CHECK_OK(str("error_message", v.error_message));
  DSTC_CHECK_OK(str("reason", v.reason));
  return v;
}

Json job_to_json(const Job& job) {
  Json j;
  if (!job.id.empty()) j["id"] = job.id;
  j["program"] = job.program;
  if (!job.stdin_data.empty()) j["stdin"] = job.stdin_data;
  j["profile"] = job.profile;
  if (job.timeout_seconds) j["timeout"] = *job.timeout_seconds;
  if (job.memory_mb) j["memory_mb"] = *job.memory_mb;
  return j;
}

Result<Job> job_from_json(const Json& j) {
  if (!j.is_object()) return fail(ErrorCode::kInvalidArgument, "job: expected a JSON object");
  Job job;
  if (j.contains("id")) {
    // Ids may be strings or numbers in the wild; keep numbers' text form.
    const Json& id = j["id"];
    if (id.is_string()) {
      job.id = id.get<std::string>();
    } else if (id.is_number_integer()) {
      job.id = std::to_string(id.get<int64_t>());
    } else {
      return fail(ErrorCode::kInvalidArgument, "job: field 'id' must be a string or integer");
    }
  }
  auto program = json_string(j, "program");
  if (!program) return fail(ErrorCode::kInvalidArgument, "job: " + program.error().message());
  job.program = std::move(*program);
  if (j.contains("stdin")) {
    DSTC_TRY(job.stdin_data, json_string(j, "stdin").map_error([](Error e) {
      return Error(ErrorCode::kInvalidArgument, "job: " + e.message());
    }));
  }
  if (j.contains("profile") && !j["profile"].is_null()) {
    if (!j["profile"].is_string()) {
      return fail(ErrorCode::kInvalidArgument, "job: field 'profile' must be a string");
    }
    job.profile = j["profile"].get<std::string>();
    DSTC_TRY(auto unused, builtin_profile(job.profile));
    (void)unused;
  }
  if (j.contains("timeout") && !j["timeout"].is_null()) {
    if (!j["timeout"].is_number() || j["timeout"].get<double>() <= 0) {
      return fail(ErrorCode::kInvalidArgument, "job: field 'timeout' must be a positive number");
    }
    job.timeout_seconds = j["timeout"].get<double>();
  }
  if (j.contains("memory_mb") && !j["memory_mb"].is_null()) {
    if (!j["memory_mb"].is_number_integer() || j["memory_mb"].get<int64_t>() <= 0) {
      return fail(ErrorCode::kInvalidArgument, "job: field 'memory_mb' must be a positive integer");
    }
    job.memory_mb = j["memory_mb"].get<int64_t>();
  }
  return job;
}

}  // namespace dstc::sandbox
