// engine/context_fit.cc: the KV cache of a requested context against the memory budget.
#include "engine/context_fit.h"

#include <algorithm>
#include <cmath>

#include "core/units.h"
#include "hw/measure.h"

namespace strata::engine {

namespace {

// Left free beside a plan-less session for activations, the prompt and everyone else on the machine.
constexpr uint64_t kHeadroomBytes = 256ull << 20;

uint64_t to_bytes(double d) { return d >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(d); }

}  // namespace

double kv_cache_bytes(const model::HParams& hp, int64_t n_ctx) {
  return 2.0 * static_cast<double>(hp.kv_rows_total(n_ctx)) * static_cast<double>(hp.kv_dim()) * sizeof(uint16_t);
}

Status check_context_fits(const LoadedModel& model, int64_t n_ctx, uint64_t freed_bytes, int n_parallel) {
  const double need = kv_cache_bytes(model.hparams(), n_ctx) * std::max(n_parallel, 1);
  uint64_t room = 0;
  std::string where;
  if (model.plan()) {
    const planner::Plan& p = *model.plan();
    const uint64_t others = p.memory.ram_total() - p.memory.ram_kv;
    room = p.budgets.ram_bytes > others ? p.budgets.ram_bytes - others : 0;
    where = fmt::format("the RAM budget {} less {} for weights and buffers", format_bytes(p.budgets.ram_bytes),
                        format_bytes(others));
  } else {
    planner::HardwareProfile now;
    planner::refresh_memory_state(now);
    if (now.memory.available_bytes == 0) return Status::ok();  // not measurable here: the allocation decides
    const uint64_t available = now.memory.available_bytes + freed_bytes;
    room = available > kHeadroomBytes ? available - kHeadroomBytes : 0;
    where = fmt::format("the {} of memory available less {} headroom", format_bytes(available),
                        format_bytes(kHeadroomBytes));
  }
  if (need <= static_cast<double>(room)) return Status::ok();
  const std::string what = n_parallel > 1 ? fmt::format("{} parallel sequences (OLLAMA_NUM_PARALLEL) of a context of {} tokens", n_parallel, n_ctx)
                                          : fmt::format("a context of {} tokens", n_ctx);
  return error(ErrorKind::ResourceExhausted,
               "{} need{} a {} KV cache but {} leaves {} (short by {}); ask for a smaller num_ctx{}", what,
               n_parallel > 1 ? "" : "s", format_bytes(to_bytes(need)), where, format_bytes(room),
               format_bytes(to_bytes(need - static_cast<double>(room))), n_parallel > 1 ? " or fewer parallel sequences" : "");
}

}  // namespace strata::engine
