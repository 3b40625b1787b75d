// server/api.h: the route handlers and the helpers they share: replies in each API's error shape,
// reading a JSON request, resolving a model name, and pumping a job's events to the client.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "chat/chat_prompt.h"
#include "engine/job.h"
#include "engine/scheduler.h"
#include "http/http_server.h"
#include "server/json_util.h"
#include "server/model_store.h"
#include "server/request_options.h"

namespace strata::server {

struct ServerOptions;

struct ResolvedModel {
  ModelEntry entry;
  GgufSummary summary;
  bool has(std::string_view capability) const;
};

class Api {
 public:
  Api(ModelStore& store, engine::Scheduler& scheduler, const ServerOptions& options)
      : store_(store), scheduler_(scheduler), options_(options), templates_(std::make_shared<chat::TemplateCache>()) {}

  // Native API (api_native.cc, api_generate.cc, api_embed.cc, api_manage.cc).
  void version(http::HttpExchange& ex);
  void tags(http::HttpExchange& ex);
  void show(http::HttpExchange& ex);
  void ps(http::HttpExchange& ex);
  void generate(http::HttpExchange& ex);
  void chat(http::HttpExchange& ex);
  void embed(http::HttpExchange& ex);
  void embeddings(http::HttpExchange& ex);
  void pull(http::HttpExchange& ex);
  void push(http::HttpExchange& ex);
  void copy(http::HttpExchange& ex);
  void remove(http::HttpExchange& ex);
  void create(http::HttpExchange& ex);
  void blob(http::HttpExchange& ex);
  void stats(http::HttpExchange& ex);
  // strata's own live page (api_strata.cc): GET /strata, drawn from /api/strata/stats.
  void strata_page(http::HttpExchange& ex);
  Json loaded_models_stats();  // the "models" array of /api/strata/stats

  // OpenAI API (api_openai.cc, api_embed.cc).
  void openai_chat(http::HttpExchange& ex);
  void openai_completions(http::HttpExchange& ex);
  void openai_models(http::HttpExchange& ex);
  void openai_model(http::HttpExchange& ex, std::string_view id);
  void openai_embeddings(http::HttpExchange& ex);
  void openai_responses(http::HttpExchange& ex);  // api_responses.cc

  // Anthropic Messages API (api_messages.cc).
  void anthropic_messages(http::HttpExchange& ex);

  // Shared helpers.
  // The body as JSON (an object, or null for "null"). Empty body: 400 "missing request body".
  Result<Json> read_json(http::HttpExchange& ex);
  // Parses and finds a model: invalid argument "invalid model name", not found "model 'x' not found".
  Result<ResolvedModel> resolve(std::string_view name);

  // How a job ended, from the HTTP thread's point of view.
  enum class Ending { Done, Error, ClientGone };
  struct Drive {
    Ending ending = Ending::Done;
    Status error;  // for Ending::Error
  };
  // Submits the job and pumps its events until it ends. `on_start` runs once, before the first text
  // or the final outcome (where a streaming handler sends its headers); `on_text` gets each piece and
  // returns false if the client cannot take it. An error before on_start ran must be answered by the
  // caller with a normal error reply; after it, in the stream. Queue full: Ending::Error, unavailable.
  Drive drive(http::HttpExchange& ex, const std::string& gguf_path, const std::shared_ptr<engine::Job>& job,
              const std::function<bool()>& on_start, const std::function<bool(std::string_view)>& on_text);

  const ServerOptions& options() const { return options_; }
  const std::shared_ptr<chat::TemplateCache>& templates() const { return templates_; }

 private:
  ModelStore& store_;
  engine::Scheduler& scheduler_;
  const ServerOptions& options_;
  std::shared_ptr<chat::TemplateCache> templates_;  // shared with the prompt builders of queued jobs
};

void reply_json(http::HttpExchange& ex, int status, const Json& body);
// The one mapping from an error's kind to the HTTP status it is answered with.
int http_status(ErrorKind kind);
// {"error":"..."} with application/json, the status from the error's kind.
void reply_error(http::HttpExchange& ex, const Status& error);
void reply_error(http::HttpExchange& ex, ErrorKind kind, std::string_view message);
// {"error":{"message","type","param":null,"code":null}}.
void reply_openai_error(http::HttpExchange& ex, const Status& error);
void reply_openai_error(http::HttpExchange& ex, ErrorKind kind, std::string_view message);
// {"type":"error","error":{"type":"invalid_request_error","message":"..."}} (api_messages.cc).
void reply_anthropic_error(http::HttpExchange& ex, const Status& error);

// Nanoseconds since `t0` as the integer the API wants.
int64_t nanos_since(std::chrono::steady_clock::time_point t0);
int64_t seconds_to_nanos(double seconds);
// "stop" or "length" for a finished generation.
std::string done_reason(engine::StopReason reason);
// Generated tokens, not counting a final end-of-generation token.
int64_t eval_count(const engine::GenerateResult& r);

}  // namespace strata::server
