// streaming/resident_weights.cc: loading the data section into RAM and handing out views.
#include "streaming/resident_weights.h"

#include <algorithm>

#include "core/check.h"
#include "core/file.h"

namespace strata::streaming {

Result<std::unique_ptr<ResidentWeights>> ResidentWeights::load(const gguf::GgufFile& file, const model::Model& model,
                                                               const ProgressFn& progress,
                                                               const std::vector<bool>& elsewhere) {
  STRATA_ASSIGN_OR_RETURN(File f, File::open_read(file.path));
  if (f.size_bytes() != file.file_size)
    return error("'{}' changed size since it was parsed ({} → {} bytes)", file.path, file.file_size, f.size_bytes());
  std::unique_ptr<ResidentWeights> w(new ResidentWeights(model));
  // The held tensors in file order, adjacent ones (up to the file's alignment padding) read as one run.
  struct Run {
    uint64_t file_offset = 0, bytes = 0, buffer_offset = 0;
  };
  std::vector<model::TensorId> held;
  for (size_t id = 0; id < model.tensors.size(); ++id)
    if (id >= elsewhere.size() || !elsewhere[id]) held.push_back(static_cast<model::TensorId>(id));
  std::sort(held.begin(), held.end(), [&](model::TensorId a, model::TensorId b) {
    return model.tensors[a].file_offset < model.tensors[b].file_offset;
  });
  constexpr uint64_t kGap = 64;  // GGUF aligns tensors to 32 bytes by default: padding this small is read along
  std::vector<Run> runs;
  uint64_t n = 0;
  w->offset_.assign(model.tensors.size(), kNotHeld);
  for (model::TensorId id : held) {
    const gguf::TensorInfo& t = model.tensors[id];
    if (t.file_offset < file.data_offset || t.file_offset + t.size_bytes > file.file_size)
      return error(ErrorKind::Corruption, "tensor '{}' lies outside the data section of '{}'", t.name, file.path);
    Run* r = runs.empty() ? nullptr : &runs.back();
    if (r == nullptr || t.file_offset > r->file_offset + r->bytes + kGap) {
      n = (n + 63) / 64 * 64;  // each run starts 64-byte aligned, as the whole data section did
      runs.push_back({t.file_offset, 0, n});
      r = &runs.back();
    }
    const uint64_t end = std::max(r->file_offset + r->bytes, t.file_offset + t.size_bytes);
    r->bytes = end - r->file_offset;
    n = r->buffer_offset + r->bytes;
    w->offset_[id] = r->buffer_offset + (t.file_offset - r->file_offset);
  }
  w->data_.reset(n);
  // About a hundred reads, each 4-256 MiB: large enough to stream at full speed, small enough for progress.
  const uint64_t chunk = std::clamp<uint64_t>(n / 100, 4ull << 20, 256ull << 20);
  Progress p = bytes_progress("loading", file.path, 0, n);
  report(progress, p);
  for (const Run& r : runs) {
    for (uint64_t off = 0; off < r.bytes; off += chunk) {
      const uint64_t len = std::min(chunk, r.bytes - off);
      STRATA_RETURN_IF_ERROR(f.read_exact(r.file_offset + off, {w->data_.data() + r.buffer_offset + off, len}));
      p.done += len;
      report(progress, p);
    }
  }
  p.done = n;
  p.finished = true;
  report(progress, p);
  return w;
}

Result<model::WeightRef> ResidentWeights::acquire(model::TensorId id) {
  if (id < 0 || static_cast<size_t>(id) >= offset_.size())
    return error(ErrorKind::Internal, "internal: tensor id {} out of range", id);
  if (offset_[id] == kNotHeld)
    return error(ErrorKind::Internal, "internal: tensor '{}' is held in another device's memory, not in RAM",
                 model_.tensors[id].name);
  STRATA_CHECK(offset_[id] + model_.tensors[id].size_bytes <= data_.size());
  return model::WeightRef(model::make_view(model_, id, data_.data() + offset_[id]));
}

Result<model::WeightRef> ResidentWeights::acquire_expert(int layer, model::ExpertTensor which, int32_t expert) {
  const model::TensorId id = model_.layers[layer].ffn_exps[static_cast<int>(which)];
  STRATA_ASSIGN_OR_RETURN(model::WeightRef whole, acquire(id));
  STRATA_CHECK(expert >= 0 && expert < whole.view().ne[2]);
  return model::WeightRef(whole.view().slice_last(expert));
}

}  // namespace strata::streaming
