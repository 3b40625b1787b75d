// tests/support/test_support.cc: shared-data lookup, scratch dirs and command capture for tests.
#include "support/test_support.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace strata::testing {

std::string shared_path(const std::string& relative) {
  std::string p = std::string(STRATA_SHARED_DIR) + "/" + relative;
  if (!std::filesystem::exists(p)) {
    ADD_FAILURE() << "shared test data missing: " << p << " (expected ../shared beside the checkout)";
  }
  return p;
}

std::string strata_binary() { return STRATA_BINARY; }

namespace {
struct TempRoot {
  std::string path;
  TempRoot() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "strata-test-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    if (p) path = p;
  }
  ~TempRoot() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir() {
  static TempRoot root;
  static int counter = 0;
  std::string d = root.path + "/" + std::to_string(counter++);
  std::filesystem::create_directories(d);
  return d;
}

CommandResult run_command(const std::string& command) {
  std::string dir = temp_dir();
  std::string out_file = dir + "/stdout", err_file = dir + "/stderr";
  std::string full = command + " >" + out_file + " 2>" + err_file;
  int rc = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + (WIFSIGNALED(rc) ? WTERMSIG(rc) : 0);
  auto slurp = [](const std::string& f) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_file);
  r.err = slurp(err_file);
  return r;
}

size_t cached_pages(const std::string& path, uint64_t begin, uint64_t end) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return 0;
  const uint64_t size = std::filesystem::file_size(path);
  end = std::min(end, size);
  void* map = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  EXPECT_NE(map, MAP_FAILED) << path;
  size_t n = 0;
  if (map != MAP_FAILED) {
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> vec((size + page - 1) / page);
    EXPECT_EQ(::mincore(map, size, vec.data()), 0);
    for (uint64_t p = (begin + page - 1) / page; p < (end + page - 1) / page && p < vec.size(); ++p) n += vec[p] & 1;
    ::munmap(map, size);
  }
  ::close(fd);
  return n;
}

void drop_cached_pages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << path;
  ::fdatasync(fd);  // dirty pages cannot be dropped
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

}  // namespace strata::testing
