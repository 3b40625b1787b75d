// gguf/gguf_file.h: the parsed description of a GGUF file: header, metadata, tensor directory. Never computes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "gguf/value.h"

namespace strata::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;
// Limits shared by the reader (which rejects files past them) and the writer (which refuses to make one).
constexpr uint64_t kMaxAlignment = uint64_t{1} << 20;
constexpr int kMaxArrayDepth = 4;                  // arrays of arrays, at most this many levels
constexpr uint64_t kMaxNameBytes = 64 * 1024;      // metadata keys and tensor names

// How a tensor type lays out its elements; the tensor layer's dtype table provides it.
struct TypeLayout {
  uint32_t block_elems = 1;
  uint32_t block_bytes = 4;
  std::string_view name;
};
using TypeLookup = std::function<std::optional<TypeLayout>(uint32_t type_id)>;

struct TensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // ne[0] first: ne[0] is the contiguous (row) dimension
  uint32_t type_id = 0;
  uint64_t offset = 0;       // relative to the data section
  uint64_t size_bytes = 0;   // derived from dims and the type's layout
  uint64_t file_offset = 0;  // absolute offset in the file

  int64_t n_elements() const;
};

struct GgufFile {
  std::string path;
  uint32_t version = 3;
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;  // absolute offset of the tensor data section
  uint64_t file_size = 0;
  uint64_t header_bytes_read = 0;  // how much of the file parsing touched (inspect reports it)
  std::vector<std::pair<std::string, Value>> metadata;  // file order
  std::vector<TensorInfo> tensors;                      // file order

  const Value* find(std::string_view key) const;
  const TensorInfo* find_tensor(std::string_view name) const;

  // Typed getters: a missing key gives nullopt; a present key of the wrong type gives an error.
  Result<std::optional<int64_t>> get_int(std::string_view key) const;
  Result<std::optional<double>> get_number(std::string_view key) const;
  Result<std::optional<std::string>> get_string(std::string_view key) const;

  uint64_t total_tensor_bytes() const;

  std::unordered_map<std::string, size_t> key_index;
  std::unordered_map<std::string, size_t> tensor_index;
};

// A source of header bytes: the parser reads through it so the same code parses files and memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly out.size() bytes at offset, or returns an error.
  virtual Status read(uint64_t offset, std::span<uint8_t> out) = 0;
};

// What one parse may cost. The memory bound counts what the parsed metadata occupies (a Value per
// element, string bytes), so a header of a few MiB cannot grow into gigabytes of Values.
struct ParseLimits {
  uint64_t max_metadata_bytes = uint64_t{256} << 20;  // real vocabularies need ~100 MiB at most
  // Arrays longer than this are walked and counted (Array::n_skipped), not kept: for callers that only
  // show counts (/api/show), a 2^24-element array then costs nothing.
  uint64_t max_kept_array_items = UINT64_MAX;
  bool follow_links = true;  // false: a symbolic link at the path is refused (files in a writable store)
};

// Parses header, metadata and tensor directory; validates everything against the source's size.
Result<GgufFile> parse(ByteSource& source, const TypeLookup& types, std::string path_for_messages,
                       const ParseLimits& limits = {});
Result<GgufFile> parse_memory(std::span<const uint8_t> bytes, const TypeLookup& types, const ParseLimits& limits = {});
// Reads only the header region of the file (never the weights).
Result<GgufFile> read_file(const std::string& path, const TypeLookup& types, const ParseLimits& limits = {});

}  // namespace strata::gguf
