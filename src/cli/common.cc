// cli/common.cc: shared CLI helpers.
#include <cstdio>

#include "cli/commands.h"

namespace strata::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "strata: error: %s\n", message.c_str());
  return 1;
}

}  // namespace strata::cli
