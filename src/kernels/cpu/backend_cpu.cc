// kernels/cpu/backend_cpu.cc: the CPU backend's memory, ordering and ops over the CPU kernels.
#include "kernels/cpu/backend_cpu.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "core/check.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/ops_cpu.h"

namespace strata::kernels {

namespace {

class HostBuffer final : public Buffer {
 public:
  HostBuffer(uint8_t* data, uint64_t size, BufferUse use, Device device)
      : data_(data), size_(size), use_(use), device_(device) {}
  ~HostBuffer() override { std::free(data_); }
  uint8_t* data() override { return data_; }
  uint64_t size_bytes() const override { return size_; }
  BufferUse use() const override { return use_; }
  Device device() const override { return device_; }

 private:
  uint8_t* data_;
  uint64_t size_;
  BufferUse use_;
  Device device_;
};

}  // namespace

CpuBackend::CpuBackend(ThreadPool& pool, int index)
    : pool_(pool), device_{DeviceKind::Cpu, index}, name_(index == 0 ? "cpu" : "cpu" + std::to_string(index)) {}

CpuBackend::CpuBackend(int n_threads, int index)
    : owned_pool_(std::make_unique<ThreadPool>(n_threads > 0 ? n_threads : ThreadPool::hardware_threads())),
      pool_(*owned_pool_),
      device_{DeviceKind::Cpu, index},
      name_(index == 0 ? "cpu" : "cpu" + std::to_string(index)) {}

std::string CpuBackend::describe() const {
  return name_ + ": " + std::to_string(pool_.size()) + " threads, " + std::string(cpu_isa_name(best_cpu_isa()));
}

std::unique_ptr<Buffer> CpuBackend::alloc(uint64_t size_bytes, BufferUse use) {
  // 64-byte lines for activations, pages for the rest (O_DIRECT reads land in staging and weight buffers).
  const uint64_t align = use == BufferUse::Activations ? 64 : 4096;
  const uint64_t rounded = std::max<uint64_t>(align, (size_bytes + align - 1) / align * align);
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(align, rounded));
  if (p == nullptr) return nullptr;
  return std::make_unique<HostBuffer>(p, size_bytes, use, device_);
}

void CpuBackend::wait(const Event& e) { const_cast<Event&>(e).synchronize(); }

void CpuBackend::copy(const void* src, Device src_device, void* dst, Device dst_device, uint64_t bytes) {
  STRATA_CHECK(src_device.is_host() && dst_device.is_host());
  if (bytes > 0 && src != dst) std::memmove(dst, src, bytes);
}

void CpuBackend::check_mine(const ActView& a) const {
  STRATA_CHECK_MSG(a.device == device_, "activation on another backend's device (a missing hand-off)");
}

float* CpuBackend::scratch(std::vector<float>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

void CpuBackend::get_rows(const TensorView& table, std::span<const int32_t> ids, ActView out) {
  check_mine(out);
  STRATA_CHECK(can_read(table.device) && out.cols == table.ne[0] && out.rows == static_cast<int64_t>(ids.size()));
  for (size_t t = 0; t < ids.size(); ++t) {
    STRATA_CHECK(ids[t] >= 0 && ids[t] < table.n_rows());
    dequantize_row(table, ids[t], out.row(static_cast<int64_t>(t)));
  }
}

void CpuBackend::rms_norm(ActView x, const TensorView& weight, float eps, ActView out) {
  check_mine(x);
  check_mine(out);
  STRATA_CHECK(weight.ne[0] == x.cols && out.cols == x.cols && out.rows == x.rows);
  float* w = scratch(norm_w_, x.cols);
  dequantize_row(weight, 0, w);
  for (int64_t t = 0; t < x.rows; ++t) kernels::rms_norm(x.row(t), w, x.cols, eps, out.row(t));
}

void CpuBackend::check_matmul(const TensorView& w, ActView x, ActView y) const {
  check_mine(x);
  check_mine(y);
  STRATA_CHECK(can_read(w.device) && x.cols == w.ne[0] && y.cols == w.n_rows() && y.rows == x.rows);
}

void CpuBackend::add_bias(const TensorView& bias, ActView y) {
  if (bias.data == nullptr) return;
  STRATA_CHECK(bias.ne[0] == y.cols);
  float* b = scratch(bias_, y.cols);
  dequantize_row(bias, 0, b);
  for (int64_t t = 0; t < y.rows; ++t)
    for (int64_t r = 0; r < y.cols; ++r) y.row(t)[r] += b[r];
}

void CpuBackend::matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias) {
  check_matmul(w, x, y);
  kernels::matmul(w, x.data, x.rows, y.data, pool_);
  add_bias(bias, y);
}

void CpuBackend::matmul_many(std::span<const MatmulItem> items) {
  jobs_.clear();
  for (const MatmulItem& it : items) {
    check_matmul(it.w, it.x, it.y);
    jobs_.push_back({it.w, it.x.data, it.x.rows, it.y.data});
  }
  kernels::matmul_many(jobs_, pool_);
  for (const MatmulItem& it : items) add_bias(it.bias, it.y);
}

void CpuBackend::rope(ActView x, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) {
  check_mine(x);
  rope_rows(p, head_dim, pos0, x, n_head, nullptr, 0);
}

void CpuBackend::rope_rows(const RopeParams& p, int64_t head_dim, int64_t pos0, ActView a, int64_t n_head_a,
                           const ActView* b, int64_t n_head_b) {
  STRATA_CHECK(a.cols == n_head_a * head_dim && p.n_rot <= head_dim && p.n_rot % 2 == 0);
  STRATA_CHECK(b == nullptr || (b->cols == n_head_b * head_dim && b->rows == a.rows));
  const float* ff = nullptr;
  if (p.freq_factors.data != nullptr) {
    STRATA_CHECK(p.freq_factors.ne[0] >= p.n_rot / 2);
    float* f = scratch(factors_, p.freq_factors.ne[0]);
    dequantize_row(p.freq_factors, 0, f);
    ff = f;
  }
  float* cos_sin = scratch(rope_cos_sin_, p.n_rot);
  for (int64_t t = 0; t < a.rows; ++t) {
    rope_angles(pos0 + t, p, ff, cos_sin);
    rope_apply(a.row(t), n_head_a, head_dim, p, cos_sin);
    if (b != nullptr) rope_apply(b->row(t), n_head_b, head_dim, p, cos_sin);
  }
}

// As the default (rope, then attention, a sequence at a time), with each row's angles found once for q and k.
void CpuBackend::attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                                 std::span<const AttentionSeq> seqs, ActView out) {
  for (const AttentionSeq& s : seqs) {
    STRATA_CHECK(s.cache != nullptr && s.row0 >= 0 && s.n >= 0 && s.row0 + s.n <= q.rows);
    const ActView qs = q.rows_from(s.row0, s.n), ks = k.rows_from(s.row0, s.n);
    if (rope != nullptr) {
      check_mine(qs);
      check_mine(ks);
      rope_rows(*rope, p.head_dim, s.pos0, qs, p.n_head, &ks, p.n_head_kv);
    }
    attention(p, qs, ks, v.rows_from(s.row0, s.n), *s.cache, s.pos0, out.rows_from(s.row0, s.n));
  }
}

void CpuBackend::attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& cache,
                           int64_t pos0, ActView out) {
  for (const ActView* a : {&q, &k, &v, &out}) check_mine(*a);
  STRATA_CHECK(cache.device == device_ && p.n_head_kv > 0 && p.n_head % p.n_head_kv == 0);
  const int64_t n = q.rows, kv_dim = cache.kv_dim;
  STRATA_CHECK(q.cols == p.n_head * p.head_dim && kv_dim == p.n_head_kv * p.head_dim && k.cols == kv_dim &&
               v.cols == kv_dim && k.rows == n && v.rows == n && out.rows == n && out.cols == q.cols);
  STRATA_CHECK(pos0 >= 0 && pos0 + n <= cache.n_ctx && cache.holds_pass(n, p.window));
  for (int64_t t = 0; t < n; ++t) {
    uint16_t* kc = cache.k + cache.row_of(pos0 + t) * kv_dim;
    uint16_t* vc = cache.v + cache.row_of(pos0 + t) * kv_dim;
    const float* kt = k.row(t);
    const float* vt = v.row(t);
    elementwise().to_f16(kt, kc, kv_dim);
    elementwise().to_f16(vt, vc, kv_dim);
  }
  const float* sinks = nullptr;
  if (p.sinks.data != nullptr) {
    STRATA_CHECK(p.sinks.ne[0] == p.n_head);
    float* s = scratch(sinks_, p.n_head);
    dequantize_row(p.sinks, 0, s);
    sinks = s;
  }
  attention_causal_f16(p, q.data, cache, pos0, n, sinks, out.data, pool_);
}

void CpuBackend::glu(GluKind kind, ActView gate, ActView up, ActView out) {
  for (const ActView* a : {&gate, &up, &out}) check_mine(*a);
  STRATA_CHECK(gate.n_elements() == up.n_elements() && out.n_elements() == gate.n_elements());
  const int64_t n = out.n_elements();
  if (kind == GluKind::SwiGlu) {
    // A decode step's experts (a few thousand values) take a few microseconds here, about what a dispatch to
    // the pool costs; only a prompt's rows are worth splitting.
    constexpr int64_t kInlineGluValues = 1 << 15;
    const SwiGluFn swiglu = elementwise().swiglu;
    if (n <= kInlineGluValues) return swiglu(gate.data, up.data, n, out.data);
    pool_.parallel_for(static_cast<size_t>(n), kInlineGluValues / 4, [&](size_t i0, size_t i1) {
      swiglu(gate.data + i0, up.data + i0, static_cast<int64_t>(i1 - i0), out.data + i0);
    });
    return;
  }
  if (out.data != gate.data) std::memcpy(out.data, gate.data, static_cast<size_t>(n) * sizeof(float));
  switch (kind) {
    case GluKind::SwiGlu: break;  // above
    case GluKind::GeGlu: return geglu(out.data, up.data, n);
    case GluKind::SwiGluClamped: return swiglu_clamped(out.data, up.data, n);
  }
}

void CpuBackend::add(ActView x, ActView y) {
  check_mine(x);
  check_mine(y);
  STRATA_CHECK(x.n_elements() == y.n_elements());
  const int64_t n = x.n_elements();
  for (int64_t i = 0; i < n; ++i) x.data[i] += y.data[i];
}

void CpuBackend::fill(ActView x, float value) {
  check_mine(x);
  std::fill_n(x.data, x.n_elements(), value);
}

void CpuBackend::moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids, std::span<float> weights) {
  check_mine(logits);
  const int64_t n_exp = logits.cols, k = p.n_expert_used;
  STRATA_CHECK(k >= 1 && k <= n_exp && static_cast<int64_t>(ids.size()) >= logits.rows * k &&
               static_cast<int64_t>(weights.size()) >= logits.rows * k);
  order_.resize(static_cast<size_t>(n_exp));
  float* all = scratch(route_, n_exp);
  for (int64_t t = 0; t < logits.rows; ++t) {
    const float* r = logits.row(t);
    std::iota(order_.begin(), order_.end(), 0);
    std::partial_sort(order_.begin(), order_.begin() + k, order_.end(),
                      [&](int32_t a, int32_t b) { return r[a] > r[b] || (r[a] == r[b] && a < b); });
    float* w = weights.data() + t * k;
    if (p.gating == RouterGating::SoftmaxSelected) {
      for (int64_t j = 0; j < k; ++j) w[j] = r[order_[j]];
      softmax(w, k);
    } else {
      std::copy_n(r, n_exp, all);
      softmax(all, n_exp);
      double sum = 0;
      for (int64_t j = 0; j < k; ++j) sum += all[order_[j]];
      for (int64_t j = 0; j < k; ++j) w[j] = p.norm_topk ? static_cast<float>(all[order_[j]] / sum) : all[order_[j]];
    }
    std::copy_n(order_.begin(), k, ids.begin() + t * k);
  }
}

void CpuBackend::gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) {
  check_mine(src);
  check_mine(dst);
  STRATA_CHECK(src.cols == dst.cols && dst.rows == static_cast<int64_t>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    STRATA_CHECK(rows[i] >= 0 && rows[i] < src.rows);
    std::copy_n(src.row(rows[i]), src.cols, dst.row(static_cast<int64_t>(i)));
  }
}

void CpuBackend::scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale, ActView dst) {
  check_mine(src);
  check_mine(dst);
  STRATA_CHECK(src.cols == dst.cols && src.rows == static_cast<int64_t>(rows.size()) && scale.size() == rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    STRATA_CHECK(rows[i] >= 0 && rows[i] < dst.rows);
    elementwise().axpy(scale[i], src.row(static_cast<int64_t>(i)), src.cols, dst.row(rows[i]));
  }
}

}  // namespace strata::kernels
