// Whole-file reads and crash-safe writes.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace dstc {

// Reads the whole file; the error names the path.
Result<std::string> read_file(const std::string& path);

// Writes `data` to `path` so that readers see either the old or the new content,
// never a half-written file: write to `path.tmp.<pid>`, fsync, rename, fsync the dir.
Status write_file_atomic(const std::string& path, std::string_view data);

// Reads a file that may be gzip-compressed (detected by magic bytes, not by name).
Result<std::string> read_maybe_gzip(const std::string& path);

}  // namespace dstc
