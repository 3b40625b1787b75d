// server/server.h: `strata serve`: the model store, the scheduler and the HTTP server wired together,
// with the routing table of the native Ollama API and the OpenAI-compatible /v1 API.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "http/http_server.h"
#include "server/model_store.h"
#include "engine/scheduler.h"

namespace strata::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 11434;  // 0: any free port
  StoreOptions store;
  engine::SchedulerOptions scheduler;
  http::HttpServerOptions http;
  uint64_t max_body_bytes = 16ull << 20;  // JSON request bodies (blob uploads are streamed, unlimited)
  std::string version = "0.12.3";         // the Ollama API version reported by /api/version
  std::vector<std::string> extra_origins;  // OLLAMA_ORIGINS, beyond the local ones always allowed
  std::vector<std::string> local_hostnames;  // Host names accepted on a loopback listener (the machine's name)
  ProgressFn progress;  // blob uploads ("upload", bytes) and creates ("create"), for the console; may be empty
};

class Api;

class Server {
 public:
  static Result<std::unique_ptr<Server>> create(ServerOptions options);
  ~Server();

  // Binds, then serves on background threads. Returns the bound port.
  Result<int> start();
  // Stops accepting, ends connections, stops runners. Idempotent.
  void stop();

  // Kept-alive connections waiting for their next request (what a connection cap reclaims first).
  int idle_connections() const { return http_ ? http_->idle_connections() : 0; }

 private:
  explicit Server(ServerOptions options);
  void handle(http::HttpExchange& ex);

  ServerOptions options_;
  std::unique_ptr<ModelStore> store_;
  std::unique_ptr<engine::Scheduler> scheduler_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<http::HttpServer> http_;
};

// Reads OLLAMA_HOST-style addresses: "host", "host:port", ":port", "scheme://host:port", "[::1]:port".
// Missing parts keep the values passed in.
Status parse_host_port(std::string_view text, std::string& host, int& port);

}  // namespace strata::server
