// cli/bench_traffic.h: the bytes one decoded token moves, per stage (weights, KV cache, activations), for
// `strata bench` to set beside the achieved speed (GB/s per stage and against the measured bandwidth).
#pragma once

#include <cstdint>

#include "model/model.h"

namespace strata::cli {

struct DecodeTraffic {
  double weights = 0;  // every weight read once; the embedding one row; experts the routed share
  double kv = 0;       // K and V (F16) of `context` positions, every layer
  double acts = 0;     // each activation of a layer written once and read once (floats)
  double total() const { return weights + kv + acts; }
};

DecodeTraffic decode_traffic(const model::Model& m, double context);

}  // namespace strata::cli
