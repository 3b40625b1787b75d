// kernels/cuda/device.cc: the RAII owners of device.h and the device probe.
#include "kernels/cuda/device.h"

#include <cstdio>

#include "kernels/cuda/cuda_check.h"

namespace strata::cuda {

int device_count() {
  int n = 0;
  // No driver, no device or a driver older than the runtime: all mean "no usable GPU", not a fault.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

std::string describe_device(int device) {
  if (device >= device_count()) return {};
  cudaDeviceProp p{};
  STRATA_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.256s, sm_%d%d, %d SMs, %.1f GiB", p.name, p.major, p.minor, p.multiProcessorCount,
                static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

DeviceBuffer::DeviceBuffer(size_t size_bytes) : size_(size_bytes) {
  if (size_bytes > 0) STRATA_CUDA_CHECK(cudaMalloc(&ptr_, size_bytes));
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_) STRATA_CUDA_CHECK(cudaFree(ptr_));
}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) STRATA_CUDA_CHECK(cudaFree(ptr_));
    ptr_ = std::exchange(o.ptr_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

PinnedBuffer::PinnedBuffer(size_t size_bytes) : size_(size_bytes) {
  if (size_bytes > 0) STRATA_CUDA_CHECK(cudaMallocHost(&ptr_, size_bytes));
}
PinnedBuffer::~PinnedBuffer() {
  if (ptr_) STRATA_CUDA_CHECK(cudaFreeHost(ptr_));
}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) STRATA_CUDA_CHECK(cudaFreeHost(ptr_));
    ptr_ = std::exchange(o.ptr_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

Stream::Stream() { STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
Stream::~Stream() { STRATA_CUDA_CHECK(cudaStreamDestroy(stream_)); }
void Stream::synchronize() const { STRATA_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Event::Event(bool timing) {
  STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}
Event::~Event() { STRATA_CUDA_CHECK(cudaEventDestroy(event_)); }
void Event::record(cudaStream_t s) const { STRATA_CUDA_CHECK(cudaEventRecord(event_, s)); }
bool Event::done() const {
  const cudaError_t e = cudaEventQuery(event_);
  if (e == cudaErrorNotReady) return false;
  STRATA_CUDA_CHECK(e);
  return true;
}
void Event::synchronize() const { STRATA_CUDA_CHECK(cudaEventSynchronize(event_)); }
float Event::elapsed_ms(const Event& start, const Event& stop) {
  float ms = 0.0f;
  STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return ms;
}

}  // namespace strata::cuda
