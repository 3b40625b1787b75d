// io/read_chunks.h: what every reader shares: splitting requests into chunks, judging each read's
// result (short reads, EOF, errno), and the identity of the open file. Internal to io/.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include "core/file.h"
#include "core/status.h"
#include "io/reader.h"

namespace strata::io::detail {

constexpr uint64_t kDirectAlignment = 4096;  // safe for every block device's logical block size

// A piece of a request, advanced in place as bytes arrive.
struct Chunk {
  uint64_t request = 0;  // the owning request's id
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t need = 0;  // bytes that must still arrive
  uint8_t* dest = nullptr;
};

// Appends the chunks of `r` (each at most block_bytes) to `out`.
void split_request(const ReadRequest& r, uint64_t request_id, uint64_t block_bytes, std::vector<Chunk>& out);

enum class ChunkStep { Done, Again, Failed };

// Applies one read's result (bytes, or -errno) to `c`. Again: read the remainder; Failed: *err says why.
// A read that stops before `need` at EOF, or an O_DIRECT read ending off alignment, means the file is
// shorter than it was when parsed.
ChunkStep advance_chunk(Chunk& c, int64_t result, bool direct, uint64_t alignment, const std::string& path,
                        Status* err);

// An opened model file: the descriptor, whether O_DIRECT took, and what check_unchanged compares against.
struct OpenedFile {
  File file;
  bool direct = false;
  int64_t mtime_ns = 0;
};
// Opens with O_DIRECT when asked; a filesystem that refuses it (tmpfs) gets buffered reads instead.
Result<OpenedFile> open_model_file(const std::string& path, bool want_direct);
Status check_file_unchanged(const OpenedFile& f);
// Drops a range just read from the page cache (the buffered fallback's substitute for O_DIRECT).
void drop_cached(const OpenedFile& f, uint64_t offset, uint64_t length);

// Counts the chunks of one request; the request completes when none is left.
struct PendingRequest {
  uint64_t tag = 0;
  size_t chunks_left = 0;
  uint64_t bytes = 0;
  Status status;
};

// Checks the request's shape against the reader's alignment and file; a bad request is a caller bug.
Status validate_request(const ReadRequest& r, uint64_t alignment);

std::unique_ptr<Reader> make_pread_reader(OpenedFile file, const ReaderOptions& options);
Result<std::unique_ptr<Reader>> make_uring_reader(OpenedFile file, const ReaderOptions& options);

}  // namespace strata::io::detail
