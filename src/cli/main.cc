// cli/main.cc: the `strata` binary: flags parsed into option structs, one subcommand each. No logic here.
#include <CLI/CLI.hpp>

#include "cli/cmd_profile.h"
#include "cli/cmd_serve.h"
#include "cli/commands.h"
#include "core/log.h"

int main(int argc, char** argv) {
  using namespace strata::cli;
  CLI::App app{"strata: run LLMs bigger than GPU memory or RAM, from GGUF files"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log more to stderr");
  // Budgets and the machine profile: every command that loads or plans a model takes these.
  auto add_plan_flags = [](CLI::App* c, PlanFlags& f) {
    c->add_option("--ram", f.ram, "RAM budget, e.g. 4G (default: available minus headroom)");
    c->add_option("--gpu-mem", f.gpu_mem, "GPU memory budget, e.g. 8G (default: free minus headroom)");
    c->add_option("-c,--ctx", f.ctx, "Context length (0: the model's, at most 4096)");
    c->add_option("--mode", f.mode, "Force a mode: full-gpu, hybrid, expert-streaming, dense-streaming, cpu, cpu-streaming");
    c->add_option("--profile", f.profile, "Hardware profile JSON (default: the cached `strata profile`)");
    c->add_flag("--no-graphs", f.no_graphs, "Run GPU decode steps op by op instead of replaying CUDA graphs");
    c->add_flag("--static-experts", f.static_experts,
                "Keep a MoE plan's experts where it put them whole (no GPU expert cache), for A/B measurement");
  };

  // Progress on stderr: --quiet, and the plain-line interval (a testing aid) when stderr is not a terminal.
  auto add_progress_flags = [](CLI::App* c, ProgressFlags& f) {
    c->add_flag("-q,--quiet", f.quiet, "No progress on stderr");
    c->add_option("--progress-interval", f.interval_seconds,
                  "Seconds between progress lines when stderr is not a terminal (default 5)")
        ->group("");
  };

  RunOptions run;
  auto* c_run = app.add_subcommand("run", "Generate text from a prompt");
  c_run->add_option("model", run.model, "GGUF model file")->required();
  c_run->add_option("-p,--prompt", run.prompt, "Prompt text")->required();
  c_run->add_option("-n,--n-predict", run.n_predict, "Tokens to generate (-1: until EOS)");
  c_run->add_option("--temp", run.temperature, "Temperature (0: greedy)");
  c_run->add_option("--seed", run.seed, "RNG seed (-1: random)");
  c_run->add_option("--top-k", run.top_k, "Top-k (0: off)");
  c_run->add_option("--top-p", run.top_p, "Top-p (1: off)");
  c_run->add_option("--min-p", run.min_p, "Min-p (0: off)");
  c_run->add_option("--repeat-penalty", run.repeat_penalty, "Repetition penalty (1: off)");
  c_run->add_option("-t,--threads", run.threads, "CPU threads (0: all)");
  add_plan_flags(c_run, run.plan);
  add_progress_flags(c_run, run.progress);
  c_run->add_flag("--no-bos", run.no_bos, "Do not add the BOS token");
  c_run->add_option("--format", run.format, "Constrain the output: json (one JSON object)")
      ->check(CLI::IsMember({"json"}));

  InspectOptions inspect;
  auto* c_inspect = app.add_subcommand("inspect", "Print a model's metadata and tensor table (reads no weights)");
  c_inspect->add_option("model", inspect.model, "GGUF model file")->required();
  c_inspect->add_flag("--json", inspect.json, "Print JSON");
  c_inspect->add_flag("--plan", inspect.plan, "Print where every tensor would live and the predicted speed");
  c_inspect->add_option("--svg", inspect.svg, "With --plan: also draw the plan as an SVG picture to FILE");
  add_plan_flags(c_inspect, inspect.plan_flags);

  LogitsOptions logits;
  auto* c_logits = app.add_subcommand("logits", "Evaluate a token sequence and print logits as JSON");
  c_logits->add_option("model", logits.model, "GGUF model file")->required();
  c_logits->add_option("--tokens", logits.tokens, "Token ids, space or comma separated (no BOS added)")->required();
  c_logits->add_option("--top", logits.top, "Top logits per position");
  c_logits->add_flag("--full", logits.full, "Include every logit");
  c_logits->add_option("--gen", logits.gen, "Greedy tokens to generate after the sequence");
  c_logits->add_option("-t,--threads", logits.threads, "CPU threads (0: all)");
  add_plan_flags(c_logits, logits.plan);
  add_progress_flags(c_logits, logits.progress);

  BenchOptions bench;
  auto* c_bench = app.add_subcommand("bench", "Measure prompt and decode speed over repetitions; print a JSON record");
  c_bench->add_option("model", bench.model, "GGUF model file")->required();
  c_bench->add_option("-p,--n-prompt", bench.n_prompt, "Prompt tokens per repetition");
  c_bench->add_option("-n,--n-gen", bench.n_gen, "Decoded tokens per repetition");
  c_bench->add_option("-r,--repetitions", bench.repetitions, "Measured repetitions");
  c_bench->add_option("--warmup", bench.warmup, "Unmeasured warm-up repetitions");
  c_bench->add_flag("--cold", bench.cold, "Drop the model from the page cache before each repetition");
  c_bench->add_flag("--json", bench.json, "Print only the JSON record");
  c_bench->add_option("-o,--out", bench.out, "Also write the JSON record to this file");
  c_bench->add_option("--sweep", bench.sweep,
                      "Run at each budget of gpu-mem=LO..HI[:STEP] or ram=LO..HI[:STEP] (5 budgets without a step), "
                      "re-planning each time; a JSON record of them all and an SVG plot");
  c_bench->add_option("--svg", bench.svg, "With --sweep: the plot's file (default: --out with .svg)");
  c_bench->add_flag("--op-times", bench.op_times,
                    "Time every op to its completion (a serialized pass): the share of time by backend and op, "
                    "for the last repetition's prompt and decode");
  c_bench->add_option("-t,--threads", bench.threads, "CPU threads (0: all)");
  c_bench->add_option("--parallel", bench.parallel,
                      "Also decode this many sequences together (one pass a step) and compare with one alone");
  add_plan_flags(c_bench, bench.plan);
  add_progress_flags(c_bench, bench.progress);

  ProfileOptions profile;
  auto* c_profile = app.add_subcommand("profile", "Measure this machine (CPU, RAM, GPUs, storage) and cache it");
  c_profile->add_flag("--json", profile.json, "Print JSON");
  c_profile->add_flag("--refresh", profile.refresh, "Measure again even when cached");
  c_profile->add_option("--dir", profile.dir, "Folder whose storage is measured (the models' folder)");
  c_profile->add_flag("-q,--quiet", profile.quiet, "No progress on stderr");

  SynthOptions synth;
  auto* c_synth = app.add_subcommand("synth", "Write a GGUF of any architecture row with seeded random weights");
  c_synth->add_option("out", synth.out, "Output GGUF path")->required();
  c_synth->add_option("--arch", synth.arch, "Architecture row (llama, qwen2, qwen3, qwen3moe, gpt-oss)");
  c_synth->add_option("--preset", synth.preset, "A real model's shape: llama3-8b, llama3-70b, qwen3-30b-a3b, "
                                                "qwen3-235b-a22b, gpt-oss-20b, gpt-oss-120b, mixtral-8x7b");
  c_synth->add_option("--head-dim", synth.head_dim, "Head size (attention.key_length; 0: dim / heads)");
  c_synth->add_option("--ff-expert", synth.ff_expert, "One expert's FFN width (0: --ff)");
  c_synth->add_option("--window", synth.window, "Sliding window of an arch that slides (0: 128)");
  c_synth->add_option("--norm-topk", synth.norm_topk, "expert_weights_norm: 1 or 0 (-1: not written)");
  c_synth->add_option("--rope-scaling", synth.rope_scaling, "rope.scaling.type: none, linear, yarn");
  c_synth->add_option("--rope-scaling-factor", synth.rope_scaling_factor, "rope.scaling.factor");
  c_synth->add_option("--rope-orig-ctx", synth.rope_n_ctx_orig, "rope.scaling.original_context_length");
  c_synth->add_flag("--rope-freqs", synth.rope_freqs, "Write rope_freqs.weight (Llama 3.1 frequency factors)");
  c_synth->add_option("--vocab-family", synth.vocab_family, "Byte-level BPE vocabulary of llama3, qwen or gpt-oss "
                                                            "(default: SentencePiece)");
  c_synth->add_option("--layers", synth.layers, "Transformer blocks");
  c_synth->add_option("--dim", synth.dim, "Embedding dimension");
  c_synth->add_option("--ff", synth.ff, "FFN dimension (0: ~8/3 dim)");
  c_synth->add_option("--heads", synth.heads, "Attention heads");
  c_synth->add_option("--kv-heads", synth.kv_heads, "KV heads (0: same as heads)");
  c_synth->add_option("--vocab", synth.vocab, "Vocabulary size (>= 259)");
  c_synth->add_option("--experts", synth.experts, "Experts per MoE layer (0: dense)");
  c_synth->add_option("--experts-used", synth.experts_used, "Experts routed per token");
  c_synth->add_option("--ctx", synth.ctx, "Training context length recorded in the file");
  c_synth->add_option("--rope-base", synth.rope_base, "RoPE frequency base");
  c_synth->add_option("--seed", synth.seed, "Weight seed");
  c_synth->add_option("--type", synth.type,
                      "Weight type (F32, F16, Q8_0, Q4_K, MXFP4, ...) or mix (Q4_K_M, Q5_K_M, MXFP4_MOE)");
  c_synth->add_flag("--tied", synth.tied, "Tie output to the token embedding");
  c_synth->add_option("--router-skew", synth.router_skew,
                      "Expert popularity per layer ~ Zipf with this exponent (seeded; 0: uniform routing)");
  c_synth->add_option("-t,--threads", synth.threads, "CPU threads (0: all)");
  c_synth->add_flag("--sparse", synth.sparse, "Write the header only; the weights are a hole of their full size "
                    "(a sparse file, for `inspect --plan` of big shapes)");
  add_progress_flags(c_synth, synth.progress);

  TokenizeOptions tokenize;
  auto* c_tokenize = app.add_subcommand("tokenize", "Print the token ids of a text (reads only the vocabulary)");
  c_tokenize->add_option("model", tokenize.model, "GGUF model or vocabulary file")->required();
  auto* o_prompt = c_tokenize->add_option("-p,--prompt", tokenize.prompt, "Text to tokenize");
  auto* o_file = c_tokenize->add_option("--file", tokenize.file, "Tokenize this file's contents");
  o_prompt->excludes(o_file);
  c_tokenize->add_flag("--raw", tokenize.raw, "No BOS/EOS; special-token text is plain text");
  c_tokenize->add_flag("--json", tokenize.json, "Print {\"ids\": [...], \"text\": \"<detokenized>\"}");

  ServeOptions serve;
  auto* c_serve = app.add_subcommand("serve", "Serve models over the Ollama API (and OpenAI's /v1)");
  c_serve->add_option("models", serve.models, "GGUF files or directories of them");
  c_serve->add_option("--host", serve.host, "Listen address, host or host:port (default: OLLAMA_HOST or 127.0.0.1)");
  c_serve->add_option("--port", serve.port, "Listen port (default: OLLAMA_HOST or 11434; 0: any free port)");
  c_serve->add_option("--store", serve.store, "strata's model store (default: STRATA_MODELS or ~/.strata/models)");
  c_serve->add_option("--ollama-models", serve.ollama_models, "Ollama store to serve from (default: OLLAMA_MODELS or ~/.ollama/models)");
  c_serve->add_flag("--no-ollama", serve.no_ollama, "Do not read an Ollama store");
  c_serve->add_option("-t,--threads", serve.threads, "CPU threads per model (0: all)");
  add_plan_flags(c_serve, serve.plan);  // its --ctx is the default num_ctx (else OLLAMA_CONTEXT_LENGTH or 4096)
  c_serve->add_option("--max-queue", serve.max_queue, "Waiting requests per model before 503 (default: OLLAMA_MAX_QUEUE or 512)");
  c_serve->add_option("--max-loaded", serve.max_loaded, "Models kept loaded (default: OLLAMA_MAX_LOADED_MODELS or 3)");
  c_serve->add_option("--keep-alive", serve.keep_alive, "Default keep-alive, e.g. 5m, 1h, -1 (default: OLLAMA_KEEP_ALIVE or 5m)");
  c_serve->add_option("--max-body", serve.max_body, "Largest JSON request body (default 16M)");
  c_serve->add_option("--token-delay-ms", serve.token_delay_ms, "Testing aid: pause after each generated token");
  add_progress_flags(c_serve, serve.progress);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  strata::set_log_level(verbose ? strata::LogLevel::Debug : strata::LogLevel::Warn);
  if (profile.cache_dir.empty()) profile.cache_dir = profile_cache_dir_from_env();

  if (c_run->parsed()) return run_run(run);
  if (c_inspect->parsed()) return run_inspect(inspect);
  if (c_logits->parsed()) return run_logits(logits);
  if (c_synth->parsed()) return run_synth(synth);
  if (c_bench->parsed()) return run_bench(bench);
  if (c_profile->parsed()) return run_profile_command(profile);
  if (c_serve->parsed()) return run_serve(serve);
  if (c_tokenize->parsed()) {
    if (o_prompt->count() + o_file->count() != 1) return fail("tokenize: give the text with -p TEXT or --file F");
    return run_tokenize(tokenize);
  }
  return 2;
}
