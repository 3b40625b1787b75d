// cli/cmd_run.cc: `strata run`: tokenize the prompt, stream generated text to stdout, speeds to stderr.
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>

#include "cli/commands.h"
#include "core/units.h"
#include "engine/backends.h"
#include "engine/runtime.h"
#include "engine/session.h"

namespace strata::cli {

// The streaming figures and the plan's prediction beside what was achieved (stderr).
void print_run_report(const engine::LoadedModel& lm) {
  if (auto st = lm.stream_stats()) {
    const double per_pass = st->n_passes ? static_cast<double>(st->bytes_read) / st->n_passes : 0;
    const uint64_t expert_total = st->expert_hits + st->expert_misses;
    std::fprintf(stderr,
                 "strata: streamed %s per forward pass from disk (%s reader%s), %.2f GB/s while reading, "
                 "%.2f s waiting on I/O; resident %s, staging %s, expert cache %s",
                 format_bytes(static_cast<uint64_t>(per_pass)).c_str(), st->reader.c_str(),
                 st->direct_io ? ", O_DIRECT" : ", buffered", st->io_busy_seconds > 0 ? st->bytes_read / st->io_busy_seconds / 1e9 : 0.0,
                 st->io_wait_seconds, format_bytes(st->resident_bytes).c_str(), format_bytes(st->staging_bytes).c_str(),
                 format_bytes(st->expert_cache_bytes).c_str());
    if (expert_total) std::fprintf(stderr, ", expert hit rate %.1f%%", 100.0 * st->expert_hits / expert_total);
    std::fprintf(stderr, "\n");
  }
  if (auto up = lm.staging_counters(); up && up->uploads > 0) {
    const uint64_t asked = up->ahead + up->on_demand;
    std::fprintf(stderr, "strata: uploaded %s of RAM-tier weights to the GPU in %llu copies, %.0f%% issued ahead; %s pinned\n",
                 format_bytes(up->bytes).c_str(), static_cast<unsigned long long>(up->uploads),
                 asked ? 100.0 * static_cast<double>(up->ahead) / static_cast<double>(asked) : 0.0,
                 format_bytes(lm.pinned_bytes()).c_str());
  }
  if (const engine::GpuExpertCache* c = lm.expert_cache()) {
    const engine::ExpertCacheCounters& k = c->counters();
    std::fprintf(stderr, "strata: GPU expert cache of %d experts (%s): %.1f%% of routed experts computed from it, "
                 "%llu admitted (%s)%s%s\n", c->n_slots(), format_bytes(c->device_bytes()).c_str(),
                 k.hits + k.misses ? 100.0 * static_cast<double>(k.hits) / static_cast<double>(k.hits + k.misses) : 0.0,
                 static_cast<unsigned long long>(k.admissions), format_bytes(k.admitted_bytes).c_str(),
                 lm.expert_cache_error().empty() ? "" : "; stopped admitting: ", lm.expert_cache_error().c_str());
  }
  if (lm.plan()) {
    std::fprintf(stderr, "strata: %s\n", describe_plan(*lm.plan()).c_str());
    const engine::HostedGpuSites h = engine::gpu_sites_on_host(*lm.executed_plan(), lm.placement());
    if (h.decode_tensors + h.prefill_tensors > 0)
      std::fprintf(stderr, "strata: ran on the host though the plan computes them on the GPU: decode %d tensors (%s), "
                   "prompts %d (%s)\n", h.decode_tensors, format_bytes(h.decode_bytes).c_str(), h.prefill_tensors,
                   format_bytes(h.prefill_bytes).c_str());
  }
  std::fprintf(stderr, "strata: peak resident memory %s\n", format_bytes(engine::peak_rss_bytes()).c_str());
}

int run_run(const RunOptions& o) {
  auto eo = make_engine_options(o.model, o.threads, o.plan);
  if (!eo) return fail(eo.status().message());
  ProgressLine progress(o.progress);
  eo->progress = progress.callback();
  auto t_load = std::chrono::steady_clock::now();
  auto lm = engine::LoadedModel::load(*eo);
  progress.finish_line();
  if (!lm) return fail(lm.status().message());
  if (!lm.value()->backend_note().empty()) std::fprintf(stderr, "strata: %s\n", lm.value()->backend_note().c_str());
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  engine::GenerateRequest req;
  const bool add_bos = !o.no_bos && lm.value()->tokenizer().vocab().add_bos();
  req.prompt = lm.value()->tokenizer().encode(o.prompt, add_bos, /*parse_special=*/false);
  req.max_tokens = o.n_predict;
  req.sampling.temperature = o.temperature;
  req.sampling.top_k = o.top_k;
  req.sampling.top_p = o.top_p;
  req.sampling.min_p = o.min_p;
  req.sampling.repeat_penalty = o.repeat_penalty;
  req.sampling.seed = o.seed >= 0 ? static_cast<uint64_t>(o.seed) : std::random_device{}();

  std::optional<constrain::JsonConstraint> json;
  if (o.format == "json") req.constraint = &json.emplace(lm.value()->tokenizer());

  engine::Session session(*lm.value(), lm.value()->default_n_ctx());
  auto res = session.generate(req, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!res) return fail(res.status().message());
  const auto& r = res.value();
  const double gen_tps = r.generate_seconds > 0 ? static_cast<double>(r.tokens.size()) / r.generate_seconds : 0;
  const double pp_tps = r.prompt_seconds > 0 ? static_cast<double>(r.n_prompt_evaluated) / r.prompt_seconds : 0;
  std::fprintf(stderr,
               "strata: load %.2f s | prompt %lld tokens in %.3f s (%.1f tok/s) | generated %zu tokens in %.3f s "
               "(%.1f tok/s) | stop: %s | seed %llu\n",
               load_s, static_cast<long long>(r.n_prompt_evaluated), r.prompt_seconds, pp_tps, r.tokens.size(),
               r.generate_seconds, gen_tps, std::string(engine::stop_reason_name(r.reason)).c_str(),
               static_cast<unsigned long long>(req.sampling.seed));
  print_run_report(*lm.value());
  return 0;
}

}  // namespace strata::cli
