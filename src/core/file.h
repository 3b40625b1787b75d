// core/file.h: a RAII read-only file descriptor with checked positional reads.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace strata {

class File {
 public:
  File() = default;
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  File(File&& o) noexcept;
  File& operator=(File&& o) noexcept;

  // Opens for reading; `direct` adds O_DIRECT (callers then read aligned offsets into aligned buffers).
  static Result<File> open_read(const std::string& path, bool direct = false, bool follow_links = true);

  int fd() const { return fd_; }
  uint64_t size_bytes() const { return size_; }
  const std::string& path() const { return path_; }
  bool is_open() const { return fd_ >= 0; }

  // Reads exactly out.size() bytes at offset; a short read or an error is a Status naming the file.
  Status read_exact(uint64_t offset, std::span<uint8_t> out) const;

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

}  // namespace strata
