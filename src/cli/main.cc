// cli/main.cc: the `strata` binary: flags parsed into option structs, one subcommand each. No logic here.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/log.h"

int main(int argc, char** argv) {
  using namespace strata::cli;
  CLI::App app{"strata: run LLMs bigger than GPU memory or RAM, from GGUF files"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log more to stderr");

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
  c_run->add_option("-c,--ctx", run.ctx, "Context length (0: model default, at most 4096)");
  c_run->add_flag("--no-bos", run.no_bos, "Do not add the BOS token");

  InspectOptions inspect;
  auto* c_inspect = app.add_subcommand("inspect", "Print a model's metadata and tensor table (reads no weights)");
  c_inspect->add_option("model", inspect.model, "GGUF model file")->required();
  c_inspect->add_flag("--json", inspect.json, "Print JSON");

  LogitsOptions logits;
  auto* c_logits = app.add_subcommand("logits", "Evaluate a token sequence and print logits as JSON");
  c_logits->add_option("model", logits.model, "GGUF model file")->required();
  c_logits->add_option("--tokens", logits.tokens, "Token ids, space or comma separated (no BOS added)")->required();
  c_logits->add_option("--top", logits.top, "Top logits per position");
  c_logits->add_flag("--full", logits.full, "Include every logit");
  c_logits->add_option("--gen", logits.gen, "Greedy tokens to generate after the sequence");
  c_logits->add_option("-t,--threads", logits.threads, "CPU threads (0: all)");
  c_logits->add_option("-c,--ctx", logits.ctx, "Context length (0: model default)");

  SynthOptions synth;
  auto* c_synth = app.add_subcommand("synth", "Write a llama-shaped GGUF with seeded random weights");
  c_synth->add_option("out", synth.out, "Output GGUF path")->required();
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
  c_synth->add_option("--type", synth.type, "Weight type (F32, F16, Q8_0, Q4_K, ...) or mix (Q4_K_M, Q5_K_M)");
  c_synth->add_flag("--tied", synth.tied, "Tie output to the token embedding");
  c_synth->add_option("-t,--threads", synth.threads, "CPU threads (0: all)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  strata::set_log_level(verbose ? strata::LogLevel::Debug : strata::LogLevel::Warn);

  if (c_run->parsed()) return run_run(run);
  if (c_inspect->parsed()) return run_inspect(inspect);
  if (c_logits->parsed()) return run_logits(logits);
  if (c_synth->parsed()) return run_synth(synth);
  return 2;
}
