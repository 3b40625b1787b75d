// tensor/tensor.h: TensorView, a typed, shaped, non-owning view of weight bytes wherever they live.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "tensor/dtype.h"

namespace strata {

// Which memory a view's bytes are in. Host memory (RAM, pinned RAM, a mapped file) is Cpu; index 0 is the
// process's own RAM, higher Cpu indices are other host-side backends' buffers (tests use one as a stand-in
// device). Cuda index i is GPU i's memory.
enum class DeviceKind : uint8_t { Cpu, Cuda };
struct Device {
  DeviceKind kind = DeviceKind::Cpu;
  int index = 0;
  bool is_host() const { return kind == DeviceKind::Cpu; }
  friend bool operator==(const Device&, const Device&) = default;
};
inline constexpr Device kHostDevice{};

struct TensorView {
  DType type = DType::F32;
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // ne[0] is contiguous (row length); ggml order
  const uint8_t* data = nullptr;
  std::string_view name;
  Device device;  // where data points; kernels read only views on a device they can address

  int64_t row_length() const { return ne[0]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  uint64_t row_bytes() const { return dtype_traits(type).row_bytes(ne[0]); }
  uint64_t size_bytes() const { return row_bytes() * static_cast<uint64_t>(n_rows()); }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes(); }

  // The i-th slice along the last dimension (an expert of a stacked [k, rows, n_expert] tensor).
  TensorView slice_last(int64_t i) const {
    TensorView v = *this;
    v.ne[2] = 1;
    v.ne[3] = 1;
    v.data = data + static_cast<uint64_t>(i) * row_bytes() * static_cast<uint64_t>(ne[1]);
    return v;
  }
};

}  // namespace strata
