// core/check.h: invariant checks that stay on in release builds. Never used on input: input gets a Status.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace strata::detail {
[[noreturn]] inline void check_failed(const char* file, int line, const char* expr, const char* msg) {
  std::fprintf(stderr, "strata: internal invariant failed at %s:%d: %s%s%s\n", file, line, expr,
               msg[0] ? " — " : "", msg);
  std::fflush(stderr);
  std::abort();
}
}  // namespace strata::detail

#define STRATA_CHECK(cond)                                                   \
  do {                                                                       \
    if (!(cond)) ::strata::detail::check_failed(__FILE__, __LINE__, #cond, ""); \
  } while (0)

#define STRATA_CHECK_MSG(cond, msg)                                           \
  do {                                                                        \
    if (!(cond)) ::strata::detail::check_failed(__FILE__, __LINE__, #cond, msg); \
  } while (0)
