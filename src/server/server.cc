// server/server.cc: construction, the routing table (404 unknown paths, 405 wrong methods), the cross-site
// guard (request_guard.h), and OLLAMA_HOST-style address parsing.
#include "server/server.h"

#include <charconv>

#include "core/log.h"
#include "server/api.h"
#include "http/request_guard.h"

namespace strata::server {

namespace {

constexpr std::string_view kAllowedHeaders =
    "Authorization, Content-Type, User-Agent, Accept, X-Requested-With, OpenAI-Beta, x-stainless-arch, "
    "x-stainless-async, x-stainless-custom-poll-interval, x-stainless-helper-method, x-stainless-lang, x-stainless-os, "
    "x-stainless-package-version, x-stainless-poll-helper, x-stainless-retry-count, x-stainless-runtime, "
    "x-stainless-runtime-version, x-stainless-timeout";

}  // namespace

Status parse_host_port(std::string_view text, std::string& host, int& port) {
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '"')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '"')) s.remove_suffix(1);
  if (size_t scheme = s.find("://"); scheme != std::string_view::npos) s.remove_prefix(scheme + 3);
  if (size_t slash = s.find('/'); slash != std::string_view::npos) s = s.substr(0, slash);
  if (s.empty()) return Status::ok();
  std::string_view h = s, p;
  if (s.front() == '[') {  // [v6]:port
    size_t close = s.find(']');
    if (close == std::string_view::npos) return error("invalid host \"{}\"", text);
    h = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') return error("invalid host \"{}\"", text);
      p = s.substr(close + 2);
    }
  } else if (size_t colon = s.rfind(':'); colon != std::string_view::npos && s.find(':') == colon) {
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
  }
  if (!h.empty()) host = std::string(h);
  if (!p.empty()) {
    int v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || end != p.data() + p.size() || v < 0 || v > 65535)
      return error("invalid port \"{}\" in \"{}\"", p, text);
    port = v;
  }
  return Status::ok();
}

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  std::unique_ptr<Server> s(new Server(std::move(options)));
  s->store_ = std::make_unique<ModelStore>(s->options_.store);
  STRATA_RETURN_IF_ERROR(s->store_->init());
  s->scheduler_ = std::make_unique<engine::Scheduler>(s->options_.scheduler);
  s->api_ = std::make_unique<Api>(*s->store_, *s->scheduler_, s->options_);
  s->http_ = std::make_unique<http::HttpServer>(s->options_.http, [srv = s.get()](http::HttpExchange& ex) { srv->handle(ex); });
  return s;
}

Result<int> Server::start() {
  STRATA_ASSIGN_OR_RETURN(int port, http_->listen(options_.host, options_.port));
  http_->start();
  return port;
}

void Server::stop() {
  if (http_) http_->stop();        // first: no new requests; open ones see their peer gone and cancel
  if (scheduler_) scheduler_.reset();  // then: runners drain, unload and join
}

void Server::handle(http::HttpExchange& ex) {
  const std::string& method = ex.method();
  const std::string& path = ex.path();
  log(LogLevel::Debug, "strata serve: {} {}", method, ex.head().target);
  // Cross-site requests are refused before any route runs (a page on another site must not create,
  // delete or run anything), and on a loopback listener so are foreign Host names (DNS rebinding).
  const std::string* host = ex.head().header("host");
  const std::string_view host_text = host ? std::string_view(*host) : std::string_view();
  if (const std::string* origin = ex.head().header("origin")) {
    if (!http::origin_allowed(*origin, host_text, options_.extra_origins)) {
      log(LogLevel::Info, "strata serve: {} {}: origin \"{}\" refused", method, path, *origin);
      return reply_json(ex, 403, Json{{"error", "origin not allowed"}});  // a transport refusal, no error kind
    }
    ex.add_header("Access-Control-Allow-Origin", *origin);
    ex.add_header("Vary", "Origin");
  }
  if (http::is_loopback_host(options_.host) && !http::host_allowed(host_text, options_.host, options_.local_hostnames)) {
    log(LogLevel::Info, "strata serve: {} {}: host \"{}\" refused", method, path, host_text);
    return reply_json(ex, 403, Json{{"error", "host not allowed"}});
  }
  if (method == "OPTIONS") {
    ex.add_header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
    ex.add_header("Access-Control-Allow-Headers", std::string(kAllowedHeaders));
    ex.add_header("Access-Control-Max-Age", "43200");
    return ex.respond(204, "", "");
  }

  using Handler = void (Api::*)(http::HttpExchange&);
  struct Route {
    std::string_view path;
    std::string_view method;  // GET routes also answer HEAD
    Handler handler;
  };
  static const Route kRoutes[] = {
      {"/api/version", "GET", &Api::version},        {"/api/tags", "GET", &Api::tags},
      {"/api/ps", "GET", &Api::ps},                  {"/api/show", "POST", &Api::show},
      {"/api/generate", "POST", &Api::generate},     {"/api/chat", "POST", &Api::chat},
      {"/api/embed", "POST", &Api::embed},           {"/api/embeddings", "POST", &Api::embeddings},
      {"/api/pull", "POST", &Api::pull},             {"/api/push", "POST", &Api::push},
      {"/api/copy", "POST", &Api::copy},             {"/api/delete", "DELETE", &Api::remove},
      {"/api/create", "POST", &Api::create},         {"/api/strata/stats", "GET", &Api::stats},
      {"/v1/chat/completions", "POST", &Api::openai_chat},
      {"/v1/completions", "POST", &Api::openai_completions},
      {"/v1/embeddings", "POST", &Api::openai_embeddings},
      {"/v1/models", "GET", &Api::openai_models},
      {"/v1/responses", "POST", &Api::openai_responses},
      {"/v1/messages", "POST", &Api::anthropic_messages},
      {"/strata", "GET", &Api::strata_page},
  };
  try {
    if (path == "/") {
      if (method != "GET" && method != "HEAD") return ex.respond(405, "text/plain", "405 method not allowed");
      return ex.respond(200, "text/plain; charset=utf-8", "Ollama is running");
    }
    for (const auto& r : kRoutes) {
      if (path != r.path) continue;
      if (method == r.method || (r.method == "GET" && method == "HEAD")) return (api_.get()->*r.handler)(ex);
      return ex.respond(405, "text/plain", "405 method not allowed");
    }
    if (path.rfind("/api/blobs/", 0) == 0) {
      if (method == "HEAD" || method == "POST") return api_->blob(ex);
      return ex.respond(405, "text/plain", "405 method not allowed");
    }
    if (path.rfind("/v1/models/", 0) == 0 && path.size() > 11) {
      if (method == "GET" || method == "HEAD") return api_->openai_model(ex, std::string_view(path).substr(11));
      return ex.respond(405, "text/plain", "405 method not allowed");
    }
    ex.respond(404, "text/plain", "404 page not found");
  } catch (const std::exception& e) {
    // A handler bug must cost one request, not the server.
    log(LogLevel::Error, "strata serve: {} {}: internal error: {}", method, path, e.what());
    if (!ex.responded()) reply_error(ex, ErrorKind::Internal, std::string("internal error: ") + e.what());
  }
}

}  // namespace strata::server
