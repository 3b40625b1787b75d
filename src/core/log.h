// core/log.h: leveled messages to stderr; the level is set once at the edge (CLI flags).
#pragma once

#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace strata {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
  if (static_cast<int>(level) > static_cast<int>(log_level())) return;
  std::string line = fmt::format(f, std::forward<Args>(args)...);
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace strata
