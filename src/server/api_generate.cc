// server/api_generate.cc: POST /api/generate and POST /api/chat: request validation, prompt builders,
// load/unload requests, and NDJSON streaming (or one JSON object) of the runner's text.
#include <algorithm>

#include "server/api.h"
#include "chat/chat_prompt.h"
#include "server/generation_request.h"
#include "server/server.h"

namespace strata::server {

namespace {

Json metrics_json(const engine::JobOutcome& o, int64_t total_ns) {
  return Json{{"total_duration", total_ns},
              {"load_duration", seconds_to_nanos(o.load_seconds)},
              {"prompt_eval_count", o.result.n_prompt},
              {"prompt_eval_duration", seconds_to_nanos(o.result.prompt_seconds)},
              {"eval_count", eval_count(o.result)},
              {"eval_duration", seconds_to_nanos(o.result.generate_seconds)}};
}

std::string now_utc() { return rfc3339_utc(std::chrono::system_clock::now()); }

// The body of one native streaming response: NDJSON lines, or one object when !stream. The model's text
// goes through `parser` (content, thinking, tool calls); `chunk` makes the done:false line of a delta.
struct NativeReply {
  using Chunk = std::function<Json(const chat::ParsedDelta& delta)>;
  using Final = std::function<Json(const engine::JobOutcome& outcome, const chat::ParsedDelta* whole)>;
  Chunk chunk;  // a done:false object holding a delta
  Final final;  // the done:true object (whole: the whole answer when not streaming, else null)
};

void run_native(Api& api, http::HttpExchange& ex, const std::string& gguf, const std::shared_ptr<engine::Job>& job, bool stream,
                const NativeReply& reply, ReplyParser& parser) {
  bool streaming = false;
  auto on_start = [&] {
    if (!stream) return true;
    streaming = true;
    return ex.begin_stream(200, "application/x-ndjson");
  };
  auto send = [&](const chat::ParsedDelta& d) {
    if (!stream || d.empty()) return true;
    return ex.write(dump_json(reply.chunk(d)) + "\n");
  };
  auto on_text = [&](std::string_view text) { return send(parser.feed(text)); };
  Api::Drive d = api.drive(ex, gguf, job, on_start, on_text);
  if (d.ending == Api::Ending::ClientGone) return;
  if (d.ending == Api::Ending::Error) {
    // Before the first line: a real status. After it: one more line with the error (status stays 200).
    if (streaming) ex.write(dump_json(Json{{"error", d.error.message()}}) + "\n");
    else reply_error(ex, d.error);
    return;
  }
  const engine::JobOutcome& o = job->outcome();
  if (!send(parser.finish())) return;
  if (stream) ex.write(dump_json(reply.final(o, nullptr)) + "\n");
  else reply_json(ex, 200, reply.final(o, &parser.whole()));
}

// prompt "" / messages []: load (or unload with keep_alive 0), answered with one object even when streaming.
void run_load(Api& api, http::HttpExchange& ex, const GenerationRequest& g, bool chat) {
  auto job = std::make_shared<engine::Job>();
  job->kind = engine::Job::Kind::Load;
  job->model_name = g.model.entry.name.display();
  job->options = g.options;
  job->keep_alive = g.keep_alive;
  Api::Drive d = api.drive(ex, g.model.entry.gguf_path, job, [] { return true; }, [](std::string_view) { return true; });
  if (d.ending == Api::Ending::ClientGone) return;
  if (d.ending == Api::Ending::Error) return reply_error(ex, d.error);
  Json out{{"model", g.request_model}, {"created_at", now_utc()}};
  if (chat) out["message"] = {{"role", "assistant"}, {"content", ""}};
  else out["response"] = "";
  out["done"] = true;
  out["done_reason"] = job->outcome().unloaded ? "unload" : "load";
  reply_json(ex, 200, out);
}

}  // namespace

void Api::generate(http::HttpExchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  auto body = read_json(ex);
  if (!body) return reply_error(ex, body.status());
  const Json& req = *body;
  auto g = parse_generation_request(*this, req, GenerationKind::Generate);
  if (!g) return reply_error(ex, g.status());
  GenerationRequest& gen = *g;

  auto prompt = get_string(req, "prompt");
  auto system = get_string(req, "system");
  auto raw = get_bool(req, "raw");
  auto suffix = get_string(req, "suffix");
  auto tmpl = get_string(req, "template");
  for (const Status* s : {&prompt.status(), &system.status(), &raw.status(), &suffix.status(), &tmpl.status()})
    if (!s->is_ok()) return reply_error(ex, ErrorKind::InvalidArgument, s->message());
  std::vector<int32_t> context;
  if (auto it = req.find("context"); it != req.end() && !it->is_null()) {
    if (!it->is_array())
      return reply_error(ex, ErrorKind::InvalidArgument,
                         "invalid type for field \"context\": expected array of integers");
    for (const auto& t : *it) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
        return reply_error(ex, ErrorKind::InvalidArgument,
                           "invalid type for field \"context\": expected array of token ids");
      context.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
  }
  const bool is_raw = raw.value().value_or(false);
  if (is_raw && (tmpl.value() || system.value() || !context.empty()))
    return reply_error(ex, ErrorKind::InvalidArgument, "raw mode does not support template, system, or context");
  if (tmpl.value() && !tmpl.value()->empty())
    return reply_error(ex, ErrorKind::InvalidArgument,
                       "the \"template\" field (a Go template) is not supported by strata; the model's "
                       "chat template is used, or send \"raw\": true with a rendered prompt");
  if (suffix.value() && !suffix.value()->empty()) {
    if (!gen.model.has("insert"))
      return reply_error(ex, ErrorKind::InvalidArgument,
                         fmt::format("{} does not support insert", gen.model.entry.name.display()));
    return reply_error(ex, ErrorKind::InvalidArgument,
                       "fill-in-the-middle (\"suffix\") is not supported by strata yet");
  }
  std::string prompt_text = prompt.value().value_or("");
  if (prompt_text.empty() && context.empty()) return run_load(*this, ex, gen, /*chat=*/false);

  GeneratePrompt gp;
  gp.prompt = prompt_text;
  gp.system = system.value() ? system.value() : gen.model.entry.system;
  gp.raw = is_raw;
  gp.context = std::move(context);
  if (Status e = apply_agent(gen); !e.is_ok()) return reply_error(ex, e);
  if (is_raw) gen.parse = chat::ParserOptions{};  // a raw prompt's output is the model's text as is
  auto job = make_generate_job(gen, std::move(gp), t0);

  const bool stream = gen.stream;
  NativeReply reply;
  reply.chunk = [&](const chat::ParsedDelta& d) {
    Json out{{"model", gen.request_model}, {"created_at", now_utc()}, {"response", d.content}};
    if (!d.thinking.empty()) out["thinking"] = d.thinking;
    out["done"] = false;
    return out;
  };
  reply.final = [&](const engine::JobOutcome& o, const chat::ParsedDelta* whole) {
    Json out{{"model", gen.request_model}, {"created_at", now_utc()}, {"response", whole ? whole->content : ""}};
    if (whole && !whole->thinking.empty()) out["thinking"] = whole->thinking;
    out["done"] = true;
    out["done_reason"] = done_reason(o.result.reason);
    // Prompt + answer, so a client can continue; left out for raw prompts and when it would make the
    // line longer than line-reading clients take (about 64 KiB).
    if (!is_raw && o.prompt.size() + o.result.tokens.size() <= kMaxContextTokensInReply) {
      std::vector<int32_t> ctx = o.prompt;
      ctx.insert(ctx.end(), o.result.tokens.begin(), o.result.tokens.end());
      out["context"] = ctx;
    }
    out.update(metrics_json(o, nanos_since(t0)));
    return out;
  };
  ReplyParser parser(gen.parse);
  run_native(*this, ex, gen.model.entry.gguf_path, job, stream, reply, parser);
}

void Api::chat(http::HttpExchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  auto body = read_json(ex);
  if (!body) return reply_error(ex, body.status());
  const Json& req = *body;
  auto g = parse_generation_request(*this, req, GenerationKind::Chat);
  if (!g) return reply_error(ex, g.status());
  GenerationRequest& gen = *g;
  auto messages = parse_native_messages(req);
  if (!messages) return reply_error(ex, messages.status());
  if (auto it = req.find("tools"); it != req.end())
    if (Status e = parse_tools(*it, ApiFlavor::Ollama, gen.agent); !e.is_ok()) return reply_error(ex, e);
  if (Status e = parse_tool_choice(req, gen.agent); !e.is_ok()) return reply_error(ex, e);
  if (Status e = apply_agent(gen); !e.is_ok()) return reply_error(ex, e);
  if (messages->empty()) return run_load(*this, ex, gen, /*chat=*/true);

  auto job = make_chat_job(gen, std::move(*messages), t0);
  size_t n_calls = 0;
  auto message = [&](const chat::ParsedDelta& d) {
    Json m{{"role", "assistant"}, {"content", d.content}};
    if (!d.thinking.empty()) m["thinking"] = d.thinking;
    if (!d.calls.empty()) {
      Json calls = Json::array();
      for (const auto& c : d.calls) calls.push_back(ollama_tool_call(c, n_calls++));
      m["tool_calls"] = std::move(calls);
    }
    return m;
  };
  NativeReply reply;
  reply.chunk = [&](const chat::ParsedDelta& d) {
    return Json{{"model", gen.request_model}, {"created_at", now_utc()}, {"message", message(d)}, {"done", false}};
  };
  reply.final = [&](const engine::JobOutcome& o, const chat::ParsedDelta* whole) {
    Json out{{"model", gen.request_model},
             {"created_at", now_utc()},
             {"message", whole ? message(*whole) : Json{{"role", "assistant"}, {"content", ""}}},
             {"done", true},
             {"done_reason", done_reason(o.result.reason)}};
    out.update(metrics_json(o, nanos_since(t0)));
    return out;
  };
  ReplyParser parser(gen.parse);
  run_native(*this, ex, gen.model.entry.gguf_path, job, gen.stream, reply, parser);
}

}  // namespace strata::server
