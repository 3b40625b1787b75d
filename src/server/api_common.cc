// server/api_common.cc: replies in both error shapes, request reading, model resolution, and the event
// pump that streams a job's text and notices a client that went away.
#include "server/api.h"

#include <algorithm>
#include <cmath>

#include "server/server.h"

namespace strata::server {

namespace {

// How often a waiting handler checks that its client is still there: often while its job runs (each
// token it would waste costs the queue), rarely while it waits in the queue (hundreds may wait).
constexpr auto kPollRunning = std::chrono::milliseconds(25);
constexpr auto kPollQueued = std::chrono::milliseconds(200);

}  // namespace

bool ResolvedModel::has(std::string_view capability) const {
  return std::find(summary.capabilities.begin(), summary.capabilities.end(), capability) != summary.capabilities.end();
}

void reply_json(http::HttpExchange& ex, int status, const Json& body) {
  ex.respond(status, "application/json; charset=utf-8", dump_json(body));
}

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument:
    case ErrorKind::OutOfRange:
    case ErrorKind::Corruption: return 400;  // the server meets corrupt bytes only in what a client sent
    case ErrorKind::NotFound: return 404;
    case ErrorKind::ResourceExhausted: return 413;  // the request asks for more than the server can hold
    case ErrorKind::Cancelled: return 499;          // nginx's "client closed request"; nobody reads it
    case ErrorKind::Unavailable: return 503;
    case ErrorKind::Io:
    case ErrorKind::Internal: return 500;
  }
  return 500;
}

void reply_error(http::HttpExchange& ex, ErrorKind kind, std::string_view message) {
  reply_json(ex, http_status(kind), Json{{"error", message.empty() ? std::string_view("unknown error") : message}});
}

void reply_error(http::HttpExchange& ex, const Status& error) { reply_error(ex, error.kind(), error.message()); }

void reply_openai_error(http::HttpExchange& ex, ErrorKind kind, std::string_view message) {
  const int status = http_status(kind);
  const char* type = status == 400 ? "invalid_request_error" : status == 404 ? "not_found_error" : "api_error";
  reply_json(ex, status, Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}});
}

void reply_openai_error(http::HttpExchange& ex, const Status& error) {
  reply_openai_error(ex, error.kind(), error.message());
}

int64_t nanos_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}

int64_t seconds_to_nanos(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1e9)); }

std::string done_reason(engine::StopReason reason) {
  switch (reason) {
    case engine::StopReason::Length:
    case engine::StopReason::ContextFull: return "length";
    default: return "stop";
  }
}

int64_t eval_count(const engine::GenerateResult& r) {
  int64_t n = static_cast<int64_t>(r.tokens.size());
  if (r.reason == engine::StopReason::Eos && n > 0) --n;
  return n;
}

Result<Json> Api::read_json(http::HttpExchange& ex) {
  int status = 400;
  auto body = ex.read_body(options_.max_body_bytes, status);
  // The transport names a status for its own refusals: 413 for a body over the limit, else 400.
  if (!body)
    return status == 413 ? Status::resource_exhausted(body.status().message())
                         : Status::invalid_argument(body.status().message());
  std::string_view text = body.value();
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return Status::invalid_argument("missing request body");
  auto j = parse_json_body(text);
  if (!j) return Status::invalid_argument(j.status().message());
  if (!j.value().is_object() && !j.value().is_null())
    return Status::invalid_argument(
        fmt::format("invalid request: expected a JSON object, got {}", json_type_name(j.value())));
  return std::move(j).value();
}

Result<ResolvedModel> Api::resolve(std::string_view name) {
  auto parsed = parse_model_name(name);
  if (!parsed) return Status::invalid_argument("invalid model name");
  auto entry = store_.find(parsed.value());
  if (!entry) return Status::not_found(fmt::format("model '{}' not found", name));
  auto summary = store_.summary(*entry);
  if (!summary) return Status::internal(summary.status().message());
  return ResolvedModel{std::move(*entry), std::move(summary).value()};
}

Api::Drive Api::drive(http::HttpExchange& ex, const std::string& gguf_path, const std::shared_ptr<engine::Job>& job,
                      const std::function<bool()>& on_start, const std::function<bool(std::string_view)>& on_text) {
  Drive d;
  if (!scheduler_.submit(gguf_path, job)) {
    d.ending = Ending::Error;
    d.error = Status::unavailable("server busy, please try again.  maximum pending requests exceeded");
    return d;
  }
  bool started = false;
  auto start = [&] {
    if (started) return true;
    started = true;
    return on_start();
  };
  while (true) {
    auto e = job->next_event(job->started() ? kPollRunning : kPollQueued);
    if (!e) {
      if (ex.peer_closed()) {
        // Gone: the runner stops at its next token or skips the job; nobody waits for it.
        job->cancel();
        d.ending = Ending::ClientGone;
        return d;
      }
      continue;
    }
    switch (e->kind) {
      case engine::JobEvent::Kind::Text:
        if (!start() || !on_text(e->text)) {
          job->cancel();
          d.ending = Ending::ClientGone;
          return d;
        }
        break;
      case engine::JobEvent::Kind::Done:
        if (!start()) {
          d.ending = Ending::ClientGone;
          return d;
        }
        d.ending = Ending::Done;
        return d;
      case engine::JobEvent::Kind::Error:
        d.ending = Ending::Error;
        d.error = std::move(e->error);
        return d;
    }
  }
}

}  // namespace strata::server
