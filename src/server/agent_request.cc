// server/agent_request.cc: tools, tool_choice and think at the edge; the call constraint's schemas.
#include "server/agent_request.h"

#include <random>

#include "constrain/json_schema_compile.h"

namespace strata::server {

namespace {

Status tool_error(ApiFlavor flavor, size_t i, std::string_view what) {
  if (flavor == ApiFlavor::Ollama)
    return Status::invalid_argument(fmt::format("invalid tool at index {}: {}", i, what));
  return Status::invalid_argument(fmt::format("Invalid 'tools[{}]': {}", i, what));
}

// A tool's parameter schema compiled for the constraint; one the compiler cannot use becomes "any
// object" (the call still parses; its arguments are not checked against the schema).
std::shared_ptr<const constrain::CompiledSchema> compile_or_object(const Json& schema) {
  auto compiled = constrain::compile_json_schema(schema);
  if (compiled) return compiled.value();
  return constrain::compile_json_schema(Json{{"type", "object"}}).value();
}

const Json& parameters_of(const Json& tool) {
  static const Json kEmpty = Json{{"type", "object"}, {"properties", Json::object()}};
  const Json& f = tool["function"];
  auto it = f.find("parameters");
  return it != f.end() && it->is_object() ? *it : kEmpty;
}

std::string levels_message(std::string_view got) {
  return fmt::format("invalid think value: {} (must be \"high\", \"medium\", \"low\", \"max\", true, or false)", got);
}

}  // namespace

Status parse_tools(const Json& tools, ApiFlavor flavor, AgentRequest& out) {
  if (tools.is_null()) return Status::ok();
  if (!tools.is_array())
    return Status::invalid_argument(flavor == ApiFlavor::Ollama
                                        ? fmt::format("invalid type for field \"tools\": expected array, got {}",
                                                      json_type_name(tools))
                                        : "Invalid type for 'tools': expected an array of tools.");
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    if (!t.is_object()) return tool_error(flavor, i, "expected an object");
    if (auto type = t.find("type"); type != t.end() && !(type->is_string() && *type == "function"))
      return tool_error(flavor, i, "type must be \"function\"");
    auto f = t.find("function");
    if (f == t.end() || !f->is_object()) return tool_error(flavor, i, "missing function");
    auto name = f->find("name");
    if (name == f->end() || !name->is_string() || name->get_ref<const std::string&>().empty())
      return tool_error(flavor, i, "function.name must be a non-empty string");
    for (char c : name->get_ref<const std::string&>())
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
        return tool_error(flavor, i, fmt::format("function.name '{}' may hold only a-z, A-Z, 0-9, _, - and .",
                                                 name->get<std::string>()));
    if (auto p = f->find("parameters"); p != f->end() && !p->is_null() && !p->is_object())
      return tool_error(flavor, i, "function.parameters must be a JSON Schema object");
    Json tool{{"type", "function"}, {"function", *f}};
    out.tools.push_back(std::move(tool));
  }
  return Status::ok();
}

Status parse_tool_choice(const Json& req, AgentRequest& out) {
  auto it = req.find("tool_choice");
  if (it == req.end() || it->is_null()) return Status::ok();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (s == "auto") out.choice = ToolChoice::Auto;
    else if (s == "none") out.choice = ToolChoice::None;
    else if (s == "required") out.choice = ToolChoice::Required;
    else
      return Status::invalid_argument(
          fmt::format("Invalid value: '{}'. Supported values are: 'none', 'auto', and 'required'.", s));
    return Status::ok();
  }
  if (it->is_object()) {
    const Json* f = it->contains("function") ? &(*it)["function"] : nullptr;
    if (f && f->is_object() && f->contains("name") && (*f)["name"].is_string()) {
      out.choice = ToolChoice::Named;
      out.named_tool = (*f)["name"].get<std::string>();
      return Status::ok();
    }
  }
  return Status::invalid_argument("Invalid 'tool_choice': expected 'none', 'auto', 'required' or "
                                  "{\"type\": \"function\", \"function\": {\"name\": ...}}");
}

Status parse_think(const Json& v, AgentRequest& out) {
  if (v.is_null()) return Status::ok();
  if (v.is_boolean()) {
    out.think = v.get<bool>();
    return Status::ok();
  }
  if (v.is_string()) {
    const std::string& level = v.get_ref<const std::string&>();
    if (level != "high" && level != "medium" && level != "low" && level != "max")
      return Status::invalid_argument(levels_message("\"" + level + "\""));
    out.think = true;
    out.think_level = level == "max" ? "high" : level;
    return Status::ok();
  }
  return Status::invalid_argument(levels_message(dump_json(v)));
}

Result<AgentPlan> plan_agent(const AgentRequest& a, const ResolvedModel& m) {
  AgentPlan plan;
  const std::string& tmpl = m.summary.chat_template;
  const chat::ThinkFormat think_format = chat::detect_think_format(tmpl);
  jinja::Dict vars;
  // Thinking: on when asked, or by default on a thinking model; off sets the templates' switch.
  if (a.think.value_or(false) && !m.has("thinking"))
    return Status::invalid_argument(fmt::format("\"{}\" does not support thinking", m.entry.name.display()));
  const bool thinking = m.has("thinking") && a.think.value_or(true);
  if (m.has("thinking")) {
    vars.set(jinja::Value("enable_thinking"), jinja::Value(thinking));
    if (think_format == chat::ThinkFormat::Harmony)
      vars.set(jinja::Value("reasoning_effort"), jinja::Value(a.think_level.empty() ? "medium" : a.think_level));
  }
  if (thinking || think_format == chat::ThinkFormat::Harmony) {  // gpt-oss always reasons
    plan.parse.think = think_format;
    // R1 distills and QwQ open <think> in the generation prompt itself.
    plan.parse.starts_in_thinking = tmpl.find("<think>\\n'}}") != std::string::npos ||
                                    tmpl.find("<think>\\n' }}") != std::string::npos;
  }
  plan.extra_vars = jinja::Value::dict(std::move(vars));

  if (!a.tools.empty() && a.choice != ToolChoice::None) {
    if (!m.has("tools"))
      return Status::invalid_argument(fmt::format("{} does not support tools", m.entry.name.display()));
    plan.tools = jinja_from_json(a.tools);
    const chat::ToolFormat format = chat::detect_tool_format(tmpl);
    plan.parse.tools = format;
    // The tools a call may name: all, or the one tool_choice names.
    std::vector<const Json*> callable;
    for (const auto& t : a.tools)
      if (a.choice != ToolChoice::Named || t["function"]["name"] == a.named_tool) callable.push_back(&t);
    if (a.choice == ToolChoice::Named && callable.empty())
      return Status::invalid_argument(
          fmt::format("Invalid 'tool_choice': no function named '{}' in 'tools'", a.named_tool));
    auto spec = std::make_shared<constrain::ToolCallSpec>();
    const bool forced = a.choice == ToolChoice::Required || a.choice == ToolChoice::Named;
    if (!forced) spec->triggers = chat::call_triggers(format);
    const bool mistral_args = tmpl.find("[ARGS]") != std::string::npos;
    const bool name_in_prefix = format == chat::ToolFormat::Harmony || (format == chat::ToolFormat::Mistral && mistral_args);
    if (name_in_prefix) {
      for (const Json* t : callable) {
        const std::string name = (*t)["function"]["name"].get<std::string>();
        chat::CallFrame f = chat::call_frame(format, name, mistral_args);
        spec->calls.push_back({f.prefix, compile_or_object(parameters_of(*t)), f.suffix});
      }
    } else {
      chat::CallFrame f = chat::call_frame(format, "", false);
      Json any_of = Json::array();
      for (const Json* t : callable) {
        Json props = Json::object();
        props["name"] = Json{{"const", (*t)["function"]["name"]}};
        auto args = constrain::compile_json_schema(parameters_of(*t));
        props[f.args_key] = args ? parameters_of(*t) : Json{{"type", "object"}};
        any_of.push_back(Json{{"type", "object"}, {"properties", props}, {"required", {"name", f.args_key}}});
      }
      spec->calls.push_back({f.prefix, compile_or_object(any_of.size() == 1 ? any_of[0] : Json{{"anyOf", any_of}}),
                             f.suffix});
    }
    if (forced || !spec->triggers.empty()) plan.constraint = std::move(spec);
  }
  plan.render_special = plan.parse.tools != chat::ToolFormat::None || plan.parse.think == chat::ThinkFormat::Harmony;
  return plan;
}

namespace {
std::string nine_char_id(const std::string& id) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  if (id.size() == 9 && std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
    return id;
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : id) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  std::string out;
  for (int i = 0; i < 9; ++i, h /= 62) out += kChars[h % 62];
  return out;
}
}  // namespace

void fit_call_ids(const std::string& chat_template, std::vector<chat::ChatMessage>& messages) {
  // A tool result without a call id (Ollama's carry only tool_name) answers the first open call of
  // that name, or the first open call.
  std::vector<std::pair<std::string, std::string>> open;  // (id, name) of the last assistant turn's calls
  for (auto& m : messages) {
    if (m.tool_calls.is_list()) {
      open.clear();
      for (size_t i = 0; i < m.tool_calls.as_list().size(); ++i) {
        const jinja::Value& c = m.tool_calls.as_list()[i];
        if (!c.is_dict()) continue;
        const jinja::Value* id = c.as_dict().find("id");
        const jinja::Value* f = c.as_dict().find("function");
        const jinja::Value* name = f && f->is_dict() ? f->as_dict().find("name") : nullptr;
        open.emplace_back(id && id->is_string() ? id->as_string() : fmt::format("call{}", i),
                          name && name->is_string() ? name->as_string() : "");
      }
    } else if (m.role == "tool" && !open.empty()) {
      auto it = std::find_if(open.begin(), open.end(), [&](const auto& o) {
        return m.tool_call_id.empty() ? o.second == m.tool_name : o.first == m.tool_call_id;
      });
      if (it == open.end() && m.tool_call_id.empty()) it = open.begin();
      if (it != open.end()) {
        if (m.tool_call_id.empty()) m.tool_call_id = it->first;
        if (m.tool_name.empty()) m.tool_name = it->second;
        open.erase(it);
      }
    }
  }
  if (chat_template.find("length != 9") == std::string::npos) return;
  for (auto& m : messages) {
    if (!m.tool_call_id.empty()) m.tool_call_id = nine_char_id(m.tool_call_id);
    if (!m.tool_calls.is_list()) continue;
    std::vector<jinja::Value> calls;
    for (size_t i = 0; i < m.tool_calls.as_list().size(); ++i) {
      const jinja::Value& c = m.tool_calls.as_list()[i];
      if (!c.is_dict()) {
        calls.push_back(c);
        continue;
      }
      jinja::Dict d = c.as_dict();
      const jinja::Value* id = d.find("id");
      const std::string old = id && id->is_string() ? id->as_string() : fmt::format("call{}", i);
      d.set(jinja::Value("id"), jinja::Value(nine_char_id(old)));
      calls.push_back(jinja::Value::dict(std::move(d)));
    }
    m.tool_calls = jinja::Value::list(std::move(calls));
  }
}

jinja::Value jinja_from_json(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return jinja::Value::none();
    case Json::value_t::boolean: return jinja::Value(j.get<bool>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return jinja::Value(j.get<int64_t>());
    case Json::value_t::number_float: return jinja::Value(j.get<double>());
    case Json::value_t::string: return jinja::Value(j.get<std::string>());
    case Json::value_t::array: {
      std::vector<jinja::Value> items;
      for (const Json& item : j) items.push_back(jinja_from_json(item));
      return jinja::Value::list(std::move(items));
    }
    case Json::value_t::object: {
      jinja::Dict d;
      for (const auto& [key, value] : j.items()) d.set(jinja::Value(key), jinja_from_json(value));
      return jinja::Value::dict(std::move(d));
    }
    default: return jinja::Value::none();
  }
}

std::string new_call_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = "call_";
  for (int i = 0; i < 8; ++i) id += kChars[rng() % (sizeof(kChars) - 1)];
  return id;
}

Json ollama_tool_call(const chat::ToolCall& c, size_t index) {
  return Json{{"id", new_call_id()},
              {"function", {{"index", index}, {"name", c.name}, {"arguments", Json::parse(c.arguments)}}}};
}

Json openai_tool_call(const chat::ToolCall& c, const std::string& id) {
  return Json{{"id", id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
}

}  // namespace strata::server
