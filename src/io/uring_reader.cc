// io/uring_reader.cc: the io_uring reader: requests split into block-sized reads, up to queue_depth in
// flight, completions reaped on the consumer thread. Built only with liburing (STRATA_HAVE_URING).
#include "io/read_chunks.h"

#if STRATA_HAVE_URING

#include <cerrno>
#include <cstring>
#include <deque>
#include <liburing.h>
#include <unordered_map>

namespace strata::io {

bool io_uring_available() {
  struct io_uring ring;
  if (io_uring_queue_init(2, &ring, 0) < 0) return false;  // kernel without it, or a seccomp filter
  io_uring_queue_exit(&ring);
  return true;
}

namespace detail {
namespace {

class UringReader final : public Reader {
 public:
  UringReader(OpenedFile file, const ReaderOptions& options)
      : file_(std::move(file)), block_(options.block_bytes), depth_(options.queue_depth) {
    slots_.resize(depth_);
    for (uint32_t i = 0; i < depth_; ++i) free_slots_.push_back(depth_ - 1 - i);
  }
  Status init() {
    const int rc = io_uring_queue_init(depth_, &ring_, 0);
    if (rc < 0) return error("io_uring setup with {} entries failed: {}", depth_, std::strerror(-rc));
    ring_ok_ = true;
    return Status::ok();
  }
  ~UringReader() override {
    if (!ring_ok_) return;
    // Reads in the ring still target their callers' memory: let them land before the ring goes.
    while (in_ring_ > 0) {
      struct io_uring_cqe* cqe = nullptr;
      const int rc = io_uring_wait_cqe(&ring_, &cqe);
      if (rc == -EINTR) continue;
      if (rc < 0) break;
      --in_ring_;
      io_uring_cqe_seen(&ring_, cqe);
    }
    io_uring_queue_exit(&ring_);
  }

  std::string_view kind_name() const override { return "io_uring"; }
  bool direct() const override { return file_.direct; }
  uint64_t alignment() const override { return kDirectAlignment; }
  uint64_t file_size() const override { return file_.file.size_bytes(); }
  const std::string& path() const override { return file_.file.path(); }

  Status submit(const ReadRequest& r) override {
    STRATA_RETURN_IF_ERROR(fatal_);
    STRATA_RETURN_IF_ERROR(validate_request(r, alignment()));
    const uint64_t id = next_id_++;
    scratch_.clear();
    split_request(r, id, block_, scratch_);
    pending_[id] = PendingRequest{r.tag, scratch_.size(), 0, Status::ok()};
    backlog_.insert(backlog_.end(), scratch_.begin(), scratch_.end());
    ++in_flight_;
    return fail_if(flush());
  }

  Result<ReadCompletion> wait() override {
    STRATA_RETURN_IF_ERROR(fatal_);
    if (in_flight_ == 0) return error("internal: waiting on '{}' with no reads in flight", path());
    while (done_.empty()) {
      struct io_uring_cqe* cqe = nullptr;
      const int rc = io_uring_wait_cqe(&ring_, &cqe);
      if (rc == -EINTR) continue;
      if (rc < 0) return fail_if(error("io_uring wait on '{}' failed: {}", path(), std::strerror(-rc)));
      STRATA_RETURN_IF_ERROR(fail_if(reap(cqe)));
      STRATA_RETURN_IF_ERROR(fail_if(reap_ready()));
    }
    return pop();
  }

  Result<std::optional<ReadCompletion>> poll() override {
    STRATA_RETURN_IF_ERROR(fatal_);
    STRATA_RETURN_IF_ERROR(fail_if(reap_ready()));
    if (done_.empty()) return std::optional<ReadCompletion>();
    return std::optional<ReadCompletion>(pop());
  }

  size_t in_flight() const override { return in_flight_; }
  Status check_unchanged() override { return check_file_unchanged(file_); }

 private:
  struct Slot {
    Chunk chunk;
  };

  Status fail_if(Status s) {
    if (!s.is_ok() && fatal_.is_ok()) fatal_ = s;
    return s;
  }

  ReadCompletion pop() {
    ReadCompletion c = std::move(done_.front());
    done_.pop_front();
    --in_flight_;
    return c;
  }

  // Moves backlog chunks into free ring slots and submits them.
  Status flush() {
    bool queued = false;
    while (!backlog_.empty() && !free_slots_.empty()) {
      struct io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) break;  // the submission queue is full until the next submit
      const uint32_t s = free_slots_.back();
      free_slots_.pop_back();
      Slot& slot = slots_[s];
      slot.chunk = backlog_.front();
      backlog_.pop_front();
      io_uring_prep_read(sqe, file_.file.fd(), slot.chunk.dest, static_cast<unsigned>(slot.chunk.length),
                         slot.chunk.offset);
      io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(static_cast<uintptr_t>(s)));
      ++in_ring_;
      queued = true;
    }
    if (!queued) return Status::ok();
    for (;;) {
      const int rc = io_uring_submit(&ring_);
      if (rc >= 0) return Status::ok();
      if (rc != -EINTR && rc != -EAGAIN) return error("io_uring submit on '{}' failed: {}", path(), std::strerror(-rc));
    }
  }

  Status reap_ready() {
    struct io_uring_cqe* cqe = nullptr;
    while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe != nullptr) STRATA_RETURN_IF_ERROR(reap(cqe));
    return flush();
  }

  // Accounts one completed read; a short one goes back to the front of the backlog for its remainder.
  Status reap(struct io_uring_cqe* cqe) {
    const uint32_t s = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(io_uring_cqe_get_data(cqe)));
    const int64_t res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    --in_ring_;
    if (s >= slots_.size()) return error("internal: io_uring returned an unknown read ({})", s);
    Slot& slot = slots_[s];
    const uint64_t before = slot.chunk.offset;
    Status err;
    const ChunkStep step = advance_chunk(slot.chunk, res, file_.direct, alignment(), path(), &err);
    PendingRequest& p = pending_.at(slot.chunk.request);
    p.bytes += slot.chunk.offset - before;
    drop_cached(file_, before, slot.chunk.offset - before);
    free_slots_.push_back(s);
    if (step == ChunkStep::Again) {
      backlog_.push_front(slot.chunk);  // the remainder, first in line
      return flush();
    }
    if (step == ChunkStep::Failed && p.status.is_ok()) p.status = std::move(err);
    if (--p.chunks_left == 0) {
      done_.push_back(ReadCompletion{p.tag, p.bytes, std::move(p.status)});
      pending_.erase(slot.chunk.request);
    }
    return Status::ok();
  }

  const OpenedFile file_;
  const uint64_t block_;
  const uint32_t depth_;
  struct io_uring ring_ {};
  bool ring_ok_ = false;
  Status fatal_;  // once the ring fails, every later call reports it
  std::vector<Slot> slots_;           // ring user_data → the chunk it reads
  std::vector<uint32_t> free_slots_;  // slots not in the ring
  std::deque<Chunk> backlog_;         // chunks waiting for a free slot
  std::vector<Chunk> scratch_;
  std::unordered_map<uint64_t, PendingRequest> pending_;
  std::deque<ReadCompletion> done_;
  uint64_t next_id_ = 0;
  size_t in_ring_ = 0;    // reads the kernel holds
  size_t in_flight_ = 0;  // requests submitted and not yet returned
};

}  // namespace

Result<std::unique_ptr<Reader>> make_uring_reader(OpenedFile file, const ReaderOptions& options) {
  auto r = std::make_unique<UringReader>(std::move(file), options);
  STRATA_RETURN_IF_ERROR(r->init());
  return std::unique_ptr<Reader>(std::move(r));
}

}  // namespace detail
}  // namespace strata::io

#else  // !STRATA_HAVE_URING

namespace strata::io {

bool io_uring_available() { return false; }

namespace detail {
Result<std::unique_ptr<Reader>> make_uring_reader(OpenedFile, const ReaderOptions&) {
  return error("this build of strata has no io_uring support (liburing was not found)");
}
}  // namespace detail
}  // namespace strata::io

#endif
