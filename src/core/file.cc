// core/file.cc: open/pread with every failure turned into a Status.
#include "core/file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace strata {

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}
File::File(File&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(o.size_), path_(std::move(o.path_)) {}
File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    size_ = o.size_;
    path_ = std::move(o.path_);
  }
  return *this;
}

Result<File> File::open_read(const std::string& path, bool direct, bool follow_links) {
  int flags = O_RDONLY | O_CLOEXEC;
  if (direct) flags |= O_DIRECT;
  if (!follow_links) flags |= O_NOFOLLOW;  // a link at the path fails with ELOOP
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    const int e = errno;
    const ErrorKind kind = e == ENOENT || e == ENOTDIR ? ErrorKind::NotFound : ErrorKind::Io;
    return error(kind, "cannot open '{}': {}", path, std::strerror(e));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return error(ErrorKind::Io, "cannot stat '{}': {}", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error("'{}' is not a regular file", path);
  }
  File f;
  f.fd_ = fd;
  f.size_ = static_cast<uint64_t>(st.st_size);
  f.path_ = path;
  return f;
}

Status File::read_exact(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return error(ErrorKind::Io, "read of {} bytes at offset {} in '{}' failed: {}", out.size(), offset, path_,
                   std::strerror(errno));
    }
    if (n == 0)
      return error(ErrorKind::Corruption, "'{}' is truncated: wanted {} bytes at offset {}, file ends after {}", path_,
                   out.size(), offset, offset + done);
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace strata
