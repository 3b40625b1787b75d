// tests/gguf/alloc_tracker.h: replaces global operator new to record the largest single allocation, so tests can
// prove a lying header never makes the parser allocate what it claims. Include from exactly one file per binary.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace strata::gguf::test {

inline std::atomic<size_t> g_largest_allocation{0};
inline std::atomic<bool> g_tracking_allocations{false};

// Records the largest single operator-new request made while it is alive (one at a time).
class LargestAllocation {
 public:
  LargestAllocation() {
    g_largest_allocation = 0;
    g_tracking_allocations = true;
  }
  ~LargestAllocation() { g_tracking_allocations = false; }
  LargestAllocation(const LargestAllocation&) = delete;
  LargestAllocation& operator=(const LargestAllocation&) = delete;
  size_t bytes() const { return g_largest_allocation; }
};

}  // namespace strata::gguf::test

// Array, nothrow and sized forms default to these two in libstdc++, so they are tracked too. Kept out of line so
// GCC does not inline free() into call sites and then warn that it pairs with operator new.
[[gnu::noinline]] void* operator new(std::size_t n) {
  using namespace strata::gguf::test;
  if (g_tracking_allocations.load(std::memory_order_relaxed)) {
    size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
    while (n > seen && !g_largest_allocation.compare_exchange_weak(seen, n)) {
    }
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}

[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
