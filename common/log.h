// Logging: spdlog to stderr, one named logger per module ("store", "sandbox", ...).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "common/error.h"

namespace dstc::log {

// Sets the level of every dstc logger: trace, debug, info, warn, error, off.
Status set_level(const std::string& level);

// The logger of one module; created on first use, writing to stderr.
std::shared_ptr<spdlog::logger> get(const std::string& module);

}  // namespace dstc::log
