// core/log.cc: the process-wide log level (the one piece of global state: set once by the CLI).
#include "core/log.h"

#include <atomic>

namespace strata {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::Warn)};
}
void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }
}  // namespace strata
