// model/synth_skew.h: `synth --router-skew S`: routers whose expert popularity follows a seeded Zipf-like law
// per layer, so expert caches are measured against realistic skew as well as uniform routing.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "arch/hparams.h"
#include "arch/tensors.h"

namespace strata::model {

// The popularity rank of each expert of `layer` (0: the most chosen): a permutation seeded by (seed, layer).
std::vector<int32_t> skew_expert_ranks(uint64_t seed, int64_t layer, int64_t n_expert);

// Rewrites row `row` (the flattened row index: dims past the first multiplied out) of a tensor after the
// writer filled it with random values.
using RowEdit = std::function<void(int64_t row, std::span<float> values)>;

// What skew s > 0 changes in tensor t (null: nothing). Residual channels [0, 1 + n_expert) become routing
// channels, the same at every layer because no block writes into them (those output rows of attn_output,
// ffn_down and the expert down projections, and of their biases, are zero) and the FFN norm passes them at
// weight 1: channel 0 holds 1, channel 1 + e a standard Gumbel value drawn per token (its embedding row).
// Router row e reads channel 0 with weight -s * ln(1 + rank(e)) and channel 1 + e with weight 1, so its logit
// is (bias_e + gumbel_e) / rms: the common 1 / rms never changes which experts win, and by the Gumbel-max
// property the first choice falls on expert e with probability proportional to (1 + rank(e))^-s (the rest of
// the top k follow Plackett-Luce). A few hundred distinct tokens sample that law; a token routes alike each time.
// REQUIRES: hp.n_embd > hp.n_expert (checked by the writer).
RowEdit router_skew_edit(double skew, uint64_t seed, const arch::HParams& hp, const arch::TensorSpec& t);

}  // namespace strata::model
