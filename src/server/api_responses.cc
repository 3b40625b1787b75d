// server/api_responses.cc: POST /v1/responses, OpenAI's Responses API mapped onto the chat path as
// Ollama maps it: `instructions`, `input` as text or items (messages, function_call,
// function_call_output, reasoning), function tools and tool_choice, reasoning effort, text.format, and
// the streamed events (response.created ... response.completed) with their sequence numbers.
#include <random>

#include "server/agent_request.h"
#include "server/api.h"
#include "server/generation_request.h"
#include "server/server.h"

namespace strata::server {

namespace {

std::string item_id(std::string_view prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}", prefix, rng());
}

Result<std::string> content_text(const Json& content, std::string_view where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return Status::invalid_argument(fmt::format("Invalid type for '{}.content'", where));
  std::string out;
  for (const auto& part : content) {
    const std::string type = part.is_object() ? str_of(part, "type", "") : "";
    if (type == "input_text" || type == "output_text" || type == "text") {
      if (!out.empty()) out += "\n";
      out += str_of(part, "text", "");
    } else if (type == "input_image" || type == "input_file") {
      return Status::invalid_argument(fmt::format("{} content is not supported by strata yet", type));
    } else {
      return Status::invalid_argument(fmt::format("Invalid content part type '{}' in '{}'", type, where));
    }
  }
  return out;
}

// instructions + input → chat messages. Consecutive function_call items make one assistant turn.
Result<std::vector<chat::ChatMessage>> parse_input(const Json& req) {
  std::vector<chat::ChatMessage> out;
  if (auto it = req.find("instructions"); it != req.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
    out.push_back(chat::ChatMessage{"system", it->get<std::string>()});
  auto input = req.find("input");
  if (input == req.end() || input->is_null()) return Status::invalid_argument("Missing required parameter: 'input'.");
  if (input->is_string()) {
    out.push_back(chat::ChatMessage{"user", input->get<std::string>()});
    return out;
  }
  if (!input->is_array()) return Status::invalid_argument("Invalid type for 'input': expected a string or an array.");
  std::vector<std::string> call_ids;
  std::map<std::string, std::string> call_names;
  std::string pending_thinking;
  Json calls = Json::array();  // function_call items not yet closed into an assistant turn
  auto close_calls = [&] {
    if (calls.empty()) return;
    chat::ChatMessage m;
    m.role = "assistant";
    m.thinking = std::move(pending_thinking);
    pending_thinking.clear();
    m.tool_calls = jinja_from_json(calls);
    out.push_back(std::move(m));
    calls = Json::array();
  };
  for (size_t i = 0; i < input->size(); ++i) {
    const Json& item = (*input)[i];
    const std::string where = fmt::format("input[{}]", i);
    if (!item.is_object()) return Status::invalid_argument(fmt::format("Invalid type for '{}'", where));
    const std::string type = str_of(item, "type", "message");
    if (type == "function_call") {
      if (!item.contains("name") || !item["name"].is_string())
        return Status::invalid_argument(fmt::format("Missing required parameter: '{}.name'.", where));
      const std::string call_id = str_of(item, "call_id", "");
      Json args = Json::parse(str_of(item, "arguments", "{}"), nullptr, /*allow_exceptions=*/false);
      if (args.is_discarded() || !args.is_object())
        return Status::invalid_argument(fmt::format("Invalid '{}.arguments': expected a JSON object", where));
      calls.push_back(Json{{"id", call_id}, {"type", "function"}, {"function", {{"name", item["name"]}, {"arguments", args}}}});
      call_ids.push_back(call_id);
      call_names[call_id] = item["name"].get<std::string>();
      continue;
    }
    close_calls();
    if (type == "function_call_output") {
      const std::string call_id = str_of(item, "call_id", "");
      if (std::find(call_ids.begin(), call_ids.end(), call_id) == call_ids.end())
        return Status::invalid_argument(fmt::format("No tool call found for function call output with call_id {}.", call_id));
      chat::ChatMessage m;
      m.role = "tool";
      const Json output = item.value("output", Json(""));
      STRATA_ASSIGN_OR_RETURN(m.content, output.is_string() ? Result<std::string>(output.get<std::string>())
                                                            : content_text(output, where));
      m.tool_call_id = call_id;
      m.tool_name = call_names[call_id];
      out.push_back(std::move(m));
    } else if (type == "reasoning") {
      for (const auto& s : item.value("summary", Json::array()))
        if (s.is_object()) pending_thinking += str_of(s, "text", "");
    } else if (type == "message") {
      chat::ChatMessage m;
      m.role = str_of(item, "role", "user");
      if (m.role == "developer") m.role = "system";
      if (m.role != "user" && m.role != "assistant" && m.role != "system")
        return Status::invalid_argument(fmt::format("Invalid value for '{}.role': '{}'", where, m.role));
      STRATA_ASSIGN_OR_RETURN(m.content, content_text(item.value("content", Json("")), where));
      if (m.role == "assistant") m.thinking = std::move(pending_thinking), pending_thinking.clear();
      out.push_back(std::move(m));
    } else {
      return Status::invalid_argument(fmt::format("Invalid value for '{}.type': '{}' is not supported", where, type));
    }
  }
  close_calls();
  return out;
}

// Responses tools [{type: "function", name, parameters}] in the chat shape; other tool types are refused.
Status parse_response_tools(const Json& req, AgentRequest& a) {
  auto it = req.find("tools");
  if (it == req.end() || it->is_null()) return Status::ok();
  if (!it->is_array()) return Status::invalid_argument("Invalid type for 'tools': expected an array.");
  Json tools = Json::array();
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& t = (*it)[i];
    if (!t.is_object() || str_of(t, "type", "") != "function")
      return Status::invalid_argument(fmt::format("Invalid 'tools[{}]': only function tools are supported", i));
    // Responses tools are flat: name their fields as OpenAI does, not as the chat shape they become.
    if (auto name = t.find("name"); name == t.end() || !name->is_string() || name->get<std::string>().empty())
      return Status::invalid_argument(fmt::format("Missing required parameter: 'tools[{}].name'.", i));
    Json f = t;
    f.erase("type");
    f.erase("strict");
    tools.push_back(Json{{"type", "function"}, {"function", std::move(f)}});
  }
  STRATA_RETURN_IF_ERROR(parse_tools(tools, ApiFlavor::OpenAI, a));
  if (auto c = req.find("tool_choice"); c != req.end() && c->is_object() && str_of(*c, "type", "") == "function") {
    a.choice = ToolChoice::Named;
    a.named_tool = str_of(*c, "name", "");
    return Status::ok();
  }
  return parse_tool_choice(req, a);
}

Status parse_response_options(const Json& req, GenerationRequest& g) {
  auto max = get_int(req, "max_output_tokens");
  if (!max) return Status::invalid_argument(max.status().message());
  if (max.value()) g.options.num_predict = static_cast<int32_t>(std::clamp<int64_t>(*max.value(), 1, INT32_MAX));
  for (const char* key : {"temperature", "top_p"}) {
    auto v = get_number(req, key);
    if (!v) return Status::invalid_argument(v.status().message());
    if (v.value()) (std::string_view(key) == "top_p" ? g.options.sampling.top_p : g.options.sampling.temperature) =
        static_cast<float>(*v.value());
  }
  if (auto r = req.find("reasoning"); r != req.end() && r->is_object() && r->contains("effort") && (*r)["effort"].is_string()) {
    const std::string effort = (*r)["effort"].get<std::string>();
    if (effort == "none") g.agent.think = false;
    else if (effort == "minimal" || effort == "low" || effort == "medium" || effort == "high") {
      if (!g.model.has("thinking"))
        return Status::invalid_argument(fmt::format("\"{}\" does not support thinking", g.model.entry.name.display()));
      g.agent.think = true;
      g.agent.think_level = effort == "minimal" ? "low" : effort;
    } else {
      return Status::invalid_argument(fmt::format("Invalid value: '{}'. Supported values are: 'none', 'minimal', "
                                                  "'low', 'medium', and 'high'.", effort));
    }
  }
  if (auto t = req.find("text"); t != req.end() && t->is_object() && t->contains("format")) {
    const Json& f = (*t)["format"];
    if (!f.is_object()) return Status::invalid_argument("Invalid type for 'text.format': expected an object.");
    Json rf{{"type", str_of(f, "type", "text")}};
    if (rf["type"] == "json_schema") rf["json_schema"] = Json{{"schema", f.value("schema", Json())}};
    STRATA_RETURN_IF_ERROR(apply_response_format(Json{{"response_format", rf}}, g));
  }
  return Status::ok();
}

// The streamed events, each with its sequence number.
class ResponseStream {
 public:
  explicit ResponseStream(http::HttpExchange& ex) : ex_(ex) {}
  bool send(std::string_view type, Json data) {
    Json out{{"type", type}, {"sequence_number", seq_++}};
    out.update(data);
    return ex_.write(fmt::format("event: {}\ndata: {}\n\n", type, dump_json(out)));
  }

 private:
  http::HttpExchange& ex_;
  int64_t seq_ = 0;
};

}  // namespace

void Api::openai_responses(http::HttpExchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  auto body = read_json(ex);
  if (!body) return reply_openai_error(ex, body.status());
  const Json& req = body->is_null() ? Json::object() : *body;
  auto g = parse_generation_request(*this, req, GenerationKind::OpenAIChat);
  if (!g) return reply_openai_error(ex, g.status());
  GenerationRequest& gen = *g;
  if (req.contains("previous_response_id") && !req["previous_response_id"].is_null())
    return reply_openai_error(ex, ErrorKind::InvalidArgument,
                              "previous_response_id is not supported: strata stores no responses; send the whole input");
  auto messages = parse_input(req);
  if (!messages) return reply_openai_error(ex, messages.status());
  for (auto check : {parse_response_options(req, gen), parse_response_tools(req, gen.agent)})
    if (!check.is_ok()) return reply_openai_error(ex, check);
  if (Status e = apply_agent(gen); !e.is_ok()) return reply_openai_error(ex, e);

  auto job = make_chat_job(gen, std::move(*messages), t0);
  const std::string id = item_id("resp_");
  const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  auto response = [&](std::string_view status, Json output) {
    Json r{{"id", id}, {"object", "response"}, {"created_at", created}, {"status", status}, {"error", nullptr},
           {"incomplete_details", nullptr}, {"instructions", req.value("instructions", Json())},
           {"max_output_tokens", req.value("max_output_tokens", Json())}, {"model", gen.request_model},
           {"output", std::move(output)}, {"parallel_tool_calls", true}, {"previous_response_id", nullptr},
           {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}}, {"store", false},
           {"temperature", gen.options.sampling.temperature}, {"text", {{"format", {{"type", "text"}}}}},
           {"tool_choice", req.value("tool_choice", Json("auto"))}, {"tools", req.value("tools", Json::array())},
           {"top_p", gen.options.sampling.top_p}, {"truncation", "disabled"}, {"usage", nullptr}, {"metadata", Json::object()}};
    return r;
  };

  ReplyParser parser(gen.parse);
  ResponseStream events(ex);
  Json output = Json::array();  // items finished so far (streaming)
  // The open item while streaming: a reasoning or message item receiving deltas.
  std::string open_kind, open_id, open_text;
  auto close_open = [&]() -> bool {
    if (open_kind.empty()) return true;
    const int64_t index = static_cast<int64_t>(output.size());
    Json item;
    if (open_kind == "message") {
      Json part{{"type", "output_text"}, {"text", open_text}, {"annotations", Json::array()}};
      if (!events.send("response.output_text.done", {{"item_id", open_id}, {"output_index", index}, {"content_index", 0}, {"text", open_text}}) ||
          !events.send("response.content_part.done", {{"item_id", open_id}, {"output_index", index}, {"content_index", 0}, {"part", part}}))
        return false;
      item = Json{{"id", open_id}, {"type", "message"}, {"status", "completed"}, {"role", "assistant"},
                  {"content", Json::array({part})}};
    } else {
      Json part{{"type", "summary_text"}, {"text", open_text}};
      if (!events.send("response.reasoning_summary_text.done", {{"item_id", open_id}, {"output_index", index}, {"summary_index", 0}, {"text", open_text}}) ||
          !events.send("response.reasoning_summary_part.done", {{"item_id", open_id}, {"output_index", index}, {"summary_index", 0}, {"part", part}}))
        return false;
      item = Json{{"id", open_id}, {"type", "reasoning"}, {"summary", Json::array({part})}};
    }
    open_kind.clear();
    open_text.clear();
    output.push_back(item);
    return events.send("response.output_item.done", {{"output_index", index}, {"item", item}});
  };
  auto open_item = [&](std::string_view kind) -> bool {
    if (open_kind == kind) return true;
    if (!close_open()) return false;
    open_kind = kind;
    open_id = item_id(kind == "message" ? "msg_" : "rs_");
    const int64_t index = static_cast<int64_t>(output.size());
    if (kind == "message") {
      return events.send("response.output_item.added",
                         {{"output_index", index},
                          {"item", {{"id", open_id}, {"type", "message"}, {"status", "in_progress"}, {"role", "assistant"}, {"content", Json::array()}}}}) &&
             events.send("response.content_part.added",
                         {{"item_id", open_id}, {"output_index", index}, {"content_index", 0},
                          {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", Json::array()}}}});
    }
    return events.send("response.output_item.added",
                       {{"output_index", index}, {"item", {{"id", open_id}, {"type", "reasoning"}, {"summary", Json::array()}}}}) &&
           events.send("response.reasoning_summary_part.added",
                       {{"item_id", open_id}, {"output_index", index}, {"summary_index", 0}, {"part", {{"type", "summary_text"}, {"text", ""}}}});
  };
  auto function_item = [&](const chat::ToolCall& c, std::string_view status) {
    return Json{{"id", item_id("fc_")}, {"type", "function_call"}, {"status", status}, {"arguments", c.arguments},
                {"call_id", new_call_id()}, {"name", c.name}};
  };
  auto send_delta = [&](const chat::ParsedDelta& d) -> bool {
    if (!gen.stream) return true;
    const int64_t index = static_cast<int64_t>(output.size());
    if (!d.thinking.empty()) {
      if (!open_item("reasoning")) return false;
      open_text += d.thinking;
      if (!events.send("response.reasoning_summary_text.delta", {{"item_id", open_id}, {"output_index", index}, {"summary_index", 0}, {"delta", d.thinking}}))
        return false;
    }
    if (!d.content.empty()) {
      if (!open_item("message")) return false;
      open_text += d.content;
      if (!events.send("response.output_text.delta", {{"item_id", open_id}, {"output_index", static_cast<int64_t>(output.size())}, {"content_index", 0}, {"delta", d.content}, {"logprobs", Json::array()}}))
        return false;
    }
    for (const auto& c : d.calls) {
      if (!close_open()) return false;
      Json item = function_item(c, "completed");
      const int64_t at = static_cast<int64_t>(output.size());
      Json added = item;
      added["status"] = "in_progress";
      added["arguments"] = "";
      if (!events.send("response.output_item.added", {{"output_index", at}, {"item", added}}) ||
          !events.send("response.function_call_arguments.delta", {{"item_id", item["id"]}, {"output_index", at}, {"delta", c.arguments}}) ||
          !events.send("response.function_call_arguments.done", {{"item_id", item["id"]}, {"output_index", at}, {"arguments", c.arguments}}))
        return false;
      output.push_back(item);
      if (!events.send("response.output_item.done", {{"output_index", at}, {"item", item}})) return false;
    }
    return true;
  };
  bool started = false;
  auto on_start = [&] {
    started = true;
    if (!gen.stream) return true;
    return ex.begin_stream(200, "text/event-stream") &&
           events.send("response.created", {{"response", response("in_progress", Json::array())}}) &&
           events.send("response.in_progress", {{"response", response("in_progress", Json::array())}});
  };
  Drive d = drive(ex, gen.model.entry.gguf_path, job, on_start, [&](std::string_view t) { return send_delta(parser.feed(t)); });
  if (d.ending == Ending::ClientGone) return;
  if (d.ending == Ending::Error) {
    if (!gen.stream || !started) return reply_openai_error(ex, d.error);
    events.send("error", {{"code", nullptr}, {"message", d.error.message()}, {"param", nullptr}});
    return;
  }
  const engine::JobOutcome& o = job->outcome();
  const int64_t n_out = eval_count(o.result);
  const Json usage{{"input_tokens", o.result.n_prompt}, {"input_tokens_details", {{"cached_tokens", 0}}},
                   {"output_tokens", n_out}, {"output_tokens_details", {{"reasoning_tokens", 0}}},
                   {"total_tokens", o.result.n_prompt + n_out}};
  const bool truncated = o.result.reason == engine::StopReason::Length || o.result.reason == engine::StopReason::ContextFull;
  auto finished = [&](Json out) {
    Json r = response(truncated ? "incomplete" : "completed", std::move(out));
    if (truncated) r["incomplete_details"] = Json{{"reason", "max_output_tokens"}};
    r["usage"] = usage;
    return r;
  };
  if (!gen.stream) {
    parser.finish();
    const chat::ParsedDelta& whole = parser.whole();
    Json out = Json::array();
    if (!whole.thinking.empty())
      out.push_back(Json{{"id", item_id("rs_")}, {"type", "reasoning"},
                         {"summary", Json::array({Json{{"type", "summary_text"}, {"text", whole.thinking}}})}});
    if (!whole.content.empty() || whole.calls.empty())
      out.push_back(Json{{"id", item_id("msg_")}, {"type", "message"}, {"status", "completed"}, {"role", "assistant"},
                         {"content", Json::array({Json{{"type", "output_text"}, {"text", whole.content},
                                                       {"annotations", Json::array()}}})}});
    for (const auto& c : whole.calls) out.push_back(function_item(c, "completed"));
    return reply_json(ex, 200, finished(std::move(out)));
  }
  if (!send_delta(parser.finish()) || !close_open()) return;
  events.send(truncated ? "response.incomplete" : "response.completed", {{"response", finished(output)}});
}

}  // namespace strata::server
