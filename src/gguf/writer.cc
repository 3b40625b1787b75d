// gguf/writer.cc: GGUF serialisation.
#include "gguf/writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <string_view>
#include <unordered_set>

namespace strata::gguf {

namespace {

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  size_t at = out.size();
  out.resize(at + s.size());
  if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}

// REQUIRES: check_value(v) passed, so every accessor below holds a value of the right range.
void put_value(std::vector<uint8_t>& out, const Value& v) {
  switch (v.type()) {
    case ValueType::UINT8: put<uint8_t>(out, static_cast<uint8_t>(*v.as_uint())); break;
    case ValueType::INT8: put<int8_t>(out, static_cast<int8_t>(*v.as_int())); break;
    case ValueType::UINT16: put<uint16_t>(out, static_cast<uint16_t>(*v.as_uint())); break;
    case ValueType::INT16: put<int16_t>(out, static_cast<int16_t>(*v.as_int())); break;
    case ValueType::UINT32: put<uint32_t>(out, static_cast<uint32_t>(*v.as_uint())); break;
    case ValueType::INT32: put<int32_t>(out, static_cast<int32_t>(*v.as_int())); break;
    case ValueType::UINT64: put<uint64_t>(out, *v.as_uint()); break;
    case ValueType::INT64: put<int64_t>(out, *v.as_int()); break;
    case ValueType::FLOAT32: put<float>(out, static_cast<float>(*v.as_number())); break;
    case ValueType::FLOAT64: put<double>(out, *v.as_number()); break;
    case ValueType::BOOL: put<uint8_t>(out, *v.as_bool() ? 1 : 0); break;
    case ValueType::STRING: put_string(out, *v.as_string()); break;
    case ValueType::ARRAY: {
      const Array* a = v.as_array();
      put<uint32_t>(out, static_cast<uint32_t>(a->elem_type));
      put<uint64_t>(out, a->items.size());
      for (const auto& item : a->items) put_value(out, item);
      break;
    }
  }
}

Status check_unsigned(const Value& v, uint64_t max) {
  auto u = v.as_uint();
  if (!u || *u > max) return error("{} value {} does not fit", value_type_name(v.type()), v.to_display());
  return Status::ok();
}

Status check_signed(const Value& v, int64_t lo, int64_t hi) {
  auto i = v.as_int();
  if (!i || *i < lo || *i > hi) return error("{} value {} does not fit", value_type_name(v.type()), v.to_display());
  return Status::ok();
}

// Values are built by callers with free-form factories (Value::u64(type, x)); refuse any whose payload does not
// match its tag, so the file never holds bytes the reader would misinterpret.
Status check_value(const Value& v, int depth) {
  switch (v.type()) {
    case ValueType::UINT8: return check_unsigned(v, UINT8_MAX);
    case ValueType::UINT16: return check_unsigned(v, UINT16_MAX);
    case ValueType::UINT32: return check_unsigned(v, UINT32_MAX);
    case ValueType::UINT64: return check_unsigned(v, UINT64_MAX);
    case ValueType::INT8: return check_signed(v, INT8_MIN, INT8_MAX);
    case ValueType::INT16: return check_signed(v, INT16_MIN, INT16_MAX);
    case ValueType::INT32: return check_signed(v, INT32_MIN, INT32_MAX);
    case ValueType::INT64: return check_signed(v, INT64_MIN, INT64_MAX);
    case ValueType::FLOAT32:
    case ValueType::FLOAT64:
      if (!v.as_number()) return error("{} value holds no number", value_type_name(v.type()));
      return Status::ok();
    case ValueType::BOOL:
      if (!v.as_bool()) return error("bool value holds no bool");
      return Status::ok();
    case ValueType::STRING:
      if (!v.as_string()) return error("string value holds no string");
      return Status::ok();
    case ValueType::ARRAY: {
      const Array* a = v.as_array();
      if (!a) return error("array value holds no array");
      if (depth >= kMaxArrayDepth) return error("arrays nested deeper than {} levels", kMaxArrayDepth);
      for (size_t i = 0; i < a->items.size(); ++i) {
        const Value& item = a->items[i];
        if (item.type() != a->elem_type)
          return error("element {} is {} in an array of {}", i, value_type_name(item.type()),
                       value_type_name(a->elem_type));
        STRATA_RETURN_IF_ERROR(check_value(item, depth + 1).with_context(fmt::format("element {}", i)));
      }
      return Status::ok();
    }
  }
  return error("unknown value type {}", static_cast<uint32_t>(v.type()));
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void Writer::set(std::string key, Value v) {
  for (auto& kv : metadata_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(v));
}

void Writer::add_tensor(std::string name, std::vector<int64_t> dims, uint32_t type_id, uint64_t size_bytes, Fill fill) {
  tensors_.push_back({std::move(name), std::move(dims), type_id, size_bytes, std::move(fill)});
}

void Writer::add_tensor_bytes(std::string name, std::vector<int64_t> dims, uint32_t type_id, std::vector<uint8_t> bytes) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  uint64_t size = shared->size();
  add_tensor(std::move(name), std::move(dims), type_id, size, [shared](std::span<uint8_t> out) {
    std::memcpy(out.data(), shared->data(), out.size());
    return Status::ok();
  });
}

Status Writer::validate() const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0 || alignment_ > kMaxAlignment)
    return error("alignment {} is not a power of two up to {}", alignment_, kMaxAlignment);
  for (size_t i = 0; i < metadata_.size(); ++i) {
    const auto& [key, v] = metadata_[i];
    if (key.empty() || key.size() > kMaxNameBytes) return error("metadata key {} has length {}", i, key.size());
    STRATA_RETURN_IF_ERROR(check_value(v, 0).with_context(fmt::format("metadata key '{}'", key)));
    if (key == "general.alignment" && (v.type() != ValueType::UINT32 || *v.as_uint() != alignment_))
      return error("general.alignment is {} {} but the writer aligns to {}", value_type_name(v.type()), v.to_display(),
                   alignment_);
  }
  std::unordered_set<std::string_view> names;
  for (const auto& t : tensors_) {
    if (t.name.empty() || t.name.size() > kMaxNameBytes) return error("tensor name has length {}", t.name.size());
    if (!names.insert(t.name).second) return error("duplicate tensor name '{}'", t.name);
    if (t.dims.empty() || t.dims.size() > static_cast<size_t>(kMaxDims))
      return error("tensor '{}' has {} dimensions (must be 1 to {})", t.name, t.dims.size(), kMaxDims);
    for (int64_t d : t.dims)
      if (d <= 0) return error("tensor '{}' has dimension {}", t.name, d);
    if (!t.fill) return error("tensor '{}' has no fill function", t.name);
  }
  return Status::ok();
}

Result<std::vector<uint8_t>> Writer::header_bytes(std::vector<uint64_t>& offsets) const {
  STRATA_RETURN_IF_ERROR(validate());
  bool has_alignment_key = false;
  for (const auto& kv : metadata_) has_alignment_key |= kv.first == "general.alignment";
  // A reader assumes 32 unless the file says otherwise, so any other alignment must be written down.
  const bool add_alignment_key = !has_alignment_key && alignment_ != kDefaultAlignment;

  std::vector<uint8_t> out;
  put<uint32_t>(out, kMagic);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, metadata_.size() + (add_alignment_key ? 1 : 0));
  for (const auto& [k, v] : metadata_) {
    put_string(out, k);
    put<uint32_t>(out, static_cast<uint32_t>(v.type()));
    put_value(out, v);
  }
  if (add_alignment_key) {
    put_string(out, "general.alignment");
    put<uint32_t>(out, static_cast<uint32_t>(ValueType::UINT32));
    put<uint32_t>(out, static_cast<uint32_t>(alignment_));
  }
  offsets.clear();
  uint64_t off = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(out, static_cast<uint64_t>(d));
    put<uint32_t>(out, t.type_id);
    put<uint64_t>(out, off);
    offsets.push_back(off);
    off = align_up(off + t.size_bytes, alignment_);
  }
  out.resize(align_up(out.size(), alignment_), 0);
  return out;
}

Result<std::vector<uint8_t>> Writer::to_bytes() const {
  std::vector<uint64_t> offsets;
  STRATA_ASSIGN_OR_RETURN(std::vector<uint8_t> out, header_bytes(offsets));
  const uint64_t data_start = out.size();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.resize(data_start + offsets[i], 0);
    size_t at = out.size();
    out.resize(at + tensors_[i].size_bytes);
    STRATA_RETURN_IF_ERROR(tensors_[i].fill({out.data() + at, tensors_[i].size_bytes}));
  }
  return out;
}

Status Writer::write(const std::string& path, const WriteOptions& options) const {
  std::vector<uint64_t> offsets;
  STRATA_ASSIGN_OR_RETURN(std::vector<uint8_t> header, header_bytes(offsets));
  const std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!f) return error("cannot create '{}': {}", tmp, std::strerror(errno));
  auto write_all = [&](const uint8_t* p, size_t n) -> Status {
    if (n && std::fwrite(p, 1, n, f.get()) != n) return error("write to '{}' failed: {}", tmp, std::strerror(errno));
    return Status::ok();
  };
  Status st = write_all(header.data(), header.size());
  uint64_t data_bytes = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) data_bytes = std::max(data_bytes, offsets[i] + tensors_[i].size_bytes);
  Progress progress = bytes_progress("writing", path, 0, data_bytes);
  report(options.progress, progress);
  if (options.sparse && st.is_ok()) {
    if (std::fflush(f.get()) != 0 || ::ftruncate(::fileno(f.get()), static_cast<off_t>(header.size() + data_bytes)) != 0)
      st = error("cannot extend '{}' to {} bytes: {}", tmp, header.size() + data_bytes, std::strerror(errno));
  }
  // Tensor i + 1 is generated while tensor i is written (a synthetic model's fill runs on every core, the
  // write at the disk's pace once the page cache's dirty limit is reached): two buffers, one writer thread.
  uint64_t pos = 0;
  std::vector<uint8_t> bufs[2];
  std::future<Status> pending;  // the write of the other buffer, when one is in flight
  auto wait_pending = [&]() {
    if (pending.valid()) {
      Status w = pending.get();
      if (st.is_ok()) st = w;
    }
  };
  static const uint8_t kZeros[64] = {};
  for (size_t i = 0; st.is_ok() && !options.sparse && i < tensors_.size(); ++i) {
    std::vector<uint8_t>& buf = bufs[i % 2];
    buf.resize(tensors_[i].size_bytes);
    st = tensors_[i].fill(buf);
    wait_pending();
    if (!st.is_ok()) break;
    const uint64_t pad = offsets[i] - pos;
    pos = offsets[i] + tensors_[i].size_bytes;
    pending = std::async(std::launch::async, [&write_all, &buf, pad]() -> Status {
      for (uint64_t left = pad; left > 0;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof(kZeros), left));
        STRATA_RETURN_IF_ERROR(write_all(kZeros, n));
        left -= n;
      }
      return write_all(buf.data(), buf.size());
    });
    progress.done = offsets[i];
    report(options.progress, progress);
  }
  wait_pending();
  if (st.is_ok() && std::fflush(f.get()) != 0) st = error("flush of '{}' failed: {}", tmp, std::strerror(errno));
  if (std::fclose(f.release()) != 0 && st.is_ok()) st = error("close of '{}' failed: {}", tmp, std::strerror(errno));
  if (!st.is_ok()) {
    std::remove(tmp.c_str());
    return st;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return error("cannot rename '{}' to '{}': {}", tmp, path, std::strerror(errno));
  }
  progress.done = data_bytes;
  progress.finished = true;
  report(options.progress, progress);
  return Status::ok();
}

}  // namespace strata::gguf
