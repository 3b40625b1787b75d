// io/pread_reader.cc: the fallback reader: a small pool of threads doing positional reads, for
// kernels or sandboxes without io_uring. Same contract as the io_uring reader.
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include "io/read_chunks.h"

namespace strata::io::detail {

namespace {

class PreadReader final : public Reader {
 public:
  PreadReader(OpenedFile file, const ReaderOptions& options) : file_(std::move(file)), block_(options.block_bytes) {
    for (int i = 0; i < options.n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ~PreadReader() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;  // workers finish the queue first, so no read outlives its destination
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  std::string_view kind_name() const override { return "pread"; }
  bool direct() const override { return file_.direct; }
  uint64_t alignment() const override { return kDirectAlignment; }
  uint64_t file_size() const override { return file_.file.size_bytes(); }
  const std::string& path() const override { return file_.file.path(); }

  Status submit(const ReadRequest& r) override {
    STRATA_RETURN_IF_ERROR(validate_request(r, alignment()));
    std::vector<Chunk> chunks;
    const uint64_t id = next_id_++;
    split_request(r, id, block_, chunks);
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_[id] = PendingRequest{r.tag, chunks.size(), 0, Status::ok()};
      work_.insert(work_.end(), chunks.begin(), chunks.end());
      ++in_flight_;
    }
    work_cv_.notify_all();
    return Status::ok();
  }

  Result<ReadCompletion> wait() override {
    std::unique_lock<std::mutex> lock(mu_);
    if (in_flight_ == 0) return error("internal: waiting on '{}' with no reads in flight", path());
    done_cv_.wait(lock, [this] { return !done_.empty(); });
    return pop_locked();
  }

  Result<std::optional<ReadCompletion>> poll() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_.empty()) return std::optional<ReadCompletion>();
    return std::optional<ReadCompletion>(pop_locked());
  }

  size_t in_flight() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return in_flight_;
  }
  Status check_unchanged() override { return check_file_unchanged(file_); }

 private:
  ReadCompletion pop_locked() {
    ReadCompletion c = std::move(done_.front());
    done_.pop_front();
    --in_flight_;
    return c;
  }

  void worker_loop() {
    for (;;) {
      Chunk c;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [this] { return stop_ || !work_.empty(); });
        if (work_.empty()) return;  // stop_ and nothing left
        c = work_.front();
        work_.pop_front();
      }
      const uint64_t start = c.offset, length = c.length;
      Status err;
      ChunkStep step;
      do {
        const ssize_t n = ::pread(file_.file.fd(), c.dest, c.length, static_cast<off_t>(c.offset));
        step = advance_chunk(c, n < 0 ? -static_cast<int64_t>(errno) : n, file_.direct, alignment(), path(), &err);
      } while (step == ChunkStep::Again);
      drop_cached(file_, start, length);
      finish(c.request, c.offset - start, step == ChunkStep::Failed ? err : Status::ok());
    }
  }

  void finish(uint64_t id, uint64_t bytes, Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(id);
    PendingRequest& p = it->second;
    p.bytes += bytes;
    if (!status.is_ok() && p.status.is_ok()) p.status = std::move(status);
    if (--p.chunks_left > 0) return;
    done_.push_back(ReadCompletion{p.tag, p.bytes, std::move(p.status)});
    pending_.erase(it);
    done_cv_.notify_one();
  }

  const OpenedFile file_;
  const uint64_t block_;
  uint64_t next_id_ = 0;  // consumer thread only
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  // Guarded by mu_: the chunk queue, requests in progress, finished requests, the count not yet returned.
  std::deque<Chunk> work_;
  std::unordered_map<uint64_t, PendingRequest> pending_;
  std::deque<ReadCompletion> done_;
  size_t in_flight_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;  // last: started after every field above exists
};

}  // namespace

std::unique_ptr<Reader> make_pread_reader(OpenedFile file, const ReaderOptions& options) {
  return std::make_unique<PreadReader>(std::move(file), options);
}

}  // namespace strata::io::detail
