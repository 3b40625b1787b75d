// cli/commands.h: each subcommand's options as a plain struct, and the function that runs it (returns the exit code).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/engine_setup.h"
#include "cli/progress_line.h"

namespace strata::cli {

struct RunOptions {
  std::string model;
  std::string prompt;
  int32_t n_predict = 128;
  float temperature = 0.8f;
  int64_t seed = -1;  // -1: random
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int threads = 0;
  bool no_bos = false;
  std::string format;  // "" or "json"
  PlanFlags plan;
  ProgressFlags progress;
};
int run_run(const RunOptions& o);
void print_run_report(const engine::LoadedModel& lm);

struct InspectOptions {
  std::string model;
  bool json = false;
  bool plan = false;  // --plan: print the placement plan (reads no weights)
  std::string svg;    // --svg FILE (with --plan): also draw the plan as an SVG picture
  PlanFlags plan_flags;
};
int run_inspect(const InspectOptions& o);

struct LogitsOptions {
  std::string model;
  std::string tokens;  // "1 17 300"
  int top = 5;
  bool full = false;
  int gen = 0;
  int threads = 0;
  PlanFlags plan;
  ProgressFlags progress;
};
int run_logits(const LogitsOptions& o);

struct SynthOptions {
  std::string out;
  std::string arch = "llama";
  std::string preset;  // a real model's shape (llama3-8b, qwen3-30b-a3b, gpt-oss-120b, ...); flags given override it
  int64_t head_dim = 0;
  int64_t ff_expert = 0;
  int64_t window = 0;
  int norm_topk = -1;
  std::string rope_scaling;
  float rope_scaling_factor = 1.0f;
  int64_t rope_n_ctx_orig = 0;
  bool rope_freqs = false;
  std::string vocab_family;
  int64_t layers = 2;
  int64_t dim = 64;
  int64_t ff = 0;  // 0: a llama-like multiple of dim
  int64_t heads = 4;
  int64_t kv_heads = 0;  // 0: same as heads
  int64_t vocab = 512;
  int64_t experts = 0;
  int64_t experts_used = 2;
  int64_t ctx = 2048;
  float rope_base = 10000.0f;
  uint64_t seed = 1;
  std::string type = "F32";  // a DType name or a mix like Q4_K_M
  bool tied = false;
  int threads = 0;
  bool sparse = false;  // header only, weights a hole (for `inspect --plan` and `--svg` of big shapes)
  double router_skew = 0;  // Zipf-like exponent of expert popularity per layer (0: uniform routing)
  ProgressFlags progress;
};
int run_synth(const SynthOptions& o);

struct BenchOptions {
  std::string model;
  std::string prompt = "Once upon a time";
  int32_t n_prompt = 64;   // prompt tokens evaluated per repetition (synthetic ids when the prompt is shorter)
  int32_t n_gen = 32;      // tokens decoded per repetition
  int repetitions = 3;
  int warmup = 1;
  bool cold = false;       // drop the model file from the page cache before each repetition
  int parallel = 1;        // > 1: also decode this many sequences in one pass a step (cli/bench_parallel.cc)
  bool json = false;
  std::string out;         // write the JSON record here too
  std::string sweep;       // "gpu-mem=4G..24G[:2G]" or "ram=...": a run per budget, re-planned each time
  std::string svg;         // with sweep: the plot of tok/s against the budget (default: --out's name as .svg)
  bool op_times = false;   // every op waited for and timed: where a pass's time goes (not a speed figure)
  int threads = 0;
  PlanFlags plan;
  ProgressFlags progress;
};
int run_bench(const BenchOptions& o);

struct TokenizeOptions {
  std::string model;
  std::string prompt;  // -p
  std::string file;    // --file: the text is this file's bytes
  bool raw = false;    // no BOS/EOS; special-token text is plain text
  bool json = false;   // {"ids": [...], "text": "<detokenized>"}
};
int run_tokenize(const TokenizeOptions& o);

// Prints "strata: error: <message>" to stderr; returns the exit code 1.
int fail(const std::string& message);

}  // namespace strata::cli
