// kernels/timed_backend.cc: each op forwarded, then waited for, its host time added to its row.
#include "kernels/timed_backend.h"

#include <algorithm>

#include <fmt/format.h>

namespace strata::kernels {

std::vector<OpTime> TimedBackend::times() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OpTime> out;
  for (const auto& [k, row] : rows_) out.push_back(row);
  std::sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return out;
}

void TimedBackend::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  rows_.clear();
}

std::string TimedBackend::key(std::string_view op) const { return fmt::format("{} {}", inner_.name(), op); }

void TimedBackend::done(const std::string& key, Clock::time_point start) {
  inner_.synchronize();
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::lock_guard<std::mutex> lock(mu_);
  OpTime& row = rows_[key];
  row.key = key;
  ++row.count;
  row.seconds += s;
}

void TimedBackend::wait(const Event& e) {
  const auto t = Clock::now();
  inner_.wait(e);
  done(key("wait"), t);
}

void TimedBackend::copy(const void* src, Device src_device, void* dst, Device dst_device, uint64_t bytes) {
  const auto t = Clock::now();
  inner_.copy(src, src_device, dst, dst_device, bytes);
  const char* dir = src_device.is_host() && !dst_device.is_host()   ? "copy to device"
                    : !src_device.is_host() && dst_device.is_host() ? "copy to host"
                                                                    : "copy";
  done(key(dir), t);
}

void TimedBackend::get_rows(const TensorView& table, std::span<const int32_t> ids, ActView out) {
  const auto t = Clock::now();
  inner_.get_rows(table, ids, out);
  done(key("get_rows"), t);
}

void TimedBackend::rms_norm(ActView x, const TensorView& weight, float eps, ActView out) {
  const auto t = Clock::now();
  inner_.rms_norm(x, weight, eps, out);
  done(key("rms_norm"), t);
}

void TimedBackend::matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias) {
  const auto t = Clock::now();
  inner_.matmul(w, x, y, bias);
  done(key(fmt::format("matmul {} {}x{}{}", dtype_traits(w.type).name, w.ne[0], w.ne[1],
                       x.rows > 1 ? " (batch)" : "")),
       t);
}

void TimedBackend::matmul_many(std::span<const MatmulItem> items) {
  const auto t = Clock::now();
  inner_.matmul_many(items);
  done(key("matmul_many"), t);
}

void TimedBackend::rope(ActView x, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) {
  const auto t = Clock::now();
  inner_.rope(x, n_head, head_dim, pos0, p);
  done(key("rope"), t);
}

void TimedBackend::attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& cache,
                             int64_t pos0, ActView out) {
  const auto t = Clock::now();
  inner_.attention(p, q, k, v, cache, pos0, out);
  done(key(q.rows > 1 ? "attention (batch)" : "attention"), t);
}

void TimedBackend::attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                                   std::span<const AttentionSeq> seqs, ActView out) {
  const auto t = Clock::now();
  inner_.attention_batch(p, rope, q, k, v, seqs, out);
  done(key("attention_batch"), t);
}

void TimedBackend::glu(GluKind kind, ActView gate, ActView up, ActView out) {
  const auto t = Clock::now();
  inner_.glu(kind, gate, up, out);
  done(key("glu"), t);
}

void TimedBackend::add(ActView x, ActView y) {
  const auto t = Clock::now();
  inner_.add(x, y);
  done(key("add"), t);
}

void TimedBackend::add_rms_norm(ActView x, ActView y, const TensorView& weight, float eps, ActView out) {
  const auto t = Clock::now();
  inner_.add_rms_norm(x, y, weight, eps, out);
  done(key("add_rms_norm"), t);
}

void TimedBackend::fill(ActView x, float value) {
  const auto t = Clock::now();
  inner_.fill(x, value);
  done(key("fill"), t);
}

void TimedBackend::moe_decode(ActView logits, const RouteParams& p, const MoeWeights& w, ActView x, ActView out) {
  const auto t = Clock::now();
  inner_.moe_decode(logits, p, w, x, out);
  done(key("moe_decode"), t);
}

void TimedBackend::moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids, std::span<float> weights) {
  const auto t = Clock::now();
  inner_.moe_route(logits, p, ids, weights);
  done(key("moe_route"), t);
}

void TimedBackend::gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) {
  const auto t = Clock::now();
  inner_.gather_rows(src, rows, dst);
  done(key("gather_rows"), t);
}

void TimedBackend::scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale,
                               ActView dst) {
  const auto t = Clock::now();
  inner_.scatter_add(src, rows, scale, dst);
  done(key("scatter_add"), t);
}

}  // namespace strata::kernels
