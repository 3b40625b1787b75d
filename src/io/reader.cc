// io/reader.cc: the readers' shared rules (chunking, short reads, file identity) and open_reader.
#include "io/reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/read_chunks.h"

namespace strata::io {

std::string_view reader_kind_name(ReaderKind kind) {
  switch (kind) {
    case ReaderKind::Auto: return "auto";
    case ReaderKind::IoUring: return "io_uring";
    case ReaderKind::Pread: return "pread";
    case ReaderKind::Memory: return "memory";
  }
  return "?";
}

Result<ReaderKind> parse_reader_kind(std::string_view text) {
  for (ReaderKind k : {ReaderKind::Auto, ReaderKind::IoUring, ReaderKind::Pread, ReaderKind::Memory})
    if (text == reader_kind_name(k)) return k;
  return error("unknown reader '{}' (auto, io_uring, pread or memory)", text);
}

AlignedSpan align_span(uint64_t offset, uint64_t size, uint64_t alignment) {
  AlignedSpan s;
  s.start = offset / alignment * alignment;
  const uint64_t end = (offset + size + alignment - 1) / alignment * alignment;
  s.length = end - s.start;
  s.lead = offset - s.start;
  s.need = s.lead + size;
  return s;
}

namespace detail {

void split_request(const ReadRequest& r, uint64_t request_id, uint64_t block_bytes, std::vector<Chunk>& out) {
  for (uint64_t done = 0; done < r.length; done += block_bytes) {
    Chunk c;
    c.request = request_id;
    c.offset = r.offset + done;
    c.length = std::min(block_bytes, r.length - done);
    c.need = r.need > done ? std::min(c.length, r.need - done) : 0;
    c.dest = r.dest + done;
    out.push_back(c);
  }
}

ChunkStep advance_chunk(Chunk& c, int64_t result, bool direct, uint64_t alignment, const std::string& path,
                        Status* err) {
  if (result == -EINTR || result == -EAGAIN) return ChunkStep::Again;
  if (result < 0) {
    *err = error("read of {} bytes at offset {} in '{}' failed: {}", c.length, c.offset, path,
                 std::strerror(static_cast<int>(-result)));
    return ChunkStep::Failed;
  }
  const uint64_t n = std::min(static_cast<uint64_t>(result), c.length);
  const uint64_t needed_end = c.offset + c.need;
  c.offset += n;
  c.dest += n;
  c.length -= n;
  c.need = c.need > n ? c.need - n : 0;
  if (c.need == 0) return ChunkStep::Done;  // what lies past `need` is padding and may be past EOF
  // Bytes are still needed: EOF (0), or an O_DIRECT read that ended off alignment, means the file shrank.
  if (n == 0 || (direct && n % alignment != 0)) {
    *err = error("'{}' is shorter than when it was opened: a read ended at offset {} but data up to offset {} "
                 "is needed (was the file truncated or replaced?)",
                 path, c.offset, needed_end);
    return ChunkStep::Failed;
  }
  return ChunkStep::Again;  // an ordinary short read: read the rest
}

Status validate_request(const ReadRequest& r, uint64_t alignment) {
  const auto misaligned = [&](uint64_t v) { return v % alignment != 0; };
  if (r.length == 0 || r.need > r.length || misaligned(r.offset) || misaligned(r.length) ||
      misaligned(reinterpret_cast<uintptr_t>(r.dest)))
    return error("internal: read request (offset {}, length {}, need {}) breaks the {}-byte alignment rule", r.offset,
                 r.length, r.need, alignment);
  return Status::ok();
}

namespace {
int64_t mtime_ns_of(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}
}  // namespace

Result<OpenedFile> open_model_file(const std::string& path, bool want_direct) {
  OpenedFile f;
  if (want_direct) {
    auto direct = File::open_read(path, /*direct=*/true);
    if (direct.is_ok()) {
      f.file = std::move(direct).value();
      f.direct = true;
    }
  }
  if (!f.direct) {
    STRATA_ASSIGN_OR_RETURN(f.file, File::open_read(path));
    // No readahead: pages read ahead of a request would outlive the DONTNEED that follows it.
    ::posix_fadvise(f.file.fd(), 0, 0, POSIX_FADV_RANDOM);
    if (want_direct)
      log(LogLevel::Info, "'{}': the filesystem refuses O_DIRECT; reading buffered and dropping pages after each read",
          path);
  }
  // Reading should not even dirty the inode: no access-time updates where we own the file (else EPERM, ignored).
  const int flags = ::fcntl(f.file.fd(), F_GETFL);
  if (flags >= 0) (void)::fcntl(f.file.fd(), F_SETFL, flags | O_NOATIME);
  struct stat st {};
  if (::fstat(f.file.fd(), &st) != 0) return error("cannot stat '{}': {}", path, std::strerror(errno));
  f.mtime_ns = mtime_ns_of(st);
  return f;
}

Status check_file_unchanged(const OpenedFile& f) {
  struct stat st {};
  if (::fstat(f.file.fd(), &st) != 0) return error("cannot stat '{}': {}", f.file.path(), std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) != f.file.size_bytes() || mtime_ns_of(st) != f.mtime_ns)
    return error("'{}' changed while in use (size {} → {} bytes, or modified): its weights can no longer be trusted",
                 f.file.path(), f.file.size_bytes(), static_cast<uint64_t>(st.st_size));
  return Status::ok();
}

void drop_cached(const OpenedFile& f, uint64_t offset, uint64_t length) {
  if (!f.direct && length > 0) ::posix_fadvise(f.file.fd(), static_cast<off_t>(offset), static_cast<off_t>(length), POSIX_FADV_DONTNEED);
}

}  // namespace detail

Result<std::unique_ptr<Reader>> open_reader(const std::string& path, const ReaderOptions& options) {
  if (options.block_bytes < detail::kDirectAlignment || options.block_bytes % detail::kDirectAlignment != 0 ||
      options.block_bytes > (1u << 30))
    return error("I/O block size {} must be a multiple of {} between 4 KiB and 1 GiB", options.block_bytes,
                 detail::kDirectAlignment);
  if (options.queue_depth < 1 || options.queue_depth > 4096)
    return error("I/O queue depth {} must be between 1 and 4096", options.queue_depth);
  if (options.n_threads < 1 || options.n_threads > 256)
    return error("pread thread count {} must be between 1 and 256", options.n_threads);
  switch (options.kind) {
    case ReaderKind::Memory:
      return error("internal: the memory reader is made by make_memory_reader, not open_reader");
    case ReaderKind::Pread: {
      STRATA_ASSIGN_OR_RETURN(detail::OpenedFile f, detail::open_model_file(path, options.direct));
      return detail::make_pread_reader(std::move(f), options);
    }
    case ReaderKind::IoUring: {
      STRATA_ASSIGN_OR_RETURN(detail::OpenedFile f, detail::open_model_file(path, options.direct));
      return detail::make_uring_reader(std::move(f), options);
    }
    case ReaderKind::Auto: {
      STRATA_ASSIGN_OR_RETURN(detail::OpenedFile f, detail::open_model_file(path, options.direct));
      if (io_uring_available()) {
        auto r = detail::make_uring_reader(std::move(f), options);
        if (r.is_ok()) return r;
        log(LogLevel::Info, "io_uring unavailable ({}); using the pread reader", r.status().message());
        STRATA_ASSIGN_OR_RETURN(f, detail::open_model_file(path, options.direct));
      }
      return detail::make_pread_reader(std::move(f), options);
    }
  }
  return error("internal: unknown reader kind");
}

}  // namespace strata::io
