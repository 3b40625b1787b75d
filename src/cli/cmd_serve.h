// cli/cmd_serve.h: `strata serve`: its options as a plain struct (flags, with OLLAMA_* environment
// variables as fallbacks) and the function that runs the server until SIGINT/SIGTERM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/engine_setup.h"
#include "cli/progress_line.h"

namespace strata::cli {

struct ServeOptions {
  std::vector<std::string> models;  // GGUF files or directories of them
  std::string host;                 // "": from OLLAMA_HOST, else 127.0.0.1 (a host[:port] form is accepted)
  int port = -1;                    // -1: from OLLAMA_HOST, else 11434; 0: any free port
  std::string store;                // "": $STRATA_MODELS, else ~/.strata/models
  std::string ollama_models;        // "": $OLLAMA_MODELS, else ~/.ollama/models
  bool no_ollama = false;           // do not read an Ollama store
  int threads = 0;                  // engine threads (0: all cores)
  PlanFlags plan;                   // as `strata run` takes them; plan.ctx is the default num_ctx
                                    // (0: OLLAMA_CONTEXT_LENGTH, else 4096)
  int max_queue = -1;               // waiting requests per model (-1: OLLAMA_MAX_QUEUE, else 512)
  int max_loaded = -1;              // models kept loaded (-1: OLLAMA_MAX_LOADED_MODELS, else 3)
  std::string keep_alive;           // "": OLLAMA_KEEP_ALIVE, else 5m
  std::string max_body = "16M";     // largest JSON request body
  int token_delay_ms = 0;           // testing aid: pause after each generated token
  ProgressFlags progress;           // blob uploads and creates on stderr
};
int run_serve(const ServeOptions& o);

}  // namespace strata::cli
