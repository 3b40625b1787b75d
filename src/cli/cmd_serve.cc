// cli/cmd_serve.cc: `strata serve`: options and environment → ServerOptions, then serve until a signal.
#include "cli/cmd_serve.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli/commands.h"
#include "core/units.h"
#include "server/request_options.h"
#include "server/server.h"

namespace strata::cli {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string home_path(const char* rel) {
  std::string home = env("HOME");
  return (home.empty() ? std::string(".") : home) + "/" + rel;
}

// An integer from a flag (when >= 0), else an environment variable, else the default.
Result<int64_t> setting(int64_t flag, const char* var, int64_t fallback) {
  if (flag >= 0) return flag;
  std::string v = env(var);
  if (v.empty()) return fallback;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n < 0) return error("{}={}: expected a non-negative integer", var, v);
  return static_cast<int64_t>(n);
}

}  // namespace

int run_serve(const ServeOptions& o) {
  server::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 11434;
  if (Status s = server::parse_host_port(env("OLLAMA_HOST"), so.host, so.port); !s.is_ok())
    return fail("OLLAMA_HOST: " + s.message());
  if (!o.host.empty())
    if (Status s = server::parse_host_port(o.host, so.host, so.port); !s.is_ok()) return fail("--host: " + s.message());
  if (o.port >= 0) so.port = o.port;

  so.store.paths = o.models;
  so.store.store_dir = !o.store.empty() ? o.store : !env("STRATA_MODELS").empty() ? env("STRATA_MODELS")
                                                                                   : home_path(".strata/models");
  if (!o.no_ollama)
    so.store.ollama_dir = !o.ollama_models.empty() ? o.ollama_models : !env("OLLAMA_MODELS").empty() ? env("OLLAMA_MODELS")
                                                                                                       : home_path(".ollama/models");

  auto ctx = setting(o.plan.ctx > 0 ? o.plan.ctx : -1, "OLLAMA_CONTEXT_LENGTH", 4096);
  auto queue = setting(o.max_queue, "OLLAMA_MAX_QUEUE", 512);
  auto loaded = setting(o.max_loaded, "OLLAMA_MAX_LOADED_MODELS", 3);
  auto parallel = setting(-1, "OLLAMA_NUM_PARALLEL", 1);
  for (const auto* r : {&ctx, &queue, &loaded, &parallel})
    if (!r->is_ok()) return fail(r->status().message());
  constexpr int64_t kMaxParallel = 64;
  if (parallel.value() > kMaxParallel)
    return fail(fmt::format("OLLAMA_NUM_PARALLEL={}: at most {} sequences per model", parallel.value(), kMaxParallel));
  so.scheduler.runner.n_threads = o.threads;
  so.scheduler.runner.default_num_ctx = ctx.value() > 0 ? ctx.value() : 4096;
  // Models load exactly as `strata run` loads them: the same flags, budgets and plan.
  so.scheduler.runner.n_parallel = static_cast<int>(std::max<int64_t>(parallel.value(), 1));
  PlanFlags plan = o.plan;
  // The plan budgets the KV cache of every parallel sequence: n_parallel slots of the default context.
  plan.ctx = so.scheduler.runner.default_num_ctx * so.scheduler.runner.n_parallel;
  const bool shared_passes = so.scheduler.runner.n_parallel > 1;  // requests decode together: batch-invariant
  so.scheduler.runner.engine_options = [threads = o.threads, plan, shared_passes](const std::string& path) {
    auto eo = make_engine_options(path, threads, plan);
    if (eo) eo->batch_invariant = shared_passes;
    return eo;
  };
  so.scheduler.runner.max_queue = static_cast<size_t>(queue.value());
  so.scheduler.max_loaded_models = static_cast<size_t>(std::max<int64_t>(loaded.value(), 1));
  so.scheduler.runner.token_delay = std::chrono::milliseconds(std::max(o.token_delay_ms, 0));
  const std::string keep_alive = !o.keep_alive.empty() ? o.keep_alive : env("OLLAMA_KEEP_ALIVE");
  if (!keep_alive.empty()) {
    auto d = server::parse_duration(keep_alive);
    if (!d) return fail("keep-alive: " + d.status().message());
    so.scheduler.runner.default_keep_alive = d.value();
  }
  auto body = parse_size(o.max_body);
  if (!body) return fail("--max-body: " + body.status().message());
  so.max_body_bytes = body.value();
  for (std::string origins = env("OLLAMA_ORIGINS"); !origins.empty();) {
    size_t comma = origins.find(',');
    std::string item = origins.substr(0, comma);
    if (!item.empty()) so.extra_origins.push_back(item);
    origins = comma == std::string::npos ? "" : origins.substr(comma + 1);
  }
  if (char name[256] = {}; ::gethostname(name, sizeof(name) - 1) == 0 && name[0]) so.local_hostnames.push_back(name);

  // Signals are taken synchronously by this thread: block them before any server thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ProgressLine progress(o.progress);
  so.progress = progress.callback();
  auto srv = server::Server::create(so);
  if (!srv) return fail(srv.status().message());
  auto port = srv.value()->start();
  if (!port) return fail(port.status().message());
  const bool v6 = so.host.find(':') != std::string::npos;
  std::fprintf(stderr, "strata: serving on http://%s%s%s:%d (models: %zu path(s), store %s%s%s)\n", v6 ? "[" : "",
               so.host.c_str(), v6 ? "]" : "", port.value(), so.store.paths.size(), so.store.store_dir.c_str(),
               so.store.ollama_dir.empty() ? "" : ", ollama ", so.store.ollama_dir.c_str());
  std::fflush(stderr);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "strata: stopping (signal %d)\n", sig);
  srv.value()->stop();
  return 0;
}

}  // namespace strata::cli
