// server/api_messages.cc: POST /v1/messages, Anthropic's Messages API mapped onto the chat path as
// Ollama maps it: system text, content blocks (text, tool_use, tool_result, thinking), tools and
// tool_choice, thinking, and the streamed events (message_start, content_block_start/delta/stop,
// message_delta, message_stop); errors in Anthropic's shape.
#include <random>

#include "server/agent_request.h"
#include "server/api.h"
#include "server/generation_request.h"
#include "server/server.h"

namespace strata::server {

namespace {

std::string anthropic_id(std::string_view prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string id(prefix);
  for (int i = 0; i < 24; ++i) id += kChars[rng() % (sizeof(kChars) - 1)];
  return id;
}

std::string_view error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return "api_error";
  }
}

Json error_body(const Status& e) {
  return Json{{"type", "error"}, {"error", {{"type", error_type(http_status(e.kind()))}, {"message", e.message()}}}};
}

// A block's text: a string, or a list of text blocks joined.
Result<std::string> block_text(const Json& content, std::string_view where) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return std::string();
  if (!content.is_array()) return Status::invalid_argument(fmt::format("{}: expected a string or a list of blocks", where));
  std::string out;
  for (const auto& b : content) {
    if (b.is_object() && str_of(b, "type", "") == "text" && b.contains("text") && b["text"].is_string()) {
      if (!out.empty()) out += "\n";
      out += b["text"].get<std::string>();
    } else if (b.is_object() && str_of(b, "type", "") == "image") {
      return Status::invalid_argument("images are not supported by strata yet");
    }
  }
  return out;
}

// Anthropic messages → chat messages (tool results become tool messages after the user's text).
Result<std::vector<chat::ChatMessage>> parse_messages(const Json& req) {
  std::vector<chat::ChatMessage> out;
  if (auto sys = req.find("system"); sys != req.end() && !sys->is_null()) {
    STRATA_ASSIGN_OR_RETURN(std::string text, block_text(*sys, "system"));
    if (!text.empty()) out.push_back(chat::ChatMessage{"system", std::move(text)});
  }
  auto it = req.find("messages");
  if (it == req.end() || !it->is_array()) return Status::invalid_argument("messages: Field required");
  std::vector<std::string> open_calls;  // tool_use ids of the previous assistant message
  std::map<std::string, std::string> call_names;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& m = (*it)[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      return Status::invalid_argument(fmt::format("messages.{}.role: Field required", i));
    const std::string role = m["role"].get<std::string>();
    if (role != "user" && role != "assistant")
      return Status::invalid_argument(
          fmt::format("messages.{}.role: Input should be 'user' or 'assistant'", i));
    const Json content = m.value("content", Json());
    chat::ChatMessage msg;
    msg.role = role;
    std::vector<chat::ChatMessage> results;
    Json calls = Json::array();
    std::vector<std::string> ids;
    if (content.is_string()) {
      msg.content = content.get<std::string>();
    } else if (content.is_array()) {
      for (size_t j = 0; j < content.size(); ++j) {
        const Json& b = content[j];
        const std::string type = b.is_object() ? str_of(b, "type", "") : "";
        const std::string where = fmt::format("messages.{}.content.{}", i, j);
        if (type == "text") {
          if (!msg.content.empty()) msg.content += "\n";
          msg.content += str_of(b, "text", "");
        } else if (type == "thinking" && role == "assistant") {
          msg.thinking += str_of(b, "thinking", "");
        } else if (type == "redacted_thinking") {
          continue;
        } else if (type == "tool_use" && role == "assistant") {
          if (!b.contains("name") || !b["name"].is_string())
            return Status::invalid_argument(where + ".name: Field required");
          const std::string id = str_of(b, "id", "");
          Json input = b.value("input", Json::object());
          if (!input.is_object()) return Status::invalid_argument(where + ".input: Input should be an object");
          calls.push_back(Json{{"id", id}, {"type", "function"},
                               {"function", {{"name", b["name"]}, {"arguments", input}}}});
          ids.push_back(id);
          call_names[id] = b["name"].get<std::string>();
        } else if (type == "tool_result" && role == "user") {
          const std::string id = str_of(b, "tool_use_id", "");
          if (std::find(open_calls.begin(), open_calls.end(), id) == open_calls.end())
            return Status::invalid_argument(fmt::format(
                "{}: unexpected `tool_use_id` found in `tool_result` blocks: {}. Each `tool_result` block must have "
                "a corresponding `tool_use` block in the previous message.",
                where, id));
          STRATA_ASSIGN_OR_RETURN(std::string text, block_text(b.value("content", Json()), where + ".content"));
          chat::ChatMessage r;
          r.role = "tool";
          r.content = std::move(text);
          r.tool_call_id = id;
          r.tool_name = call_names[id];
          results.push_back(std::move(r));
        } else if (type == "image") {
          return Status::invalid_argument("images are not supported by strata yet");
        } else {
          return Status::invalid_argument(fmt::format("{}.type: unexpected block type '{}'", where, type));
        }
      }
    } else {
      return Status::invalid_argument(fmt::format("messages.{}.content: Field required", i));
    }
    open_calls = role == "assistant" ? ids : std::vector<std::string>{};
    if (!calls.empty()) msg.tool_calls = jinja_from_json(calls);
    for (auto& r : results) out.push_back(std::move(r));
    if (!msg.content.empty() || !msg.thinking.empty() || !calls.empty() || results.empty())
      out.push_back(std::move(msg));
  }
  if (out.empty() || (out.size() == 1 && out[0].role == "system"))
    return Status::invalid_argument("messages: at least one message is required");
  return out;
}

// tools [{name, description, input_schema}] and tool_choice {type: auto | any | tool | none}.
Status parse_anthropic_tools(const Json& req, AgentRequest& a) {
  if (auto it = req.find("tools"); it != req.end() && !it->is_null()) {
    if (!it->is_array()) return Status::invalid_argument("tools: Input should be a valid list");
    Json tools = Json::array();
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& t = (*it)[i];
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
        return Status::invalid_argument(fmt::format("tools.{}.name: Field required", i));
      if (t.contains("type") && t["type"] != "custom" && !t["type"].is_null())
        return Status::invalid_argument(fmt::format("tools.{}: server tools ({}) are not supported", i, dump_json(t["type"])));
      Json schema = t.value("input_schema", Json());
      if (!schema.is_object()) return Status::invalid_argument(fmt::format("tools.{}.input_schema: Field required", i));
      tools.push_back(Json{{"type", "function"},
                           {"function", {{"name", t["name"]}, {"description", str_of(t, "description", "")},
                                         {"parameters", schema}}}});
    }
    STRATA_RETURN_IF_ERROR(parse_tools(tools, ApiFlavor::Anthropic, a));
  }
  if (auto it = req.find("tool_choice"); it != req.end() && it->is_object()) {
    const std::string type = str_of(*it, "type", "");
    if (type == "auto") a.choice = ToolChoice::Auto;
    else if (type == "any") a.choice = ToolChoice::Required;
    else if (type == "none") a.choice = ToolChoice::None;
    else if (type == "tool" && it->contains("name") && (*it)["name"].is_string()) {
      a.choice = ToolChoice::Named;
      a.named_tool = (*it)["name"].get<std::string>();
    } else {
      return Status::invalid_argument("tool_choice: expected {\"type\": \"auto\" | \"any\" | \"tool\" | \"none\"}");
    }
  }
  return Status::ok();
}

Status parse_sampling(const Json& req, GenerationRequest& g) {
  auto max_tokens = get_int(req, "max_tokens");
  if (!max_tokens) return Status::invalid_argument(max_tokens.status().message());
  if (!max_tokens.value()) return Status::invalid_argument("max_tokens: Field required");
  if (*max_tokens.value() < 1) return Status::invalid_argument("max_tokens: Input should be greater than or equal to 1");
  g.options.num_predict = static_cast<int32_t>(std::min<int64_t>(*max_tokens.value(), INT32_MAX));
  for (const char* key : {"temperature", "top_p"}) {
    auto v = get_number(req, key);
    if (!v) return Status::invalid_argument(v.status().message());
    if (v.value()) (std::string_view(key) == "top_p" ? g.options.sampling.top_p : g.options.sampling.temperature) =
        static_cast<float>(*v.value());
  }
  auto top_k = get_int(req, "top_k");
  if (!top_k) return Status::invalid_argument(top_k.status().message());
  if (top_k.value()) g.options.sampling.top_k = static_cast<int32_t>(*top_k.value());
  auto stop = get_string_or_list(req, "stop_sequences");
  if (!stop) return Status::invalid_argument(stop.status().message());
  if (stop.value()) g.options.stop = *stop.value();
  if (auto t = req.find("thinking"); t != req.end() && t->is_object()) {
    const std::string type = str_of(*t, "type", "");
    if (type == "enabled" || type == "adaptive") g.agent.think = true;
    else if (type == "disabled") g.agent.think = false;
    else return Status::invalid_argument("thinking.type: Input should be 'enabled' or 'disabled'");
  }
  return Status::ok();
}

std::string stop_reason(const engine::JobOutcome& o, bool calls) {
  if (calls) return "tool_use";
  switch (o.result.reason) {
    case engine::StopReason::Length:
    case engine::StopReason::ContextFull: return "max_tokens";
    case engine::StopReason::StopString: return "stop_sequence";
    default: return "end_turn";
  }
}

Json tool_use_block(const chat::ToolCall& c) {
  return Json{{"type", "tool_use"}, {"id", anthropic_id("toolu_")}, {"name", c.name},
              {"input", Json::parse(c.arguments)}};
}

// The streamed events: one open content block at a time, switched as the delta's kind changes.
class MessageStream {
 public:
  explicit MessageStream(http::HttpExchange& ex) : ex_(ex) {}
  bool event(std::string_view name, const Json& data) {
    return ex_.write(fmt::format("event: {}\ndata: {}\n\n", name, dump_json(data)));
  }
  bool delta(const chat::ParsedDelta& d) {
    if (!d.thinking.empty()) {
      if (!open("thinking", Json{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}})) return false;
      if (!event("content_block_delta", Json{{"type", "content_block_delta"}, {"index", index_},
                                              {"delta", {{"type", "thinking_delta"}, {"thinking", d.thinking}}}}))
        return false;
    }
    if (!d.content.empty()) {
      if (!open("text", Json{{"type", "text"}, {"text", ""}})) return false;
      if (!event("content_block_delta", Json{{"type", "content_block_delta"}, {"index", index_},
                                              {"delta", {{"type", "text_delta"}, {"text", d.content}}}}))
        return false;
    }
    for (const auto& c : d.calls) {
      Json block = tool_use_block(c);
      block["input"] = Json::object();
      if (!open("tool_use", block, /*always_new=*/true)) return false;
      if (!event("content_block_delta", Json{{"type", "content_block_delta"}, {"index", index_},
                                              {"delta", {{"type", "input_json_delta"}, {"partial_json", c.arguments}}}}))
        return false;
      if (!close()) return false;
    }
    return true;
  }
  bool close() {
    if (kind_.empty()) return true;
    kind_.clear();
    return event("content_block_stop", Json{{"type", "content_block_stop"}, {"index", index_}});
  }

 private:
  bool open(std::string_view kind, const Json& block, bool always_new = false) {
    if (kind_ == kind && !always_new) return true;
    if (!close()) return false;
    ++index_;
    kind_ = kind;
    return event("content_block_start", Json{{"type", "content_block_start"}, {"index", index_}, {"content_block", block}});
  }
  http::HttpExchange& ex_;
  std::string kind_;  // the open block's type, "" when none
  int index_ = -1;
};

}  // namespace

void reply_anthropic_error(http::HttpExchange& ex, const Status& error) {
  reply_json(ex, http_status(error.kind()), error_body(error));
}

void Api::anthropic_messages(http::HttpExchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  auto body = read_json(ex);
  if (!body) return reply_anthropic_error(ex, body.status());
  const Json& req = body->is_null() ? Json::object() : *body;
  auto g = parse_generation_request(*this, req, GenerationKind::OpenAIChat);
  if (!g) return reply_anthropic_error(ex, g.status());
  GenerationRequest& gen = *g;
  auto messages = parse_messages(req);
  if (!messages) return reply_anthropic_error(ex, messages.status());
  for (auto check : {parse_sampling(req, gen), parse_anthropic_tools(req, gen.agent)})
    if (!check.is_ok()) return reply_anthropic_error(ex, check);
  if (Status e = apply_agent(gen); !e.is_ok()) return reply_anthropic_error(ex, e);

  auto job = make_chat_job(gen, std::move(*messages), t0);
  const std::string id = anthropic_id("msg_");
  ReplyParser parser(gen.parse);
  MessageStream stream(ex);
  auto on_start = [&] {
    if (!gen.stream) return true;
    if (!ex.begin_stream(200, "text/event-stream")) return false;
    return stream.event("message_start",
                        Json{{"type", "message_start"},
                             {"message", {{"id", id}, {"type", "message"}, {"role", "assistant"},
                                          {"model", gen.request_model}, {"content", Json::array()},
                                          {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                                          {"usage", {{"input_tokens", 0}, {"output_tokens", 0}}}}}});
  };
  auto on_text = [&](std::string_view text) {
    auto d = parser.feed(text);
    return !gen.stream || stream.delta(d);
  };
  bool started = false;
  Drive d = drive(ex, gen.model.entry.gguf_path, job, [&] { return started = on_start(); }, on_text);
  if (d.ending == Ending::ClientGone) return;
  if (d.ending == Ending::Error) {
    if (!gen.stream || !started) return reply_anthropic_error(ex, d.error);
    stream.event("error", error_body(d.error));
    return;
  }
  const engine::JobOutcome& o = job->outcome();
  auto last = parser.finish();
  const chat::ParsedDelta& whole = parser.whole();
  const std::string reason = stop_reason(o, !whole.calls.empty());
  const Json usage{{"input_tokens", o.result.n_prompt}, {"output_tokens", eval_count(o.result)}};
  if (!gen.stream) {
    Json content = Json::array();
    if (!whole.thinking.empty())
      content.push_back(Json{{"type", "thinking"}, {"thinking", whole.thinking}, {"signature", ""}});
    if (!whole.content.empty() || whole.calls.empty()) content.push_back(Json{{"type", "text"}, {"text", whole.content}});
    for (const auto& c : whole.calls) content.push_back(tool_use_block(c));
    return reply_json(ex, 200,
                      Json{{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", gen.request_model},
                           {"content", std::move(content)}, {"stop_reason", reason}, {"stop_sequence", nullptr},
                           {"usage", usage}});
  }
  if (!stream.delta(last) || !stream.close()) return;
  stream.event("message_delta", Json{{"type", "message_delta"},
                                     {"delta", {{"stop_reason", reason}, {"stop_sequence", nullptr}}},
                                     {"usage", usage}});
  stream.event("message_stop", Json{{"type", "message_stop"}});
}

}  // namespace strata::server
