// tests/support/test_support.h: paths to shared test data and the built binary; running the CLI from tests.
#pragma once

#include <cstddef>
#include <cstdint>
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

// Pages of the file range [begin, end) that the page cache holds (mincore over a mapping of the file).
size_t cached_pages(const std::string& path, uint64_t begin, uint64_t end);
// Writes back and drops the file's pages from the page cache (POSIX_FADV_DONTNEED); some filesystems (tmpfs)
// keep them regardless, which callers check with cached_pages.
void drop_cached_pages(const std::string& path);

}  // namespace strata::testing
