// model/placement.h: which backend computes each tensor's op in each phase, and where each layer's KV cache
// lives: the executable form of the plan's sites (engine/ builds it from the plan and the backends present).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "model/model.h"

namespace strata::model {

struct Placement {
  // The distinct backends the pass uses. backends[0] computes whatever no tensor names (it must be the host
  // CPU backend when the caller's logits span is to be written in place).
  std::vector<kernels::Backend*> backends;
  // Per TensorId: index into backends for single-token passes (decode) and for batches (prefill).
  std::vector<uint8_t> decode_site, prefill_site;
  // Per layer: the backend whose memory holds the layer's KV cache and that computes its attention.
  std::vector<uint8_t> kv_site;

  // Everything on one backend.
  static Placement single(kernels::Backend& backend, const Model& m);
  int site(TensorId id, bool decode) const { return (decode ? decode_site : prefill_site)[id]; }
};

}  // namespace strata::model
