// cli/bench_parallel.cc: many sequences decoding in one pass a step (model::Forward::eval_batch), timed.
#include "cli/bench_parallel.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "engine/sampler.h"
#include "model/forward.h"
#include "model/kv_cache.h"

namespace strata::cli {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

nlohmann::json op_times_json(const std::vector<kernels::OpTime>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const kernels::OpTime& t : rows) out.push_back({{"op", t.key}, {"count", t.count}, {"seconds", t.seconds}});
  return out;
}

Result<nlohmann::json> bench_parallel(engine::LoadedModel& lm, std::span<const int32_t> prompt, const ParallelBench& b) {
  const int n = b.n_parallel;
  const int64_t vocab = lm.hparams().n_vocab;
  model::Forward fwd(lm.model(), lm.weights(), lm.experts(), lm.placement());
  if (!lm.record_decode_steps()) fwd.disable_step_recording();
  std::vector<std::unique_ptr<model::KvCache>> caches;
  for (int i = 0; i < n; ++i) {
    caches.push_back(std::make_unique<model::KvCache>(lm.hparams(), b.n_ctx, lm.placement()));
    STRATA_RETURN_IF_ERROR(caches.back()->status());
  }
  // Sequence i's prompt: the prompt rotated by i past its first token (BOS stays first).
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t>& p = prompts[static_cast<size_t>(i)];
    p.assign(prompt.begin(), prompt.end());
    if (p.size() > 2) std::rotate(p.begin() + 1, p.begin() + 1 + (i % static_cast<int>(p.size() - 1)), p.end());
  }
  std::vector<std::vector<float>> logits(static_cast<size_t>(n), std::vector<float>(static_cast<size_t>(vocab)));
  std::vector<int32_t> next(static_cast<size_t>(n));
  std::vector<double> prompt_tps, seq_tps, bytes_per_step;
  std::vector<std::vector<int32_t>> generated(static_cast<size_t>(n));  // the last repetition's greedy tokens
  std::vector<kernels::OpTime> step_ops;
  std::vector<std::vector<float>> prompt_logits;
  for (int rep = -1; rep < b.repetitions; ++rep) {  // one warm-up
    std::vector<model::SeqInput> batch;
    for (int i = 0; i < n; ++i) {
      caches[static_cast<size_t>(i)]->clear();
      batch.push_back({prompts[static_cast<size_t>(i)], caches[static_cast<size_t>(i)].get(), logits[static_cast<size_t>(i)], false});
    }
    const double t0 = now_s();
    STRATA_RETURN_IF_ERROR(fwd.eval_batch(batch));
    const double t1 = now_s();
    if (rep == b.repetitions - 1) prompt_logits = logits;  // compared with each prompt's alone below
    const double t_decode = now_s();  // after that copy: the decode steps alone are timed
    const auto s1 = lm.stream_stats();
    const bool timed = b.op_times && rep == b.repetitions - 1;
    if (timed) lm.reset_op_times();
    for (int32_t g = 0; g < b.n_gen; ++g) {
      for (int i = 0; i < n; ++i) {
        next[static_cast<size_t>(i)] = engine::Sampler::argmax(logits[static_cast<size_t>(i)]);
        batch[static_cast<size_t>(i)].tokens = std::span(&next[static_cast<size_t>(i)], 1);
        if (g == 0) generated[static_cast<size_t>(i)].clear();
        generated[static_cast<size_t>(i)].push_back(next[static_cast<size_t>(i)]);
      }
      STRATA_RETURN_IF_ERROR(fwd.eval_batch(batch));
    }
    const double t2 = now_s();
    const auto s2 = lm.stream_stats();
    if (timed) step_ops = lm.op_times();
    if (rep < 0) continue;
    prompt_tps.push_back(static_cast<double>(prompt.size()) * n / (t1 - t0));
    seq_tps.push_back(b.n_gen / (t2 - t_decode));
    if (s1 && s2) bytes_per_step.push_back(static_cast<double>(s2->bytes_read - s1->bytes_read) / b.n_gen);
  }
  const uint64_t replayed = fwd.replayed_steps();  // batched steps (CUDA graphs), before the runs alone
  // Each sequence again alone, greedy: its tokens should be the batch's (a batch's decode products sum each
  // token's terms in the order one token's do). Its prompt's logits are compared too: a prompt's products are
  // a GEMM whose kernel may be chosen by the row count. The record says how many tokens each sequence kept.
  int identical = 0, prompts_identical = 0;
  std::vector<int> agree(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    caches[static_cast<size_t>(i)]->clear();
    std::vector<float>& lg = logits[static_cast<size_t>(i)];
    std::vector<model::SeqInput> one{{prompts[static_cast<size_t>(i)], caches[static_cast<size_t>(i)].get(), lg, false}};
    STRATA_RETURN_IF_ERROR(fwd.eval_batch(one));
    if (lg == prompt_logits[static_cast<size_t>(i)]) ++prompts_identical;  // bit for bit (no NaN in logits)
    const std::vector<int32_t>& want = generated[static_cast<size_t>(i)];
    int same = 0;
    for (size_t g = 0; g < want.size(); ++g) {
      int32_t tok = engine::Sampler::argmax(lg);
      if (tok != want[g]) break;
      ++same;
      if (g + 1 == want.size()) break;
      one[0].tokens = std::span(&tok, 1);
      STRATA_RETURN_IF_ERROR(fwd.eval_batch(one));
    }
    agree[static_cast<size_t>(i)] = same;
    if (same == static_cast<int>(want.size())) ++identical;
  }
  nlohmann::json r;
  r["n_parallel"] = n;
  r["sequences_identical_to_alone"] = identical;
  r["prompt_logits_identical_to_alone"] = prompts_identical;
  r["decode_steps"] = static_cast<int64_t>(b.repetitions + 1) * b.n_gen;  // the warm-up's included
  r["decode_steps_replayed"] = replayed;
  r["tokens_equal_to_alone"] = agree;
  r["n_gen"] = b.n_gen;
  r["prompt_tokens_per_s"] = median(prompt_tps);
  r["decode_tokens_per_s_per_sequence"] = median(seq_tps);
  r["decode_tokens_per_s_aggregate"] = median(seq_tps) * n;
  if (!bytes_per_step.empty()) r["decode_bytes_read_per_step"] = median(bytes_per_step);
  if (b.op_times) r["op_times_decode"] = op_times_json(step_ops);
  return r;
}

}  // namespace strata::cli
