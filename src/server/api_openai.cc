// server/api_openai.cc: the OpenAI-compatible routes: POST /v1/chat/completions, POST /v1/completions
// (SSE streaming, usage), GET /v1/models and /v1/models/{id}; errors in OpenAI's shape.
#include <cfloat>
#include <cmath>
#include <random>

#include "server/agent_request.h"
#include "server/api.h"
#include "server/generation_request.h"
#include "server/server.h"

namespace strata::server {

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_id(std::string_view prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{}", prefix, rng() % 1'000'000'000);
}

std::string finish_reason(engine::StopReason r) { return done_reason(r); }

Json usage_json(const engine::JobOutcome& o) {
  const int64_t completion = eval_count(o.result);
  return Json{{"prompt_tokens", o.result.n_prompt}, {"completion_tokens", completion},
              {"total_tokens", o.result.n_prompt + completion}};
}

// The top-level sampling fields both OpenAI routes share, applied over the request's options.
Status apply_openai_fields(const Json& req, GenerationRequest& g, bool completions) {
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto v = get_int(req, key);
    if (!v) return Status::invalid_argument(v.status().message());
    if (v.value()) g.options.num_predict = static_cast<int32_t>(std::clamp<int64_t>(*v.value(), -1, INT32_MAX));
  }
  auto temperature = get_number(req, "temperature");
  auto top_p = get_number(req, "top_p");
  auto seed = get_int(req, "seed");
  for (const char* key : {"frequency_penalty", "presence_penalty"}) {
    auto v = get_number(req, key);  // accepted; the sampler has no such penalties (see docs/server.md)
    if (!v) return Status::invalid_argument(v.status().message());
  }
  if (!temperature) return Status::invalid_argument(temperature.status().message());
  if (!top_p) return Status::invalid_argument(top_p.status().message());
  if (!seed) return Status::invalid_argument(seed.status().message());
  for (const auto* v : {&temperature.value(), &top_p.value()})
    if (*v && !(std::fabs(**v) <= FLT_MAX)) return Status::out_of_range("temperature and top_p must be finite floats");
  if (temperature.value()) g.options.sampling.temperature = static_cast<float>(*temperature.value());
  if (top_p.value() && (!completions || *top_p.value() != 0)) g.options.sampling.top_p = static_cast<float>(*top_p.value());
  if (seed.value()) g.options.seed = *seed.value();
  auto stop = get_string_or_list(req, "stop");
  if (!stop) return Status::invalid_argument(stop.status().message());
  if (stop.value()) {
    g.options.stop.clear();
    for (auto& s : *stop.value())
      if (!s.empty()) g.options.stop.push_back(s);
  }
  if (auto it = req.find("logprobs"); it != req.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>()) &&
                                      !(it->is_number() && it->get<double>() == 0))
    return Status::invalid_argument("logprobs are not supported by strata yet");
  return Status::ok();
}

// `reasoning_effort` / `reasoning.effort` → think: "none" turns thinking off, a level turns it on.
Status apply_reasoning(const Json& req, const ResolvedModel& m, AgentRequest& agent) {
  std::optional<std::string> effort;
  if (auto it = req.find("reasoning_effort"); it != req.end() && it->is_string()) effort = it->get<std::string>();
  if (auto it = req.find("reasoning"); it != req.end() && it->is_object() && it->contains("effort") &&
                                       (*it)["effort"].is_string())
    effort = (*it)["effort"].get<std::string>();
  if (!effort) return Status::ok();
  if (*effort == "none") {
    agent.think = false;
    return Status::ok();
  }
  static constexpr std::string_view kLevels[] = {"minimal", "low", "medium", "high", "max", "xhigh", "ultra"};
  if (std::find(std::begin(kLevels), std::end(kLevels), *effort) == std::end(kLevels))
    return Status::invalid_argument(
        fmt::format("invalid reasoning value: '{}' (must be \"none\", \"minimal\", \"low\", "
                    "\"medium\", \"high\", \"max\", \"xhigh\" or \"ultra\")",
                    *effort));
  if (!m.has("thinking"))
    return Status::invalid_argument(fmt::format("\"{}\" does not support thinking", m.entry.name.display()));
  agent.think = true;
  agent.think_level = *effort == "minimal" ? "low" : (*effort == "low" || *effort == "medium") ? *effort : "high";
  return Status::ok();
}

// An assistant message's tool_calls: [{id, type: "function", function: {name, arguments: "<json>"}}].
Result<jinja::Value> openai_tool_calls(const Json& calls, std::vector<std::string>& ids) {
  if (!calls.is_array()) return Status::invalid_argument("Invalid type for 'tool_calls': expected an array.");
  Json out = Json::array();
  for (const auto& c : calls) {
    const Json* f = c.is_object() && c.contains("function") ? &c["function"] : nullptr;
    if (!f || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string())
      return Status::invalid_argument("Missing required parameter: 'tool_calls[].function.name'.");
    Json args = Json::object();
    if (auto a = f->find("arguments"); a != f->end() && a->is_string()) {
      args = Json::parse(a->get<std::string>(), nullptr, /*allow_exceptions=*/false);
      if (args.is_discarded() || !args.is_object())
        return Status::invalid_argument("invalid tool call arguments: expected a JSON object in a string");
    } else if (a != f->end() && a->is_object()) {
      args = *a;
    }
    Json call{{"type", "function"}, {"function", {{"name", (*f)["name"]}, {"arguments", args}}}};
    if (c.contains("id") && c["id"].is_string()) {
      call["id"] = c["id"];
      ids.push_back(c["id"].get<std::string>());
    }
    out.push_back(std::move(call));
  }
  return jinja_from_json(out);
}

// OpenAI messages → chat messages. Text parts are joined; images, audio and tool calls answered 400.
Result<std::vector<chat::ChatMessage>> parse_openai_messages(const Json& req) {
  auto it = req.find("messages");
  if (it == req.end() || it->is_null() || !it->is_array())
    return Status::invalid_argument("invalid type for field \"messages\": expected array");
  if (it->empty()) return Status::invalid_argument("[] is too short - 'messages'");
  std::vector<chat::ChatMessage> out;
  std::vector<std::string> call_ids;  // of the assistant tool calls so far: a tool message answers one
  for (const auto& m : *it) {
    if (!m.is_object()) return Status::invalid_argument("invalid message format");
    auto role = get_string(m, "role");
    if (!role) return Status::invalid_argument(role.status().message());
    chat::ChatMessage msg;
    msg.role = role.value().value_or("user");
    std::transform(msg.role.begin(), msg.role.end(), msg.role.begin(), [](unsigned char c) { return std::tolower(c); });
    if (msg.role == "developer") msg.role = "system";  // newer OpenAI clients send "developer"
    bool has_calls = false;
    if (auto tc = m.find("tool_calls"); tc != m.end() && !tc->is_null()) {
      auto calls = openai_tool_calls(*tc, call_ids);
      if (!calls) return calls.status();
      msg.tool_calls = std::move(calls).value();
      has_calls = true;
    }
    if (auto r = m.find("reasoning"); r != m.end() && r->is_string()) msg.thinking = r->get<std::string>();
    if (msg.role == "tool") {
      auto id = m.find("tool_call_id");
      if (id != m.end() && id->is_string()) msg.tool_call_id = id->get<std::string>();
      if (!msg.tool_call_id.empty() && std::find(call_ids.begin(), call_ids.end(), msg.tool_call_id) == call_ids.end())
        return Status::invalid_argument(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
            "'tool_calls'.");
      if (auto name = m.find("name"); name != m.end() && name->is_string()) msg.tool_name = name->get<std::string>();
    }
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      if (!has_calls) return Status::invalid_argument("invalid message content: null content needs tool_calls");
    } else if (content->is_string()) {
      msg.content = content->get<std::string>();
    } else if (content->is_array()) {
      for (const auto& part : *content) {
        std::string type = part.is_object() ? part.value("type", "") : "";
        if (type == "text" && part.contains("text") && part["text"].is_string()) {
          if (!msg.content.empty()) msg.content += "\n";
          msg.content += part["text"].get<std::string>();
        } else if (type == "image_url") {
          const Json& iu = part.contains("image_url") ? part["image_url"] : Json();
          std::string url = iu.is_string() ? iu.get<std::string>() : (iu.is_object() ? iu.value("url", "") : "");
          if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0)
            return Status::invalid_argument(
                "image URLs are not currently supported, please use base64 encoded data instead");
          return Status::invalid_argument("images are not supported by strata yet");
        } else if (type == "input_audio") {
          return Status::invalid_argument("audio input is not supported by strata yet");
        } else {
          return Status::invalid_argument("invalid message format");
        }
      }
    } else {
      return Status::invalid_argument("invalid message format");
    }
    out.push_back(std::move(msg));
  }
  return out;
}

// SSE framing for both routes: `data: <json>\n\n` lines, an error event, the [DONE] terminator.
class SseStream {
 public:
  explicit SseStream(http::HttpExchange& ex) : ex_(ex) {}
  bool start() {
    started_ = true;
    return ex_.begin_stream(200, "text/event-stream");
  }
  bool send(const Json& j) { return ex_.write("data: " + dump_json(j) + "\n\n"); }
  void done() { ex_.write("data: [DONE]\n\n"); }
  bool started() const { return started_; }

 private:
  http::HttpExchange& ex_;
  bool started_ = false;
};

bool include_usage(const Json& req) {
  auto it = req.find("stream_options");
  return it != req.end() && it->is_object() && it->value("include_usage", false) == true;
}

}  // namespace

void Api::openai_chat(http::HttpExchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  auto body = read_json(ex);
  if (!body) return reply_openai_error(ex, body.status());
  const Json& req = body->is_null() ? Json::object() : *body;
  auto g = parse_generation_request(*this, req, GenerationKind::OpenAIChat);
  if (!g) return reply_openai_error(ex, g.status());
  GenerationRequest& gen = *g;
  if (Status e = apply_openai_fields(req, gen, false); !e.is_ok()) return reply_openai_error(ex, e);
  auto messages = parse_openai_messages(req);
  if (!messages) return reply_openai_error(ex, messages.status());
  if (auto it = req.find("tools"); it != req.end())
    if (Status e = parse_tools(*it, ApiFlavor::OpenAI, gen.agent); !e.is_ok()) return reply_openai_error(ex, e);
  for (auto check : {parse_tool_choice(req, gen.agent), apply_reasoning(req, gen.model, gen.agent),
                     apply_response_format(req, gen)})
    if (!check.is_ok()) return reply_openai_error(ex, check);
  if (Status e = apply_agent(gen); !e.is_ok()) return reply_openai_error(ex, e);

  auto job = make_chat_job(gen, std::move(*messages), t0);
  const std::string id = random_id("chatcmpl-");
  const int64_t created = unix_now();
  auto chunk = [&](Json delta, Json finish) {
    return Json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", gen.request_model},
                {"system_fingerprint", "fp_ollama"},
                {"choices", Json::array({Json{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}})}};
  };
  SseStream sse(ex);
  bool sent_role = false;
  ReplyParser parser(gen.parse);
  size_t n_calls = 0;
  auto send = [&](const chat::ParsedDelta& d) {
    if (!gen.stream || d.empty()) return true;
    Json delta = Json::object();
    if (!sent_role) delta["role"] = "assistant";
    sent_role = true;
    delta["content"] = d.content;
    if (!d.thinking.empty()) delta["reasoning"] = d.thinking;
    if (!d.calls.empty()) {
      Json calls = Json::array();
      for (const auto& c : d.calls) {
        Json call = openai_tool_call(c, new_call_id());
        call["index"] = n_calls++;
        calls.push_back(std::move(call));
      }
      delta["tool_calls"] = std::move(calls);
    }
    return sse.send(chunk(std::move(delta), nullptr));
  };
  auto on_text = [&](std::string_view text) { return send(parser.feed(text)); };
  auto on_start = [&] { return gen.stream ? sse.start() : true; };
  Drive d = drive(ex, gen.model.entry.gguf_path, job, on_start, on_text);
  if (d.ending == Ending::ClientGone) return;
  if (d.ending == Ending::Error) {
    if (!sse.started()) return reply_openai_error(ex, d.error);
    sse.send(Json{
        {"error", {{"message", d.error.message()}, {"type", "api_error"}, {"param", nullptr}, {"code", nullptr}}}});
    return;
  }
  const engine::JobOutcome& o = job->outcome();
  if (!send(parser.finish())) return;
  const chat::ParsedDelta& whole = parser.whole();
  const std::string finish = whole.calls.empty() ? finish_reason(o.result.reason) : "tool_calls";
  if (!gen.stream) {
    Json message{{"role", "assistant"}, {"content", whole.content}};
    if (!whole.thinking.empty()) message["reasoning"] = whole.thinking;
    if (!whole.calls.empty()) {
      Json calls = Json::array();
      for (const auto& c : whole.calls) calls.push_back(openai_tool_call(c, new_call_id()));
      message["tool_calls"] = std::move(calls);
    }
    return reply_json(ex, 200,
                      Json{{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", gen.request_model},
                           {"system_fingerprint", "fp_ollama"},
                           {"choices", Json::array({Json{{"index", 0}, {"message", std::move(message)},
                                                         {"finish_reason", finish}}})},
                           {"usage", usage_json(o)}});
  }
  if (!sent_role) sse.send(chunk(Json{{"role", "assistant"}, {"content", ""}}, nullptr));
  sse.send(chunk(Json::object(), finish));
  if (include_usage(req)) {
    Json u = chunk(Json::object(), nullptr);
    u["choices"] = Json::array();
    u["usage"] = usage_json(o);
    sse.send(u);
  }
  sse.done();
}

void Api::openai_completions(http::HttpExchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  auto body = read_json(ex);
  if (!body) return reply_openai_error(ex, body.status());
  const Json& req = body->is_null() ? Json::object() : *body;
  auto g = parse_generation_request(*this, req, GenerationKind::OpenAICompletion);
  if (!g) return reply_openai_error(ex, g.status());
  GenerationRequest& gen = *g;
  if (Status e = apply_openai_fields(req, gen, true); !e.is_ok()) return reply_openai_error(ex, e);
  // A one-element list is one prompt (LangChain's OpenAI class sends one); several would be several
  // completions, which strata does not batch.
  Json prompt_field = req.value("prompt", Json());
  if (prompt_field.is_array() && prompt_field.size() == 1 && prompt_field[0].is_string()) prompt_field = prompt_field[0];
  else if (prompt_field.is_array() && prompt_field.size() > 1)
    return reply_openai_error(ex, ErrorKind::InvalidArgument,
                              "invalid 'prompt': a list of several prompts is not supported; send one at a time");
  auto prompt = get_string(Json{{"prompt", prompt_field}}, "prompt");
  if (!prompt)
    return reply_openai_error(ex, ErrorKind::InvalidArgument, "invalid type for 'prompt' field: expected a string");
  auto suffix = get_string(req, "suffix");
  if (!suffix) return reply_openai_error(ex, ErrorKind::InvalidArgument, suffix.status().message());
  if (suffix.value() && !suffix.value()->empty())
    return reply_openai_error(ex, ErrorKind::InvalidArgument,
                              gen.model.has("insert")
                                  ? "fill-in-the-middle (\"suffix\") is not supported by strata yet"
                                  : fmt::format("{} does not support insert", gen.model.entry.name.display()));

  GeneratePrompt gp;
  gp.prompt = prompt.value().value_or("");
  gp.system = gen.model.entry.system;
  auto job = make_generate_job(gen, std::move(gp), t0);
  const std::string id = random_id("cmpl-");
  const int64_t created = unix_now();
  auto chunk = [&](std::string_view text, Json finish) {
    return Json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", gen.request_model},
                {"system_fingerprint", "fp_ollama"},
                {"choices", Json::array({Json{{"text", text}, {"index", 0}, {"finish_reason", std::move(finish)}}})}};
  };
  SseStream sse(ex);
  auto on_start = [&] { return gen.stream ? sse.start() : true; };
  auto on_text = [&](std::string_view text) { return gen.stream ? sse.send(chunk(text, nullptr)) : true; };
  Drive d = drive(ex, gen.model.entry.gguf_path, job, on_start, on_text);
  if (d.ending == Ending::ClientGone) return;
  if (d.ending == Ending::Error) {
    if (!sse.started()) return reply_openai_error(ex, d.error);
    sse.send(Json{
        {"error", {{"message", d.error.message()}, {"type", "api_error"}, {"param", nullptr}, {"code", nullptr}}}});
    return;
  }
  const engine::JobOutcome& o = job->outcome();
  if (!gen.stream) {
    Json out = chunk(o.result.text, finish_reason(o.result.reason));
    out["usage"] = usage_json(o);
    return reply_json(ex, 200, out);
  }
  sse.send(chunk("", finish_reason(o.result.reason)));
  if (include_usage(req)) {
    Json u = chunk("", nullptr);
    u["choices"] = Json::array();
    u["usage"] = usage_json(o);
    sse.send(u);
  }
  sse.done();
}

void Api::openai_models(http::HttpExchange& ex) {
  Json data = Json::array();
  for (const auto& e : store_.list()) {
    data.push_back({{"id", e.name.display()},
                    {"object", "model"},
                    {"created", std::chrono::duration_cast<std::chrono::seconds>(e.modified_at.time_since_epoch()).count()},
                    {"owned_by", e.name.space}});
  }
  reply_json(ex, 200, Json{{"object", "list"}, {"data", data}});
}

void Api::openai_model(http::HttpExchange& ex, std::string_view id) {
  auto parsed = parse_model_name(id);
  std::optional<ModelEntry> e = parsed ? store_.find(parsed.value()) : std::nullopt;
  if (!e) return reply_openai_error(ex, ErrorKind::NotFound, fmt::format("model '{}' not found", id));
  reply_json(ex, 200,
             Json{{"id", id},
                  {"object", "model"},
                  {"created", std::chrono::duration_cast<std::chrono::seconds>(e->modified_at.time_since_epoch()).count()},
                  {"owned_by", e->name.space}});
}

}  // namespace strata::server
