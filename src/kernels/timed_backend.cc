// kernels/timed_backend.cc: each op forwarded, then waited for, its host time added to its row.
#include "kernels/timed_backend.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

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

void TimedBackend::add_time(std::string_view op, double seconds) {
  std::string key = fmt::format("{} {}", inner_.name(), op);
  std::lock_guard<std::mutex> lock(mu_);
  OpTime& row = rows_[key];
  row.key = std::move(key);
  ++row.count;
  row.seconds += seconds;
}

void TimedBackend::wait(const Event& e) {
  timed("wait", [&] { inner_.wait(e); });
}

void TimedBackend::copy(const void* src, Device src_device, void* dst, Device dst_device, uint64_t bytes) {
  const char* dir = src_device.is_host() && !dst_device.is_host()   ? "copy to device"
                    : !src_device.is_host() && dst_device.is_host() ? "copy to host"
                                                                    : "copy";
  timed(dir, [&] { inner_.copy(src, src_device, dst, dst_device, bytes); });
}

void TimedBackend::get_rows(const TensorView& table, std::span<const int32_t> ids, ActView out) {
  timed("get_rows", [&] { inner_.get_rows(table, ids, out); });
}

void TimedBackend::rms_norm(ActView x, const TensorView& weight, float eps, ActView out) {
  timed("rms_norm", [&] { inner_.rms_norm(x, weight, eps, out); });
}

void TimedBackend::matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias) {
  timed(fmt::format("matmul {} {}x{}{}", dtype_traits(w.type).name, w.ne[0], w.ne[1], x.rows > 1 ? " (batch)" : ""),
        [&] { inner_.matmul(w, x, y, bias); });
}

namespace {
// "matmul_many Q4_K 2048x4096 + 2 Q4_K 2048x512 (batch)": each distinct weight shape with its count, in order.
std::string many_name(std::span<const MatmulItem> items) {
  std::vector<std::pair<std::string, int>> shapes;
  bool batch = false;
  for (const MatmulItem& it : items) {
    std::string s = fmt::format("{} {}x{}", dtype_traits(it.w.type).name, it.w.ne[0], it.w.ne[1]);
    if (!shapes.empty() && shapes.back().first == s) ++shapes.back().second;
    else shapes.emplace_back(std::move(s), 1);
    batch = batch || it.x.rows > 1;
  }
  std::string name = "matmul_many";
  for (size_t i = 0; i < shapes.size(); ++i) {
    name += i == 0 ? " " : " + ";
    if (shapes[i].second > 1) name += fmt::format("{} ", shapes[i].second);
    name += shapes[i].first;
  }
  return batch ? name + " (batch)" : name;
}
}  // namespace

void TimedBackend::matmul_many(std::span<const MatmulItem> items) {
  timed(many_name(items), [&] { inner_.matmul_many(items); });
}

void TimedBackend::rope(ActView x, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) {
  timed("rope", [&] { inner_.rope(x, n_head, head_dim, pos0, p); });
}

void TimedBackend::attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& cache,
                             int64_t pos0, ActView out) {
  timed(q.rows > 1 ? "attention (batch)" : "attention", [&] { inner_.attention(p, q, k, v, cache, pos0, out); });
}

void TimedBackend::attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                                   std::span<const AttentionSeq> seqs, ActView out) {
  timed("attention_batch", [&] { inner_.attention_batch(p, rope, q, k, v, seqs, out); });
}

void TimedBackend::glu(GluKind kind, ActView gate, ActView up, ActView out) {
  timed("glu", [&] { inner_.glu(kind, gate, up, out); });
}

void TimedBackend::add(ActView x, ActView y) {
  timed("add", [&] { inner_.add(x, y); });
}

void TimedBackend::add_rms_norm(ActView x, ActView y, const TensorView& weight, float eps, ActView out) {
  timed("add_rms_norm", [&] { inner_.add_rms_norm(x, y, weight, eps, out); });
}

void TimedBackend::fill(ActView x, float value) {
  timed("fill", [&] { inner_.fill(x, value); });
}

void TimedBackend::moe_decode(ActView logits, const RouteParams& p, const MoeWeights& w, ActView x, ActView out) {
  timed("moe_decode", [&] { inner_.moe_decode(logits, p, w, x, out); });
}

void TimedBackend::moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids, std::span<float> weights) {
  timed("moe_route", [&] { inner_.moe_route(logits, p, ids, weights); });
}

void TimedBackend::gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) {
  timed("gather_rows", [&] { inner_.gather_rows(src, rows, dst); });
}

void TimedBackend::scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale,
                               ActView dst) {
  timed("scatter_add", [&] { inner_.scatter_add(src, rows, scale, dst); });
}

}  // namespace strata::kernels
