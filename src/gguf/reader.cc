// gguf/reader.cc: the GGUF parser. Every count, length, dimension and offset is untrusted and bounded.
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/file.h"
#include "gguf/gguf_file.h"

namespace strata::gguf {

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

const Value* GgufFile::find(std::string_view key) const {
  auto it = key_index.find(std::string(key));
  return it == key_index.end() ? nullptr : &metadata[it->second].second;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index.find(std::string(name));
  return it == tensor_index.end() ? nullptr : &tensors[it->second];
}

Result<std::optional<int64_t>> GgufFile::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::optional<int64_t>{};
  auto i = v->as_int();
  if (!i) return error("metadata key '{}' should be an integer but is {}", key, value_type_name(v->type()));
  return std::optional<int64_t>{*i};
}

Result<std::optional<double>> GgufFile::get_number(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::optional<double>{};
  auto d = v->as_number();
  if (!d) return error("metadata key '{}' should be a number but is {}", key, value_type_name(v->type()));
  return std::optional<double>{*d};
}

Result<std::optional<std::string>> GgufFile::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::optional<std::string>{};
  if (!v->as_string()) return error("metadata key '{}' should be a string but is {}", key, value_type_name(v->type()));
  return std::optional<std::string>{*v->as_string()};
}

uint64_t GgufFile::total_tensor_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.size_bytes;
  return n;
}

namespace {

// Limits on untrusted counts. Each is far above any real model (the largest vocabularies have ~256K
// entries, the longest chat templates tens of KiB) and low enough that a lying header cannot make the
// parser allocate more than a few hundred MiB before the bytes it claims are actually read.
constexpr uint64_t kMaxStringBytes = uint64_t{64} << 20;  // one metadata string
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 24;
constexpr uint64_t kMaxEntries = uint64_t{1} << 20;       // metadata entries, tensors
// Containers grow as entries are actually read; a claimed count reserves at most this many up front.
constexpr uint64_t kMaxReserve = 4096;

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const uint8_t> b) : bytes_(b) {}
  uint64_t size() const override { return bytes_.size(); }
  Status read(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > bytes_.size() || out.size() > bytes_.size() - offset)
      return error("file is truncated: wanted {} bytes at offset {}, size is {}", out.size(), offset, bytes_.size());
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return Status::ok();
  }

 private:
  std::span<const uint8_t> bytes_;
};

// Reads the file in 1 MiB windows so parsing a big vocabulary is a handful of preads.
class FileSource final : public ByteSource {
 public:
  explicit FileSource(const File& f) : file_(f) {}
  uint64_t size() const override { return file_.size_bytes(); }
  Status read(uint64_t offset, std::span<uint8_t> out) override {
    if (offset > size() || out.size() > size() - offset)
      return error("file is truncated: wanted {} bytes at offset {}, size is {}", out.size(), offset, size());
    size_t done = 0;
    while (done < out.size()) {
      uint64_t pos = offset + done;
      if (pos < win_start_ || pos >= win_start_ + window_.size()) {
        uint64_t len = std::min<uint64_t>(kWindow, size() - pos);
        window_.resize(len);
        STRATA_RETURN_IF_ERROR(file_.read_exact(pos, window_));
        win_start_ = pos;
        bytes_read_ += len;
      }
      size_t avail = window_.size() - (pos - win_start_);
      size_t n = std::min(avail, out.size() - done);
      std::memcpy(out.data() + done, window_.data() + (pos - win_start_), n);
      done += n;
    }
    return Status::ok();
  }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  static constexpr uint64_t kWindow = 1 << 20;
  const File& file_;
  std::vector<uint8_t> window_;
  uint64_t win_start_ = 0;
  uint64_t bytes_read_ = 0;
};

class Parser {
 public:
  Parser(ByteSource& src, const TypeLookup& types, const ParseLimits& limits)
      : src_(src), types_(types), limits_(limits) {}

  Result<GgufFile> run() {
    GgufFile f;
    f.file_size = src_.size();
    uint32_t magic = 0;
    STRATA_RETURN_IF_ERROR(read_pod(magic).with_context("reading magic"));
    if (magic != kMagic) return error("not a GGUF file: magic is 0x{:08x}, expected 0x{:08x} (\"GGUF\")", magic, kMagic);
    STRATA_RETURN_IF_ERROR(read_pod(f.version).with_context("reading version"));
    if (f.version == 0x02000000 || f.version == 0x03000000)
      return error("big-endian GGUF files are not supported");
    if (f.version == 1) return error("GGUF version 1 is not supported (only versions 2 and 3)");
    if (f.version != 2 && f.version != 3) return error("unsupported GGUF version {} (supported: 2, 3)", f.version);
    uint64_t n_tensors = 0, n_kv = 0;
    STRATA_RETURN_IF_ERROR(read_pod(n_tensors).with_context("reading tensor count"));
    STRATA_RETURN_IF_ERROR(read_pod(n_kv).with_context("reading metadata count"));
    // Each kv needs at least 8 (key len) + 4 (type) + 1 bytes; each tensor info at least 8+4+8+4+8.
    if (n_kv > remaining() / 13 || n_kv > kMaxEntries)
      return error("metadata count {} is impossible for a file of {} bytes", n_kv, src_.size());
    if (n_tensors > remaining() / 32 || n_tensors > kMaxEntries)
      return error("tensor count {} is impossible for a file of {} bytes", n_tensors, src_.size());

    f.metadata.reserve(std::min(n_kv, kMaxReserve));
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key;
      if (Status s = read_string(key, kMaxNameBytes); !s.is_ok())
        return s.with_context(fmt::format("reading key of metadata entry {}", i));
      STRATA_RETURN_IF_ERROR(account(sizeof(std::pair<std::string, Value>) + key.size()));
      if (key.empty()) return error("metadata entry {} has an empty key", i);
      uint32_t type = 0;
      if (Status s = read_pod(type); !s.is_ok()) return s.with_context(fmt::format("reading type of metadata key '{}'", key));
      Value v;
      if (Status s = read_value(type, 0, v); !s.is_ok()) return s.with_context(fmt::format("metadata key '{}'", key));
      if (f.key_index.count(key)) return error("duplicate metadata key '{}'", key);
      f.key_index.emplace(key, f.metadata.size());
      f.metadata.emplace_back(std::move(key), std::move(v));
    }

    if (const Value* a = f.find("general.alignment")) {
      auto n = a->as_int();
      if (a->type() != ValueType::UINT32 || !n)
        return error("general.alignment must be a u32, found {}", value_type_name(a->type()));
      if (*n == 0 || (*n & (*n - 1)) != 0 || static_cast<uint64_t>(*n) > kMaxAlignment)
        return error("general.alignment {} is not a power of two up to 1 MiB", *n);
      f.alignment = static_cast<uint64_t>(*n);
    }

    f.tensors.reserve(std::min(n_tensors, kMaxReserve));
    for (uint64_t i = 0; i < n_tensors; ++i) {
      TensorInfo t;
      STRATA_RETURN_IF_ERROR(
          read_string(t.name, kMaxNameBytes).with_context(fmt::format("reading name of tensor {}", i)));
      if (t.name.empty()) return error("tensor {} has an empty name", i);
      STRATA_RETURN_IF_ERROR(read_tensor_info(t, f.alignment));
      if (f.tensor_index.count(t.name)) return error("duplicate tensor name '{}'", t.name);
      f.tensor_index.emplace(t.name, f.tensors.size());
      f.tensors.push_back(std::move(t));
    }

    uint64_t header_end = pos_;
    f.data_offset = (header_end + f.alignment - 1) / f.alignment * f.alignment;
    if (n_tensors > 0 && f.data_offset > src_.size())
      return error("file is truncated: data section would start at {} but file has {} bytes", f.data_offset, src_.size());
    const uint64_t data_size = src_.size() >= f.data_offset ? src_.size() - f.data_offset : 0;

    // Every tensor inside the data section, none overlapping.
    std::vector<size_t> order(f.tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return f.tensors[a].offset < f.tensors[b].offset; });
    uint64_t prev_end = 0;
    const TensorInfo* prev = nullptr;
    for (size_t idx : order) {
      TensorInfo& t = f.tensors[idx];
      if (t.offset > data_size || t.size_bytes > data_size - t.offset)
        return error("tensor '{}' ({} bytes at data offset {}) extends past the end of the file (data section is {} bytes)",
                     t.name, t.size_bytes, t.offset, data_size);
      if (prev && t.offset < prev_end)
        return error("tensors '{}' and '{}' overlap (offset {} < end {})", prev->name, t.name, t.offset, prev_end);
      prev_end = t.offset + t.size_bytes;
      prev = &t;
      t.file_offset = f.data_offset + t.offset;
    }
    return f;
  }

 private:
  uint64_t remaining() const { return src_.size() > pos_ ? src_.size() - pos_ : 0; }

  // Counts memory the parsed metadata will hold against the limit.
  Status account(uint64_t bytes) {
    used_ += bytes;
    if (used_ > limits_.max_metadata_bytes)
      return error("metadata needs more than {} MiB of memory (the limit for one file)", limits_.max_metadata_bytes >> 20);
    return Status::ok();
  }

  // Walks a value without keeping it (arrays that are only counted). Strings are skipped by length.
  Status skip_value(ValueType type, int depth) {
    if (type == ValueType::STRING) {
      uint64_t len = 0;
      STRATA_RETURN_IF_ERROR(read_pod(len));
      if (len > kMaxStringBytes) return error("string claims {} bytes, more than the limit of {}", len, kMaxStringBytes);
      if (len > remaining()) return error("string claims {} bytes but only {} remain in the file", len, remaining());
      pos_ += len;
      return Status::ok();
    }
    if (type == ValueType::ARRAY) {
      uint32_t elem = 0;
      uint64_t count = 0;
      STRATA_RETURN_IF_ERROR(check_array_head(depth, elem, count));
      for (uint64_t i = 0; i < count; ++i) STRATA_RETURN_IF_ERROR(skip_value(static_cast<ValueType>(elem), depth + 1));
      return Status::ok();
    }
    const uint64_t n = min_size_of(type);
    if (n > remaining()) return error("file is truncated: wanted {} bytes at offset {}", n, pos_);
    if (type == ValueType::BOOL) {
      uint8_t v;
      STRATA_RETURN_IF_ERROR(read_pod(v));
      if (v > 1) return error("bool value {} is neither 0 nor 1", v);
      return Status::ok();
    }
    pos_ += n;
    return Status::ok();
  }

  // Reads and checks an array's element type and count against the limits and the bytes left.
  Status check_array_head(int depth, uint32_t& elem, uint64_t& count) {
    if (depth >= kMaxArrayDepth) return error("arrays nested deeper than {} levels", kMaxArrayDepth);
    STRATA_RETURN_IF_ERROR(read_pod(elem));
    STRATA_RETURN_IF_ERROR(read_pod(count));
    if (!is_valid_value_type(elem)) return error("array of unknown value type {}", elem);
    const auto t = static_cast<ValueType>(elem);
    if (count > kMaxArrayElements)
      return error("array claims {} elements, more than the limit of {}", count, kMaxArrayElements);
    if (count > remaining() / min_size_of(t))
      return error("array claims {} elements of {} but only {} bytes remain", count, value_type_name(t), remaining());
    return Status::ok();
  }

  template <typename T>
  Status read_pod(T& out) {
    uint8_t buf[sizeof(T)];
    STRATA_RETURN_IF_ERROR(src_.read(pos_, buf));
    std::memcpy(&out, buf, sizeof(T));
    pos_ += sizeof(T);
    return Status::ok();
  }

  // Checks the claimed length against `max_len` and the bytes left before allocating anything.
  Status read_string(std::string& out, uint64_t max_len) {
    uint64_t len = 0;
    STRATA_RETURN_IF_ERROR(read_pod(len));
    if (len > max_len) return error("string claims {} bytes, more than the limit of {}", len, max_len);
    if (len > remaining())
      return error("string claims {} bytes but only {} remain in the file", len, remaining());
    out.resize(len);
    if (len) STRATA_RETURN_IF_ERROR(src_.read(pos_, {reinterpret_cast<uint8_t*>(out.data()), len}));
    pos_ += len;
    return Status::ok();
  }

  static uint64_t min_size_of(ValueType t) {
    switch (t) {
      case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
      case ValueType::UINT16: case ValueType::INT16: return 2;
      case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
      case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: case ValueType::STRING: return 8;
      case ValueType::ARRAY: return 12;
    }
    return 1;
  }

  Status read_value(uint32_t type_raw, int depth, Value& out) {
    if (!is_valid_value_type(type_raw)) return error("unknown metadata value type {}", type_raw);
    auto type = static_cast<ValueType>(type_raw);
    switch (type) {
      case ValueType::UINT8: { uint8_t v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::u64(type, v); break; }
      case ValueType::INT8: { int8_t v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::i64(type, v); break; }
      case ValueType::UINT16: { uint16_t v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::u64(type, v); break; }
      case ValueType::INT16: { int16_t v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::i64(type, v); break; }
      case ValueType::UINT32: { uint32_t v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::u64(type, v); break; }
      case ValueType::INT32: { int32_t v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::i64(type, v); break; }
      case ValueType::UINT64: { uint64_t v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::u64(type, v); break; }
      case ValueType::INT64: { int64_t v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::i64(type, v); break; }
      case ValueType::FLOAT32: { float v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::f64(type, v); break; }
      case ValueType::FLOAT64: { double v; STRATA_RETURN_IF_ERROR(read_pod(v)); out = Value::f64(type, v); break; }
      case ValueType::BOOL: {
        uint8_t v;
        STRATA_RETURN_IF_ERROR(read_pod(v));
        if (v > 1) return error("bool value {} is neither 0 nor 1", v);
        out = Value::boolean(v != 0);
        break;
      }
      case ValueType::STRING: {
        std::string s;
        STRATA_RETURN_IF_ERROR(read_string(s, kMaxStringBytes));
        STRATA_RETURN_IF_ERROR(account(s.size()));
        out = Value::string(std::move(s));
        break;
      }
      case ValueType::ARRAY: {
        uint32_t elem = 0;
        uint64_t count = 0;
        STRATA_RETURN_IF_ERROR(check_array_head(depth, elem, count));
        Array a;
        a.elem_type = static_cast<ValueType>(elem);
        if (count > limits_.max_kept_array_items) {
          for (uint64_t i = 0; i < count; ++i)
            if (Status s = skip_value(a.elem_type, depth + 1); !s.is_ok()) return s.with_context(fmt::format("element {}", i));
          a.n_skipped = count;
          out = Value::array(std::move(a));
          break;
        }
        // A Value is ~48 bytes per 1-byte element: grow with what is read rather than trust the count,
        // and count each growth against the memory limit before it is allocated.
        for (uint64_t i = 0; i < count; ++i) {
          if (a.items.size() == a.items.capacity()) {
            const uint64_t cap = a.items.capacity();
            const uint64_t next = std::min<uint64_t>(count, std::max<uint64_t>(cap * 2, kMaxReserve));
            STRATA_RETURN_IF_ERROR(account((next - cap) * sizeof(Value)));
            a.items.reserve(next);
          }
          Value item;
          if (Status s = read_value(elem, depth + 1, item); !s.is_ok()) return s.with_context(fmt::format("element {}", i));
          a.items.push_back(std::move(item));
        }
        out = Value::array(std::move(a));
        break;
      }
    }
    return Status::ok();
  }

  Status read_tensor_info(TensorInfo& t, uint64_t alignment) {
    uint32_t n_dims = 0;
    STRATA_RETURN_IF_ERROR(read_pod(n_dims).with_context(fmt::format("tensor '{}'", t.name)));
    if (n_dims == 0 || n_dims > kMaxDims)
      return error("tensor '{}' has {} dimensions (must be 1 to {})", t.name, n_dims, kMaxDims);
    t.dims.resize(n_dims);
    // Products of dims stay below 2^62 so byte sizes never overflow.
    const uint64_t kMaxElements = uint64_t{1} << 50;
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t v = 0;
      STRATA_RETURN_IF_ERROR(read_pod(v).with_context(fmt::format("tensor '{}'", t.name)));
      if (v == 0 || v > kMaxElements) return error("tensor '{}' dimension {} is {} (must be 1 to 2^50)", t.name, d, v);
      if (n > kMaxElements / v) return error("tensor '{}' has an absurd element count (dims overflow 2^50)", t.name);
      n *= v;
      t.dims[d] = static_cast<int64_t>(v);
    }
    STRATA_RETURN_IF_ERROR(read_pod(t.type_id).with_context(fmt::format("tensor '{}'", t.name)));
    STRATA_RETURN_IF_ERROR(read_pod(t.offset).with_context(fmt::format("tensor '{}'", t.name)));
    auto layout = types_(t.type_id);
    if (!layout) return error("tensor '{}' has unknown or unsupported type id {}", t.name, t.type_id);
    if (layout->block_elems == 0 || layout->block_bytes == 0)
      return error("tensor '{}' type {} has no layout", t.name, layout->name);
    if (t.dims[0] % layout->block_elems != 0)
      return error("tensor '{}' of type {}: row length {} is not a multiple of the block size {}", t.name, layout->name,
                   t.dims[0], layout->block_elems);
    const uint64_t n_blocks = n / layout->block_elems;
    if (n_blocks > std::numeric_limits<uint64_t>::max() / 2 / layout->block_bytes)
      return error("tensor '{}' byte size overflows ({} blocks of {} bytes)", t.name, n_blocks, layout->block_bytes);
    t.size_bytes = n_blocks * layout->block_bytes;
    if (t.offset % alignment != 0)
      return error("tensor '{}' offset {} is not a multiple of the alignment {}", t.name, t.offset, alignment);
    return Status::ok();
  }

  ByteSource& src_;
  const TypeLookup& types_;
  const ParseLimits& limits_;
  uint64_t pos_ = 0;
  uint64_t used_ = 0;  // metadata memory accounted so far

 public:
  uint64_t position() const { return pos_; }
};

}  // namespace

Result<GgufFile> parse(ByteSource& source, const TypeLookup& types, std::string path_for_messages,
                       const ParseLimits& limits) {
  Parser p(source, types, limits);
  auto r = p.run();
  if (!r) {
    // The parser's refusals are about the bytes, not the caller: a file it refuses is corrupt. I/O keeps its kind.
    const Status& s = r.status();
    return (s.is_invalid_argument() ? Status::corruption(s.message()) : s).with_context(path_for_messages);
  }
  r->path = std::move(path_for_messages);
  return r;
}

Result<GgufFile> parse_memory(std::span<const uint8_t> bytes, const TypeLookup& types, const ParseLimits& limits) {
  MemorySource src(bytes);
  return parse(src, types, "<memory>", limits);
}

Result<GgufFile> read_file(const std::string& path, const TypeLookup& types, const ParseLimits& limits) {
  STRATA_ASSIGN_OR_RETURN(File file, File::open_read(path, /*direct=*/false, limits.follow_links));
  FileSource src(file);
  auto r = parse(src, types, path, limits);
  if (r) r->header_bytes_read = src.bytes_read();
  return r;
}

}  // namespace strata::gguf
