// cli/cmd_run.cc: `strata run`: tokenize the prompt, stream generated text to stdout, speeds to stderr.
#include <chrono>
#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "engine/runtime.h"
#include "engine/session.h"

namespace strata::cli {

int run_run(const RunOptions& o) {
  engine::EngineOptions eo;
  eo.model_path = o.model;
  eo.n_threads = o.threads;
  eo.n_ctx = o.ctx;
  auto t_load = std::chrono::steady_clock::now();
  auto lm = engine::LoadedModel::load(eo);
  if (!lm) return fail(lm.status().message());
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
  return 0;
}

}  // namespace strata::cli
