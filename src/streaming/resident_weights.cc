// streaming/resident_weights.cc: loading the data section into RAM and handing out views.
#include "streaming/resident_weights.h"

#include <algorithm>

#include "core/check.h"
#include "core/file.h"

namespace strata::streaming {

Result<std::unique_ptr<ResidentWeights>> ResidentWeights::load(const gguf::GgufFile& file, const model::Model& model,
                                                               const ProgressFn& progress) {
  STRATA_ASSIGN_OR_RETURN(File f, File::open_read(file.path));
  if (f.size_bytes() != file.file_size)
    return error("'{}' changed size since it was parsed ({} → {} bytes)", file.path, file.file_size, f.size_bytes());
  std::unique_ptr<ResidentWeights> w(new ResidentWeights(model));
  w->data_offset_ = file.data_offset;
  const uint64_t n = file.file_size > file.data_offset ? file.file_size - file.data_offset : 0;
  w->data_.reset(n);
  // About a hundred reads, each 4-256 MiB: large enough to stream at full speed, small enough for progress.
  const uint64_t chunk = std::clamp<uint64_t>(n / 100, 4ull << 20, 256ull << 20);
  Progress p = bytes_progress("loading", file.path, 0, n);
  report(progress, p);
  for (uint64_t off = 0; off < n; off += chunk) {
    const uint64_t len = std::min(chunk, n - off);
    STRATA_RETURN_IF_ERROR(f.read_exact(file.data_offset + off, {w->data_.data() + off, len}));
    p.done = off + len;
    report(progress, p);
  }
  p.done = n;
  p.finished = true;
  report(progress, p);
  return w;
}

Result<model::WeightRef> ResidentWeights::acquire(model::TensorId id) {
  const gguf::TensorInfo& t = model_.tensors[id];
  STRATA_CHECK(t.file_offset >= data_offset_ && t.file_offset - data_offset_ + t.size_bytes <= data_.size());
  return model::WeightRef(model::make_view(model_, id, data_.data() + (t.file_offset - data_offset_)));
}

Result<model::WeightRef> ResidentWeights::acquire_expert(int layer, model::ExpertTensor which, int32_t expert) {
  const model::TensorId id = model_.layers[layer].ffn_exps[static_cast<int>(which)];
  STRATA_ASSIGN_OR_RETURN(model::WeightRef whole, acquire(id));
  STRATA_CHECK(expert >= 0 && expert < whole.view().ne[2]);
  return model::WeightRef(whole.view().slice_last(expert));
}

}  // namespace strata::streaming
