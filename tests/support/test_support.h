// tests/support/test_support.h: paths to shared test data and the built binary; running the CLI from tests.
#pragma once

#include <string>

namespace strata::testing {

// ../shared beside the checkout; fails the test (not skips) with a clear message when absent.
std::string shared_path(const std::string& relative);
std::string strata_binary();
// A fresh scratch directory under the build tree, removed at process exit.
std::string temp_dir();

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs a shell command, capturing stdout and stderr separately.
CommandResult run_command(const std::string& command);

}  // namespace strata::testing
