// core/thread_pool.h: a fixed set of worker threads that split loops across cores without per-call thread creation.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata {

class ThreadPool {
 public:
  // n_threads counts the caller: a pool of 1 runs everything on the calling thread.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index) once on each of size() threads (the caller is index 0) and waits for all.
  // REQUIRES: not called re-entrantly from inside fn, nor from two threads at once.
  void run_on_all(const std::function<void(int thread_index)>& fn);

  // Splits [0, n) into contiguous chunks of at least `grain` items, one per thread, and waits.
  void parallel_for(size_t n, size_t grain, const std::function<void(size_t begin, size_t end)>& fn);

  // How many times work went out to the workers (calls that ran on the caller alone are not counted): what a
  // small op costs beyond its arithmetic is about one dispatch, so tests and benchmarks count them.
  uint64_t dispatches() const { return n_dispatches_.load(std::memory_order_relaxed); }

  // The number of hardware threads, at least 1.
  static int hardware_threads();

 private:
  void worker_loop(int index);

  const int n_threads_;
  std::vector<std::thread> workers_;
  // Workers spin on generation_ briefly, then sleep on wake_cv_; mutex_ guards only the sleep/wake handshake.
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> n_dispatches_{0};
  const std::function<void(int)>* job_ = nullptr;  // written before generation_ is bumped
};

}  // namespace strata
