// gguf/writer.h: writes GGUF v3 files: metadata in insertion order, tensors streamed from fill callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "gguf/gguf_file.h"
#include "gguf/value.h"

namespace strata::gguf {

class Writer {
 public:
  // An alignment other than 32 is recorded as general.alignment (u32) unless the caller set that key,
  // which must then agree with `alignment`. A bad alignment is reported by write/to_bytes.
  explicit Writer(uint64_t alignment = kDefaultAlignment) : alignment_(alignment) {}

  void set(std::string key, Value v);
  // Fills `out` (exactly size_bytes) with the tensor's data when the file is written; called once, in order.
  using Fill = std::function<Status(std::span<uint8_t> out)>;
  void add_tensor(std::string name, std::vector<int64_t> dims, uint32_t type_id, uint64_t size_bytes, Fill fill);
  void add_tensor_bytes(std::string name, std::vector<int64_t> dims, uint32_t type_id, std::vector<uint8_t> bytes);

  struct WriteOptions {
    // Header only: the data section is left as a hole of its full size (a sparse file), so planning and
    // `inspect` see the real layout while the disk holds kilobytes. Reading its weights gives zeros.
    bool sparse = false;
    ProgressFn progress;  // "writing" in bytes of tensor data, after each tensor
  };
  // Writes the whole file (to path + ".tmp", then renames) so a failed write never leaves a half file.
  Status write(const std::string& path) const { return write(path, WriteOptions{}); }
  Status write(const std::string& path, const WriteOptions& options) const;
  // Serialises header + data to memory (tests and fuzzing).
  Result<std::vector<uint8_t>> to_bytes() const;

 private:
  struct PendingTensor {
    std::string name;
    std::vector<int64_t> dims;
    uint32_t type_id;
    uint64_t size_bytes;
    Fill fill;
  };
  // Refuses what the reader would reject: bad alignment, values whose payload does not fit their tag,
  // nesting too deep, duplicate or empty tensor names, dimensions outside 1..4 or <= 0.
  Status validate() const;
  Result<std::vector<uint8_t>> header_bytes(std::vector<uint64_t>& offsets) const;

  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace strata::gguf
