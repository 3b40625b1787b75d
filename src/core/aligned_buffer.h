// core/aligned_buffer.h: an owning, aligned, uninitialised byte buffer (weights, staging slots, scratch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <utility>

#include "core/check.h"

namespace strata {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Alignment must be a power of two; 4096 suits O_DIRECT and SIMD alike.
  explicit AlignedBuffer(size_t size_bytes, size_t alignment = 4096) { reset(size_bytes, alignment); }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }

  void reset(size_t size_bytes, size_t alignment = 4096) {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (size_bytes == 0) return;
    size_t rounded = (size_bytes + alignment - 1) / alignment * alignment;
    data_ = static_cast<uint8_t*>(std::aligned_alloc(alignment, rounded));
    STRATA_CHECK_MSG(data_ != nullptr, "out of memory");
    size_ = size_bytes;
  }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace strata
