// model/activations.cc: activation buffers per backend, allocated on first use, and the hand-off copies.
#include "model/activations.h"

#include <algorithm>

#include "core/check.h"

namespace strata::model {

Activations::Activations(const HParams& hp, const Placement& placement)
    : p_(placement), per_backend_(placement.backends.size()) {
  STRATA_CHECK(!placement.backends.empty() && placement.backends.size() <= 32);
  const int64_t d = hp.n_embd;
  auto set = [&](Act a, int64_t w) { width_[static_cast<int>(a)] = std::max<int64_t>(w, 1); };
  set(Act::X, d);
  set(Act::XB, d);
  set(Act::Q, hp.q_dim());
  set(Act::K, hp.kv_dim());
  set(Act::V, hp.kv_dim());
  set(Act::Att, hp.q_dim());
  set(Act::Gate, hp.n_ff);
  set(Act::Up, hp.n_ff);
  set(Act::FfnOut, d);
  set(Act::Router, hp.n_expert);
  set(Act::ExpIn, d);
  set(Act::ExpGate, hp.n_ff_expert);  // one expert's width, which may differ from the dense FFN's
  set(Act::ExpUp, hp.n_ff_expert);
  set(Act::ExpOut, d);
  set(Act::Logits, hp.n_vocab);
  n_expert_used_ = std::max<int64_t>(hp.n_expert_used, 1);
}

int64_t Activations::capacity(Act a) const {
  switch (a) {
    case Act::ExpIn: case Act::ExpGate: case Act::ExpUp: case Act::ExpOut:
      // Every routed row of a small batch (a decode step's k experts run as one group); a prompt's experts
      // go in groups of at most its own row count.
      return std::max(capacity_, std::min(capacity_ * n_expert_used_, kExpertGroupRows));
    default: return capacity_;
  }
}

void Activations::begin(int64_t n) {
  if (n > capacity_) {
    for (auto& pb : per_backend_) {
      // A buffer may still be read by another stream's copy; let that finish before freeing it.
      for (auto& e : pb.read_pending)
        if (e) e->synchronize();
      pb = PerBackend{};
    }
    capacity_ = n;
    ++generation_;
  }
  valid_.fill(0);
}

Result<kernels::ActView> Activations::view(Act a, int b, int64_t rows) {
  const int i = static_cast<int>(a);
  const int64_t cap = capacity(a);
  STRATA_CHECK(rows >= 0 && rows <= cap);
  auto& buf = per_backend_[b].buf[i];
  kernels::Backend& be = *p_.backends[b];
  if (!buf) {
    buf = be.alloc(static_cast<uint64_t>(cap * width_[i]) * sizeof(float), kernels::BufferUse::Activations);
    if (!buf) return error("{}: out of memory for activations ({} x {} floats)", be.name(), cap, width_[i]);
  }
  return kernels::ActView{be.device(), reinterpret_cast<float*>(buf->data()), rows, width_[i]};
}

Status Activations::hand_off(Act a, int from, int to, int64_t rows) {
  kernels::Backend& src = *p_.backends[from];
  kernels::Backend& dst = *p_.backends[to];
  STRATA_ASSIGN_OR_RETURN(kernels::ActView s, view(a, from, rows));
  STRATA_ASSIGN_OR_RETURN(kernels::ActView d, view(a, to, rows));
  // The copy runs on the device side's stream (a host backend cannot drive a device's copy engine).
  if (!src.device().is_host()) {
    src.copy(s, d);
    dst.wait(*src.record());
  } else {
    dst.wait(*src.record());
    dst.copy(s, d);
    per_backend_[from].read_pending[static_cast<int>(a)] = dst.record();
  }
  ++counters_.n_handoffs;
  counters_.bytes += static_cast<uint64_t>(s.n_elements()) * sizeof(float);
  return Status::ok();
}

Result<kernels::ActView> Activations::in(Act a, int b, int64_t rows) {
  const int i = static_cast<int>(a);
  STRATA_CHECK_MSG(valid_[i] != 0, "activation read before it was written");
  if (!(valid_[i] >> b & 1)) {
    int from = 0;
    while (!(valid_[i] >> from & 1)) ++from;
    STRATA_RETURN_IF_ERROR(hand_off(a, from, b, rows));
    valid_[i] |= 1u << b;
  }
  return view(a, b, rows);
}

Result<kernels::ActView> Activations::out(Act a, int b, int64_t rows) {
  const int i = static_cast<int>(a);
  if (auto& pending = per_backend_[b].read_pending[i]) {
    p_.backends[b]->wait(*pending);  // another stream's copy still reads the bytes about to be overwritten
    pending.reset();
  }
  valid_[i] = 1u << b;
  return view(a, b, rows);
}

Result<kernels::ActView> Activations::inout(Act a, int b, int64_t rows) {
  STRATA_RETURN_IF_ERROR(in(a, b, rows).status());
  return out(a, b, rows);
}

}  // namespace strata::model
