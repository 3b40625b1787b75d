// cli/cmd_bench.cc: `strata bench`: warm-up, repeated prompt+decode runs, and one JSON record beside the bound.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/bench_parallel.h"
#include "cli/bench_traffic.h"
#include "cli/cmd_bench.h"
#include "cli/commands.h"
#include "cli/plan_print.h"
#include "core/units.h"
#include "engine/backends.h"
#include "engine/runtime.h"
#include "engine/sampler.h"
#include "engine/session.h"
#include "hw/gpu_memory.h"
#include "kernels/timed_backend.h"

namespace strata::cli {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Drops the model file's pages from the page cache so the next reads come from the disk.
void drop_page_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

struct Summary {
  double median = 0, min = 0, max = 0, mean = 0;
};
Summary summarise(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  for (double x : v) s.mean += x / v.size();
  return s;
}
nlohmann::json to_json(const Summary& s) { return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"mean", s.mean}}; }

// The last repetition's timed ops of one phase, longest first (at most 16 rows, the rest summed).
void print_op_times(const char* phase, const nlohmann::json& rows, int n_tokens, const char* unit = "token") {
  double total = 0;
  for (const auto& r : rows) total += r["seconds"].get<double>();
  std::printf("op times, %s (serialized, every op waited for; %.1f ms in all, %.2f ms a %s):\n", phase, total * 1e3,
              total * 1e3 / std::max(n_tokens, 1), unit);
  double rest = 0;
  int shown = 0;
  for (const auto& r : rows) {
    const double sec = r["seconds"].get<double>();
    if (shown++ >= 16) {
      rest += sec;
      continue;
    }
    std::printf("  %-44s %7llu x %9.1f us = %8.2f ms  %5.1f%%\n", r["op"].get<std::string>().c_str(),
                static_cast<unsigned long long>(r["count"].get<uint64_t>()),
                sec * 1e6 / std::max<uint64_t>(r["count"].get<uint64_t>(), 1), sec * 1e3, 100 * sec / std::max(total, 1e-12));
  }
  if (rest > 0) std::printf("  %-44s %29s %8.2f ms  %5.1f%%\n", "(the rest)", "", rest * 1e3, 100 * rest / total);
}

}  // namespace

Result<BenchRecord> measure_bench(const BenchOptions& o) {
  if (o.n_prompt < 1 || o.n_gen < 1 || o.repetitions < 1 || o.warmup < 0)
    return error("--n-prompt, --n-gen and --repetitions must be at least 1, --warmup at least 0");
  if (o.parallel < 1 || o.parallel > 64) return error("--parallel must be 1 to 64");
  STRATA_ASSIGN_OR_RETURN(engine::EngineOptions eo, make_engine_options(o.model, o.threads, o.plan));
  eo.time_ops = o.op_times;
  eo.batch_invariant = o.parallel > 1;  // the batch's sequences are compared with each alone
  ProgressLine progress(o.progress);
  eo.progress = progress.callback();
  // Device memory is measured from before the load (the baseline: the CUDA context) to the end of the runs.
  std::unique_ptr<hw::GpuMemoryMonitor> gpu_mem;
  if (eo.profile && !eo.profile->gpus.empty()) gpu_mem = std::make_unique<hw::GpuMemoryMonitor>(0);
  const double t_load = now_s();
  auto loaded = engine::LoadedModel::load(eo);
  progress.finish_line();
  if (!loaded) return loaded.status();
  engine::LoadedModel& lm = *loaded.value();
  const double load_seconds = now_s() - t_load;
  const int64_t n_ctx = std::max<int64_t>(lm.default_n_ctx(), o.n_prompt + o.n_gen + 1);
  if (n_ctx > lm.default_n_ctx() && lm.plan())
    return error("--n-prompt + --n-gen ({}) exceed the planned context {}; raise --ctx", o.n_prompt + o.n_gen,
                 lm.default_n_ctx());
  engine::Session session(lm, n_ctx);

  // The prompt: the text's tokens, repeated until n_prompt.
  std::vector<int32_t> base = lm.tokenizer().encode(o.prompt, lm.tokenizer().vocab().add_bos());
  std::vector<int32_t> prompt;
  while (static_cast<int32_t>(prompt.size()) < o.n_prompt) prompt.insert(prompt.end(), base.begin(), base.end());
  prompt.resize(o.n_prompt);

  nlohmann::json reps = nlohmann::json::array();
  std::vector<double> pp_tps, tg_tps, bytes_per_tok, disk_gbps;
  std::vector<float> logits;
  const uint64_t n_runs = static_cast<uint64_t>(o.warmup + o.repetitions);
  for (int rep = -o.warmup; rep < o.repetitions; ++rep) {
    const uint64_t run_index = static_cast<uint64_t>(rep + o.warmup);
    progress.report(items_progress("bench", rep < 0 ? "warm-up" : "repetition", run_index, n_runs));
    if (o.cold) drop_page_cache(o.model);
    session.truncate(0);
    const auto s0 = lm.stream_stats();
    const auto u0 = lm.staging_counters();
    lm.reset_op_times();
    const double t0 = now_s();
    STRATA_RETURN_IF_ERROR(session.eval(prompt, logits, false));
    const double t1 = now_s();
    const std::vector<kernels::OpTime> prompt_ops = lm.op_times();
    lm.reset_op_times();
    const auto s1 = lm.stream_stats();
    const auto u1 = lm.staging_counters();
    const uint64_t dispatches0 = lm.backend().pool().dispatches();
    const uint64_t handoffs0 = session.forward().handoffs().n_handoffs;
    const engine::ExpertCacheCounters c1 = lm.expert_cache() ? lm.expert_cache()->counters() : engine::ExpertCacheCounters{};
    for (int i = 0; i < o.n_gen; ++i) {
      int32_t next = engine::Sampler::argmax(logits);
      STRATA_RETURN_IF_ERROR(session.eval(std::span(&next, 1), logits, false));
    }
    const double t2 = now_s();
    const auto s2 = lm.stream_stats();
    const uint64_t dispatches = lm.backend().pool().dispatches() - dispatches0;
    const uint64_t handoffs = session.forward().handoffs().n_handoffs - handoffs0;
    const auto u2 = lm.staging_counters();
    progress.report(items_progress("bench", rep < 0 ? "warm-up" : "repetition", run_index + 1, n_runs,
                                   run_index + 1 == n_runs));
    if (rep < 0) continue;  // warm-up
    nlohmann::json r;
    r["prompt_tokens_per_s"] = o.n_prompt / (t1 - t0);
    r["decode_tokens_per_s"] = o.n_gen / (t2 - t1);
    pp_tps.push_back(o.n_prompt / (t1 - t0));
    tg_tps.push_back(o.n_gen / (t2 - t1));
    // What a CPU-computed token pays beyond its bytes: each dispatch wakes and joins every pool thread.
    r["decode_cpu_dispatches_per_token"] = static_cast<double>(dispatches) / std::max(o.n_gen, 1);
    // Activation copies between backends (each one a wait for the producing stream): what a split step pays.
    r["decode_handoffs_per_token"] = static_cast<double>(handoffs) / std::max(o.n_gen, 1);
    if (s0 && s1 && s2) {
      const double decode_bytes = static_cast<double>(s2->bytes_read - s1->bytes_read);
      r["prompt_bytes_read"] = s1->bytes_read - s0->bytes_read;
      r["decode_bytes_read_per_token"] = decode_bytes / o.n_gen;
      r["decode_disk_gb_per_s"] = decode_bytes / (t2 - t1) / 1e9;
      const uint64_t hits = s2->expert_hits - s1->expert_hits, misses = s2->expert_misses - s1->expert_misses;
      if (hits + misses) r["decode_expert_hit_rate"] = static_cast<double>(hits) / (hits + misses);
      // Experts read ahead on a co-activation prediction: each unused one is a slice read for nothing.
      if (hits + misses) {
        r["decode_expert_speculative_reads"] = s2->expert_speculative_reads - s1->expert_speculative_reads;
        r["decode_expert_speculative_used"] = s2->expert_speculative_used - s1->expert_speculative_used;
      }
      bytes_per_tok.push_back(decode_bytes / o.n_gen);
      disk_gbps.push_back(decode_bytes / (t2 - t1) / 1e9);
    }
    if (u0 && u1 && u2) {
      // RAM-tier weights uploaded to the GPU (device staging): what crossed PCIe, and how fast.
      r["prompt_upload_bytes"] = u1->bytes - u0->bytes;
      r["prompt_upload_gb_per_s"] = static_cast<double>(u1->bytes - u0->bytes) / (t1 - t0) / 1e9;
      r["decode_upload_bytes_per_token"] = static_cast<double>(u2->bytes - u1->bytes) / std::max(o.n_gen, 1);
      r["decode_upload_gb_per_s"] = static_cast<double>(u2->bytes - u1->bytes) / (t2 - t1) / 1e9;
      const uint64_t ahead = u2->ahead - u0->ahead, asked = ahead + (u2->on_demand - u0->on_demand);
      r["upload_issued_ahead"] = asked ? static_cast<double>(ahead) / asked : 0.0;
    }
    if (lm.expert_cache()) {
      // The GPU expert cache over this run's decode steps: routed experts computed from a slot, and admissions.
      const engine::ExpertCacheCounters& c2 = lm.expert_cache()->counters();
      const uint64_t hits = c2.hits - c1.hits, misses = c2.misses - c1.misses;
      if (hits + misses) r["decode_gpu_expert_hit_rate"] = static_cast<double>(hits) / static_cast<double>(hits + misses);
      r["decode_gpu_expert_admissions"] = c2.admissions - c1.admissions;
      r["decode_gpu_expert_admitted_bytes"] = c2.admitted_bytes - c1.admitted_bytes;
    }
    if (o.op_times) r["op_times"] = {{"prompt", op_times_json(prompt_ops)}, {"decode", op_times_json(lm.op_times())}};
    reps.push_back(r);
  }

  nlohmann::json rec;
  char when[32];
  std::time_t t = std::time(nullptr);
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  rec["date"] = when;
  rec["model"] = o.model;
  rec["model_bytes"] = lm.file().total_tensor_bytes();
  rec["threads"] = lm.backend().pool().size();
  rec["n_prompt"] = o.n_prompt;
  rec["n_gen"] = o.n_gen;
  rec["repetitions"] = o.repetitions;
  rec["warmup"] = o.warmup;
  rec["cold"] = o.cold;
  rec["load_seconds"] = load_seconds;
  rec["runs"] = reps;
  rec["prompt_tokens_per_s"] = to_json(summarise(pp_tps));
  rec["decode_tokens_per_s"] = to_json(summarise(tg_tps));
  if (!bytes_per_tok.empty()) {
    rec["decode_bytes_read_per_token"] = to_json(summarise(bytes_per_tok));
    rec["decode_disk_gb_per_s"] = to_json(summarise(disk_gbps));
  }
  if (lm.plan()) {
    const auto& p = *lm.plan();
    rec["plan"] = plan_to_json(p);
    // Predicted as carried out: with a GPU expert cache, its decode prediction replaces the plan's.
    const planner::Prediction& dec = lm.executed_plan()->decode;
    if (lm.expert_cache()) {
      rec["plan_decode_tokens_per_s"] = p.decode.tokens_per_s;
      rec["predicted_decode_bound"] = dec.bound;
    }
    rec["predicted_decode_tokens_per_s"] = dec.tokens_per_s;
    rec["predicted_prefill_tokens_per_s"] = p.prefill.tokens_per_s;
    rec["decode_vs_prediction"] = dec.tokens_per_s > 0 ? summarise(tg_tps).median / dec.tokens_per_s : 0;
  }
  // Bytes a decoded token moves per stage at the decode's average context, and the rate achieved.
  const double tg_median = summarise(tg_tps).median;
  const DecodeTraffic traffic = decode_traffic(lm.model(), o.n_prompt + o.n_gen / 2.0);
  double gpu_bw = 0;  // measured device copy bandwidth, when the whole model is on the GPU
  if (lm.plan() && lm.plan()->mode == planner::Mode::FullGpu && eo.profile && !eo.profile->gpus.empty())
    gpu_bw = eo.profile->gpus.front().device_read_bytes_per_s;
  nlohmann::json stages;
  for (auto [name, bytes] : {std::pair{"weights", traffic.weights}, {"kv", traffic.kv}, {"activations", traffic.acts},
                             {"total", traffic.total()}}) {
    nlohmann::json st{{"bytes_per_token", bytes}, {"gb_per_s", bytes * tg_median / 1e9}};
    if (gpu_bw > 0) st["share_of_gpu_bandwidth"] = bytes * tg_median / gpu_bw;
    stages[name] = st;
  }
  rec["decode_traffic"] = stages;
  if (gpu_bw > 0) rec["decode_bound_tokens_per_s"] = gpu_bw / traffic.total();
  if (o.parallel > 1) {
    ParallelBench pb;
    pb.n_parallel = o.parallel;
    pb.n_gen = o.n_gen;
    pb.repetitions = o.repetitions;
    pb.n_ctx = o.n_prompt + o.n_gen + 1;  // just what the run needs: N slots of the planned context may not fit
    pb.op_times = o.op_times;
    auto par = bench_parallel(lm, prompt, pb);
    if (!par) return error("--parallel: {}", par.status().message());
    nlohmann::json& p = par.value();
    p["decode_per_sequence_vs_single"] = tg_median > 0 ? p["decode_tokens_per_s_per_sequence"].get<double>() / tg_median : 0;
    p["decode_aggregate_vs_single"] = tg_median > 0 ? p["decode_tokens_per_s_aggregate"].get<double>() / tg_median : 0;
    rec["parallel"] = p;
  }
  if (const engine::GpuExpertCache* c = lm.expert_cache()) {
    rec["gpu_expert_cache"] = {{"slots", c->n_slots()}, {"slot_bytes", c->slot_bytes()}, {"bytes", c->device_bytes()},
                               {"hits", c->counters().hits}, {"misses", c->counters().misses},
                               {"admissions", c->counters().admissions}, {"admitted_bytes", c->counters().admitted_bytes},
                               {"error", lm.expert_cache_error()}};
  }
  rec["peak_rss_bytes"] = engine::peak_rss_bytes();
  rec["pinned_bytes"] = lm.pinned_bytes();
  if (lm.plan()) {
    const engine::HostedGpuSites h = engine::gpu_sites_on_host(*lm.executed_plan(), lm.placement());
    rec["gpu_sites_run_on_host"] = {{"decode_tensors", h.decode_tensors}, {"decode_bytes", h.decode_bytes},
                                    {"prefill_tensors", h.prefill_tensors}, {"prefill_bytes", h.prefill_bytes}};
  }
  rec["decode_steps_replayed"] = session.forward().replayed_steps();  // CUDA graphs (warm-up included)
  rec["decode_steps"] = (o.warmup + o.repetitions) * o.n_gen;
  if (gpu_mem && gpu_mem->available()) {
    gpu_mem->stop();
    rec["gpu_memory"] = {{"peak_above_context_bytes", gpu_mem->peak_above_baseline()},
                         {"context_and_others_bytes", gpu_mem->baseline_used()},
                         {"peak_used_bytes", gpu_mem->peak_used()},
                         {"samples", gpu_mem->samples()},
                         {"budget_bytes", lm.plan() ? lm.plan()->budgets.gpu_bytes : 0}};
    // --gpu-mem bounds the card's whole use by this process, the context included (planner/plan.h).
    if (eo.budgets.gpu_bytes) rec["gpu_memory"]["gpu_mem_flag_bytes"] = *eo.budgets.gpu_bytes;
  }
  BenchRecord out;
  out.record = std::move(rec);
  if (lm.plan()) out.plan = *lm.plan();
  return out;
}

int run_bench(const BenchOptions& o) {
  if (!o.sweep.empty()) return run_bench_sweep(o);
  auto measured = measure_bench(o);
  if (!measured) return fail(measured.status().message());
  const nlohmann::json& rec = measured->record;
  const std::string text = rec.dump(1);
  if (!o.out.empty()) {
    std::ofstream out(o.out);
    out << text << "\n";
    if (!out) return fail("cannot write " + o.out);
  }
  if (o.json) {
    std::printf("%s\n", text.c_str());
    return 0;
  }
  const auto& pp = rec["prompt_tokens_per_s"];
  const auto& tg = rec["decode_tokens_per_s"];
  std::printf("prompt  %4d tokens: median %8.2f tok/s (min %.2f, max %.2f) over %d runs\n", o.n_prompt,
              pp["median"].get<double>(), pp["min"].get<double>(), pp["max"].get<double>(), o.repetitions);
  std::printf("decode  %4d tokens: median %8.2f tok/s (min %.2f, max %.2f)\n", o.n_gen, tg["median"].get<double>(),
              tg["min"].get<double>(), tg["max"].get<double>());
  const double tg_median = tg["median"].get<double>();
  if (rec.contains("decode_bytes_read_per_token"))
    std::printf("disk: %s read per decoded token, %.2f GB/s median\n",
                format_bytes(static_cast<uint64_t>(rec["decode_bytes_read_per_token"]["median"].get<double>())).c_str(),
                rec["decode_disk_gb_per_s"]["median"].get<double>());
  if (!rec["runs"].empty() && rec["runs"].back().contains("decode_expert_hit_rate")) {
    const nlohmann::json& last = rec["runs"].back();
    std::printf("expert cache (RAM, above the disk): %.1f%% of routed experts found in it while decoding",
                100.0 * last["decode_expert_hit_rate"].get<double>());
    if (last.contains("decode_expert_speculative_reads"))
      std::printf("; %llu read ahead on a prediction, %llu of them routed",
                  static_cast<unsigned long long>(last["decode_expert_speculative_reads"].get<uint64_t>()),
                  static_cast<unsigned long long>(last["decode_expert_speculative_used"].get<uint64_t>()));
    std::printf("\n");
  }
  if (rec.contains("gpu_expert_cache")) {
    if (rec.contains("plan_decode_tokens_per_s"))
      std::printf("with the GPU expert cache: predicted decode %.2f tok/s, bound by %s (the plan's whole-tensor "
                  "placement: %.2f)\n", rec["predicted_decode_tokens_per_s"].get<double>(),
                  rec["predicted_decode_bound"].get<std::string>().c_str(), rec["plan_decode_tokens_per_s"].get<double>());
    const auto& c = rec["gpu_expert_cache"];
    const auto& r = rec["runs"].back();
    std::printf("GPU expert cache: %d slots of %s (%s); last run's decode: %.1f%% of routed experts computed from a "
                "slot, %llu admitted (%s)%s%s\n",
                c["slots"].get<int>(), format_bytes(c["slot_bytes"].get<uint64_t>()).c_str(),
                format_bytes(c["bytes"].get<uint64_t>()).c_str(),
                r.contains("decode_gpu_expert_hit_rate") ? 100.0 * r["decode_gpu_expert_hit_rate"].get<double>() : 0.0,
                static_cast<unsigned long long>(r["decode_gpu_expert_admissions"].get<uint64_t>()),
                format_bytes(r["decode_gpu_expert_admitted_bytes"].get<uint64_t>()).c_str(),
                c["error"].get<std::string>().empty() ? "" : "; stopped admitting: ",
                c["error"].get<std::string>().c_str());
  }
  for (const char* st : {"weights", "kv", "activations", "total"}) {
    const auto& v = rec["decode_traffic"][st];
    std::printf("decode %-11s %10s a token, %7.1f GB/s", st,
                format_bytes(static_cast<uint64_t>(v["bytes_per_token"].get<double>())).c_str(),
                v["gb_per_s"].get<double>());
    if (v.contains("share_of_gpu_bandwidth"))
      std::printf(" (%.0f%% of the measured GPU bandwidth)", 100.0 * v["share_of_gpu_bandwidth"].get<double>());
    std::printf("\n");
  }
  if (!rec["runs"].empty() && rec["runs"].back().contains("prompt_upload_bytes")) {
    const auto& r = rec["runs"].back();
    std::printf("GPU uploads of RAM-tier weights: prompt %s at %.1f GB/s, decode %s a token at %.1f GB/s; %.0f%% issued "
                "ahead; %s pinned\n",
                format_bytes(r["prompt_upload_bytes"].get<uint64_t>()).c_str(), r["prompt_upload_gb_per_s"].get<double>(),
                format_bytes(static_cast<uint64_t>(r["decode_upload_bytes_per_token"].get<double>())).c_str(),
                r["decode_upload_gb_per_s"].get<double>(), 100.0 * r["upload_issued_ahead"].get<double>(),
                format_bytes(rec["pinned_bytes"].get<uint64_t>()).c_str());
  }
  if (const double d = rec["runs"].empty() ? 0.0 : rec["runs"].back()["decode_cpu_dispatches_per_token"].get<double>(); d > 0)
    std::printf("decode CPU thread-pool dispatches a token: %.0f\n", d);
  if (const double h = rec["runs"].empty() ? 0.0 : rec["runs"].back()["decode_handoffs_per_token"].get<double>(); h > 0)
    std::printf("decode hand-offs between backends a token: %.1f\n", h);
  if (rec.contains("decode_bound_tokens_per_s"))
    std::printf("decode bound (bytes a token / measured GPU bandwidth): %.1f tok/s; achieved %.0f%% of it\n",
                rec["decode_bound_tokens_per_s"].get<double>(),
                100.0 * tg_median / rec["decode_bound_tokens_per_s"].get<double>());
  if (measured->plan) {
    std::printf("%s\n", describe_plan(*measured->plan).c_str());
    if (const auto& h = rec["gpu_sites_run_on_host"]; h["decode_tensors"].get<int>() + h["prefill_tensors"].get<int>() > 0)
      std::printf("ran on the host though the plan computes them on the GPU (disk tier, or too large for a staging "
                  "slot): decode %d tensors (%s), prompts %d tensors (%s)\n",
                  h["decode_tensors"].get<int>(), format_bytes(h["decode_bytes"].get<uint64_t>()).c_str(),
                  h["prefill_tensors"].get<int>(), format_bytes(h["prefill_bytes"].get<uint64_t>()).c_str());
    std::printf("achieved / predicted decode: %.2f\n", rec["decode_vs_prediction"].get<double>());
  }
  if (rec.contains("parallel")) {
    const auto& p = rec["parallel"];
    std::printf("parallel %d sequences, one pass a step: per sequence %.2f tok/s (%.2fx one alone), aggregate %.2f tok/s "
                "(%.2fx)\n",
                p["n_parallel"].get<int>(), p["decode_tokens_per_s_per_sequence"].get<double>(),
                p["decode_per_sequence_vs_single"].get<double>(), p["decode_tokens_per_s_aggregate"].get<double>(),
                p["decode_aggregate_vs_single"].get<double>());
    std::printf("parallel: %d of %d sequences decode the same tokens alone (greedy); tokens equal: %s; prompt "
                "logits bit-identical to alone: %d of %d\n",
                p["sequences_identical_to_alone"].get<int>(), p["n_parallel"].get<int>(),
                p["tokens_equal_to_alone"].dump().c_str(), p["prompt_logits_identical_to_alone"].get<int>(),
                p["n_parallel"].get<int>());
    if (p["decode_steps_replayed"].get<uint64_t>() > 0)
      std::printf("parallel: batched steps replayed from CUDA graphs: %llu of %lld\n",
                  static_cast<unsigned long long>(p["decode_steps_replayed"].get<uint64_t>()),
                  static_cast<long long>(p["decode_steps"].get<int64_t>()));
    if (p.contains("decode_bytes_read_per_step"))
      std::printf("parallel: %s read from disk a step (all sequences)\n",
                  format_bytes(static_cast<uint64_t>(p["decode_bytes_read_per_step"].get<double>())).c_str());
  }
  if (!rec["runs"].empty() && rec["runs"].back().contains("op_times")) {
    const auto& ops = rec["runs"].back()["op_times"];
    print_op_times("prompt", ops["prompt"], rec["n_prompt"].get<int>());
    print_op_times("decode", ops["decode"], rec["n_gen"].get<int>());
    if (rec.contains("parallel") && rec["parallel"].contains("op_times_decode"))
      print_op_times("parallel decode, all sequences in one step", rec["parallel"]["op_times_decode"],
                     rec["n_gen"].get<int>(), "step");
  }
  std::printf("peak resident memory %s\n", format_bytes(rec["peak_rss_bytes"].get<uint64_t>()).c_str());
  if (rec["decode_steps_replayed"].get<uint64_t>() > 0)
    std::printf("decode steps replayed from CUDA graphs: %llu of %lld\n",
                static_cast<unsigned long long>(rec["decode_steps_replayed"].get<uint64_t>()),
                static_cast<long long>(rec["decode_steps"].get<int64_t>()));
  if (rec.contains("gpu_memory")) {
    const auto& g = rec["gpu_memory"];
    std::printf("GPU memory: peak %s in use (the CUDA context and others %s, this run %s), measured %lld times; "
                "the plan's share %s",
                format_bytes(g["peak_used_bytes"].get<uint64_t>()).c_str(),
                format_bytes(g["context_and_others_bytes"].get<uint64_t>()).c_str(),
                format_bytes(g["peak_above_context_bytes"].get<uint64_t>()).c_str(),
                static_cast<long long>(g["samples"].get<int64_t>()), format_bytes(g["budget_bytes"].get<uint64_t>()).c_str());
    if (g.contains("gpu_mem_flag_bytes")) {
      const uint64_t flag = g["gpu_mem_flag_bytes"].get<uint64_t>();
      std::printf("; --gpu-mem %s: %s", format_bytes(flag).c_str(),
                  g["peak_used_bytes"].get<uint64_t>() <= flag ? "kept" : "EXCEEDED");
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace strata::cli
