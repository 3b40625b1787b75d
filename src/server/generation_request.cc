// server/generation_request.cc: the shared request checks and the chat job.
#include "server/generation_request.h"

#include <algorithm>

#include "constrain/json_schema_compile.h"
#include "server/server.h"

namespace strata::server {

namespace {

Status check_think(const Json& req, GenerationRequest& g) {
  auto it = req.find("think");
  if (it == req.end()) return Status::ok();
  return parse_think(*it, g.agent);
}

// `format`: absent, null or "" → free text; "json" → one JSON object; an object → that JSON Schema.
Status parse_format(const Json& req, GenerationRequest& g) {
  auto it = req.find("format");
  if (it == req.end() || it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty()))
    return Status::ok();
  if (it->is_string() && it->get_ref<const std::string&>() == "json") {
    g.json_output = true;
    return Status::ok();
  }
  if (it->is_object()) {
    auto schema = constrain::compile_json_schema(*it);
    if (!schema) return Status::invalid_argument(schema.status().message());
    g.schema = std::move(schema).value();
    return Status::ok();
  }
  return Status::invalid_argument(
      fmt::format("invalid format: {}; expected \"json\" or a valid JSON Schema object", dump_json(*it)));
}

bool non_empty_array(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_array() && !it->empty();
}

// Ollama's message.tool_calls: [{id?, function: {index?, name, arguments: {...}}}].
Result<jinja::Value> native_tool_calls(const Json& calls) {
  if (!calls.is_array())
    return Status::invalid_argument(
        fmt::format("invalid type for field \"tool_calls\": expected array, got {}", json_type_name(calls)));
  Json out = Json::array();
  for (const auto& c : calls) {
    const Json* f = c.is_object() && c.contains("function") ? &c["function"] : nullptr;
    if (!f || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string())
      return Status::invalid_argument("invalid tool call: expected {\"function\": {\"name\": ..., \"arguments\": {...}}}");
    Json args = f->value("arguments", Json::object());
    if (args.is_null()) args = Json::object();
    if (!args.is_object()) return Status::invalid_argument("invalid tool call: arguments must be an object");
    Json call{{"type", "function"}, {"function", {{"name", (*f)["name"]}, {"arguments", args}}}};
    if (c.contains("id") && c["id"].is_string()) call["id"] = c["id"];
    out.push_back(std::move(call));
  }
  return jinja_from_json(out);
}

}  // namespace

Result<GenerationRequest> parse_generation_request(Api& api, const Json& req, GenerationKind kind) {
  const bool openai = kind == GenerationKind::OpenAIChat || kind == GenerationKind::OpenAICompletion;
  GenerationRequest g;
  auto model = get_string(req, "model");
  if (!model) return Status::invalid_argument(model.status().message());
  g.request_model = model.value().value_or("");
  if (g.request_model.empty()) {
    // Ollama's quirk: generate answers 404 for a missing model, chat 400.
    if (kind == GenerationKind::Generate) return Status::not_found("model '' not found");
    return Status::invalid_argument("model is required");
  }
  auto resolved = api.resolve(g.request_model);
  if (!resolved) return resolved.status();
  g.model = std::move(*resolved);
  g.format.chat_template = g.model.summary.chat_template;
  g.format.cache = api.templates();
  if (!g.model.has("completion"))
    return Status::invalid_argument(fmt::format("\"{}\" does not support {}", g.model.entry.name.display(),
                                                kind == GenerationKind::Generate ? "generate" : "chat"));

  g.options = openai ? openai_defaults() : ollama_defaults();
  if (Status s = apply_options(g.model.entry.parameters, g.options); !s.is_ok())
    return Status::internal(fmt::format("model parameters: {}", s.message()));
  if (auto it = req.find("options"); it != req.end())
    if (Status s = apply_options(*it, g.options); !s.is_ok()) return Status::invalid_argument(s.message());
  auto ka = parse_keep_alive(req);
  if (!ka) return Status::invalid_argument(ka.status().message());
  g.keep_alive = ka.value();
  auto stream = get_bool(req, "stream");
  if (!stream) return Status::invalid_argument(stream.status().message());
  g.stream = stream.value().value_or(!openai);
  auto truncate = get_bool(req, "truncate");
  if (!truncate) return Status::invalid_argument(truncate.status().message());
  g.truncate = truncate.value().value_or(true);

  if (!openai) {
    if (Status e = check_think(req, g); !e.is_ok()) return e;
    if (Status e = parse_format(req, g); !e.is_ok()) return e;
    if (non_empty_array(req, "images"))
      return Status::invalid_argument(fmt::format("\"{}\" does not support images", g.model.entry.name.display()));
    auto logprobs = get_bool(req, "logprobs");
    if (!logprobs) return Status::invalid_argument(logprobs.status().message());
    auto top = get_int(req, "top_logprobs");
    if (!top) return Status::invalid_argument(top.status().message());
    if (top.value() && (*top.value() < 0 || *top.value() > 20))
      return Status::invalid_argument("top_logprobs must be between 0 and 20");
    if (logprobs.value().value_or(false) || top.value().value_or(0) > 0)
      return Status::invalid_argument("logprobs are not supported by strata yet");
  }
  return std::move(g);
}

Result<std::vector<chat::ChatMessage>> parse_native_messages(const Json& req) {
  std::vector<chat::ChatMessage> out;
  auto it = req.find("messages");
  if (it == req.end() || it->is_null()) return out;
  if (!it->is_array())
    return Status::invalid_argument(
        fmt::format("invalid type for field \"messages\": expected array, got {}", json_type_name(*it)));
  for (const auto& m : *it) {
    if (!m.is_object()) return Status::invalid_argument("invalid message: expected an object with role and content");
    auto role = get_string(m, "role");
    auto content = get_string(m, "content");
    if (!role) return Status::invalid_argument(role.status().message());
    if (!content) return Status::invalid_argument(content.status().message());
    if (non_empty_array(m, "images")) return Status::invalid_argument("images are not supported by strata yet");
    chat::ChatMessage msg;
    msg.role = role.value().value_or("user");
    std::transform(msg.role.begin(), msg.role.end(), msg.role.begin(), [](unsigned char c) { return std::tolower(c); });
    msg.content = content.value().value_or("");
    auto thinking = get_string(m, "thinking");
    auto tool_name = get_string(m, "tool_name");
    if (!thinking) return Status::invalid_argument(thinking.status().message());
    if (!tool_name) return Status::invalid_argument(tool_name.status().message());
    msg.thinking = thinking.value().value_or("");
    msg.tool_name = tool_name.value().value_or("");
    if (auto id = m.find("tool_call_id"); id != m.end() && id->is_string()) msg.tool_call_id = id->get<std::string>();
    if (auto tc = m.find("tool_calls"); tc != m.end() && !tc->is_null()) {
      auto calls = native_tool_calls(*tc);
      if (!calls) return calls.status();
      msg.tool_calls = std::move(calls).value();
    }
    out.push_back(std::move(msg));
  }
  return out;
}

Status apply_response_format(const Json& req, GenerationRequest& g) {
  auto it = req.find("response_format");
  if (it == req.end() || it->is_null()) return Status::ok();
  if (!it->is_object() || !it->contains("type") || !(*it)["type"].is_string())
    return Status::invalid_argument("invalid response_format: expected an object with a type");
  const std::string type = (*it)["type"].get<std::string>();
  if (type == "text") return Status::ok();
  if (type == "json_object") {
    g.json_output = true;
    return Status::ok();
  }
  if (type == "json_schema") {
    auto js = it->find("json_schema");
    if (js == it->end() || !js->is_object() || !js->contains("schema") || !(*js)["schema"].is_object())
      return Status::invalid_argument("response_format json_schema needs json_schema.schema, a JSON Schema object");
    auto schema = constrain::compile_json_schema((*js)["schema"]);
    if (!schema) return Status::invalid_argument(schema.status().message());
    g.schema = std::move(schema).value();
    return Status::ok();
  }
  return Status::invalid_argument(fmt::format("invalid response_format type: '{}'", type));
}

Status apply_agent(GenerationRequest& g) {
  STRATA_ASSIGN_OR_RETURN(AgentPlan plan, plan_agent(g.agent, g.model));
  g.format.tools = std::move(plan.tools);
  g.format.extra_vars = std::move(plan.extra_vars);
  g.parse = plan.parse;
  g.tool_calls = std::move(plan.constraint);
  g.render_special = plan.render_special;
  return Status::ok();
}

Result<std::vector<int32_t>> fit_prompt(std::vector<int32_t> tokens, int64_t n_ctx, int32_t num_predict, bool truncate,
                                        std::optional<int32_t> bos_id) {
  if (static_cast<int64_t>(tokens.size()) < n_ctx) return tokens;
  if (!truncate)
    return error(ErrorKind::OutOfRange, "the input length exceeds the context length ({} tokens, the context holds {})",
                 tokens.size(), n_ctx);
  int64_t room = num_predict > 0 ? std::min<int64_t>(num_predict, n_ctx / 2) : n_ctx / 4;
  chat::keep_prompt_tail(tokens, n_ctx - std::max<int64_t>(room, 1), bos_id);
  return tokens;
}

std::shared_ptr<engine::Job> make_chat_job(const GenerationRequest& g, std::vector<chat::ChatMessage> messages,
                                   std::chrono::steady_clock::time_point received) {
  fit_call_ids(g.format.chat_template, messages);
  if (g.model.entry.system && !g.model.entry.system->empty() && (messages.empty() || messages.front().role != "system"))
    messages.insert(messages.begin(), chat::ChatMessage{"system", *g.model.entry.system});
  auto job = std::make_shared<engine::Job>();
  job->kind = engine::Job::Kind::Generate;
  job->model_name = g.model.entry.name.display();
  job->options = g.options;
  job->keep_alive = g.keep_alive;
  job->received = received;
  job->json_output = g.json_output;
  job->schema = g.schema;
  job->tool_calls = g.tool_calls;
  job->render_special = g.render_special;
  job->build_prompt = [messages = std::move(messages), format = g.format, truncate = g.truncate](
                          const engine::LoadedModel& lm, int64_t n_ctx,
                          const std::function<bool()>& cancelled) -> Result<std::vector<int32_t>> {
    return chat::build_chat_prompt(format, messages, lm.tokenizer(), n_ctx - 1, truncate, cancelled);
  };
  return job;
}

std::shared_ptr<engine::Job> make_generate_job(const GenerationRequest& g, GeneratePrompt gp,
                                       std::chrono::steady_clock::time_point received) {
  auto job = std::make_shared<engine::Job>();
  job->kind = engine::Job::Kind::Generate;
  job->model_name = g.model.entry.name.display();
  job->options = g.options;
  job->keep_alive = g.keep_alive;
  job->received = received;
  job->json_output = g.json_output;
  job->schema = g.schema;
  job->tool_calls = g.tool_calls;
  job->render_special = g.render_special;
  job->build_prompt =
      [gp = std::move(gp), format = g.format, truncate = g.truncate, num_predict = g.options.num_predict](
          const engine::LoadedModel& lm, int64_t n_ctx, const std::function<bool()>&) -> Result<std::vector<int32_t>> {
    const auto& tok = lm.tokenizer();
    std::vector<int32_t> tokens;
    const bool has_system = gp.system && !gp.system->empty();
    if (gp.raw) {
      tokens = chat::plain_prompt_tokens(gp.prompt, tok, /*parse_special=*/true);
    } else if (chat::generates_plain(format, tok.vocab())) {
      // A base model without a template: the prompt as written, after the system text.
      tokens = chat::plain_prompt_tokens(has_system ? *gp.system + "\n\n" + gp.prompt : gp.prompt, tok, false);
    } else {
      std::vector<chat::ChatMessage> messages;
      if (has_system) messages.push_back({"system", *gp.system});
      messages.push_back({"user", gp.prompt});
      STRATA_ASSIGN_OR_RETURN(tokens, chat::chat_prompt_tokens(format, messages, tok));
    }
    if (!gp.context.empty()) {
      // A previous answer's context: its tokens, then this turn (without a second BOS).
      for (int32_t id : gp.context)
        if (!tok.vocab().is_valid(id)) return error("context holds token id {} outside the vocabulary", id);
      const auto bos = tok.vocab().bos_id();
      if (bos && !tokens.empty() && tokens.front() == *bos) tokens.erase(tokens.begin());
      tokens.insert(tokens.begin(), gp.context.begin(), gp.context.end());
    }
    return fit_prompt(std::move(tokens), n_ctx, num_predict, truncate, tok.vocab().bos_id());
  };
  return job;
}

}  // namespace strata::server
