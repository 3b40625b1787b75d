// io/memory_reader.cc: the in-memory double: each request is served at submit time through the same
// chunk rules as the real readers, with the configured faults applied to every underlying read.
#include "io/memory_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

#include "core/file.h"
#include "io/read_chunks.h"

namespace strata::io {

namespace {

class MemoryReader final : public Reader {
 public:
  MemoryReader(std::vector<uint8_t> bytes, std::string path, std::shared_ptr<MemoryFaults> faults,
               std::shared_ptr<MemoryReaderStats> stats, uint64_t alignment)
      : bytes_(std::move(bytes)),
        path_(std::move(path)),
        faults_(faults ? std::move(faults) : std::make_shared<MemoryFaults>()),
        stats_(stats ? std::move(stats) : std::make_shared<MemoryReaderStats>()),
        alignment_(alignment) {}

  std::string_view kind_name() const override { return "memory"; }
  bool direct() const override { return true; }  // no page cache involved
  uint64_t alignment() const override { return alignment_; }
  uint64_t file_size() const override { return bytes_.size(); }
  const std::string& path() const override { return path_; }

  Status submit(const ReadRequest& r) override {
    STRATA_RETURN_IF_ERROR(detail::validate_request(r, alignment_));
    ++stats_->requests;
    std::vector<detail::Chunk> chunks;
    detail::split_request(r, 0, kBlock, chunks);
    ReadCompletion done{r.tag, 0, Status::ok()};
    const bool fail_all = faults_->fail_after_requests == 0;
    if (faults_->fail_after_requests > 0) --faults_->fail_after_requests;
    for (detail::Chunk& c : chunks) {
      Status err;
      detail::ChunkStep step;
      do {
        const uint64_t before = c.offset;
        step = detail::advance_chunk(c, fail_all ? -EIO : read_once(c), /*direct=*/false, alignment_, path_, &err);
        done.bytes += c.offset - before;
      } while (step == detail::ChunkStep::Again);
      if (step == detail::ChunkStep::Failed) {
        done.status = err;
        break;
      }
    }
    done_.push_back(std::move(done));
    return Status::ok();
  }

  Result<ReadCompletion> wait() override {
    if (done_.empty()) return error("internal: waiting on '{}' with no reads in flight", path_);
    ReadCompletion c = std::move(done_.front());
    done_.pop_front();
    return c;
  }
  Result<std::optional<ReadCompletion>> poll() override {
    if (done_.empty()) return std::optional<ReadCompletion>();
    return std::optional<ReadCompletion>(wait().value());
  }
  size_t in_flight() const override { return done_.size(); }
  Status check_unchanged() override {
    if (faults_->changed) return error("'{}' changed while in use (modified): its weights can no longer be trusted", path_);
    return Status::ok();
  }

 private:
  static constexpr uint64_t kBlock = 1 << 20;

  // One underlying read, as pread would return it: bytes copied, 0 at EOF, or -errno.
  int64_t read_once(const detail::Chunk& c) {
    ++stats_->reads;
    const MemoryFaults& f = *faults_;
    if (c.offset < f.eio_end && c.offset + c.length > f.eio_begin) return -EIO;
    const uint64_t size = std::min<uint64_t>(bytes_.size(), f.visible_size);
    if (c.offset >= size) return 0;
    uint64_t n = std::min(c.length, size - c.offset);
    if (f.max_read_bytes > 0) n = std::min(n, f.max_read_bytes);
    std::memcpy(c.dest, bytes_.data() + c.offset, n);
    stats_->bytes += n;
    return static_cast<int64_t>(n);
  }

  const std::vector<uint8_t> bytes_;
  const std::string path_;
  std::shared_ptr<MemoryFaults> faults_;
  std::shared_ptr<MemoryReaderStats> stats_;
  const uint64_t alignment_;
  std::deque<ReadCompletion> done_;  // served at submit; returned in order
};

}  // namespace

std::unique_ptr<Reader> make_memory_reader(std::vector<uint8_t> bytes, std::string path_for_messages,
                                           std::shared_ptr<MemoryFaults> faults,
                                           std::shared_ptr<MemoryReaderStats> stats, uint64_t alignment) {
  return std::make_unique<MemoryReader>(std::move(bytes), std::move(path_for_messages), std::move(faults),
                                        std::move(stats), alignment);
}

Result<std::unique_ptr<Reader>> open_memory_reader(const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(File f, File::open_read(path));
  std::vector<uint8_t> bytes(f.size_bytes());
  STRATA_RETURN_IF_ERROR(f.read_exact(0, bytes));
  return make_memory_reader(std::move(bytes), path);
}

}  // namespace strata::io
