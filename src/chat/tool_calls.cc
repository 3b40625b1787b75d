// chat/tool_calls.cc: JSON boundaries and call objects.
#include "chat/tool_calls.h"

#include <nlohmann/json.hpp>

namespace strata::chat {

namespace {

using Json = nlohmann::ordered_json;

std::optional<Json> parse(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::optional<std::string> arguments_text(const Json& args) {
  if (args.is_object()) return args.dump();
  if (args.is_null()) return std::string("{}");
  if (args.is_string()) {  // some models write the arguments as a JSON string holding the object
    auto inner = parse(args.get_ref<const std::string&>());
    if (inner && inner->is_object()) return inner->dump();
  }
  return std::nullopt;
}

std::optional<ToolCall> call_from(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  const Json* obj = &j;
  if (auto f = j.find("function"); f != j.end() && f->is_object()) obj = &*f;  // {"type":"function","function":{..}}
  auto name = obj->find("name");
  if (name == obj->end() || !name->is_string() || name->get_ref<const std::string&>().empty()) return std::nullopt;
  Json args;
  for (const char* key : {"arguments", "parameters"})
    if (auto a = obj->find(key); a != obj->end()) args = *a;
  auto text = arguments_text(args);
  if (!text) return std::nullopt;
  return ToolCall{name->get<std::string>(), std::move(*text)};
}

}  // namespace

std::optional<size_t> json_value_end(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r')) ++i;
  if (i >= text.size() || (text[i] != '{' && text[i] != '[')) return std::nullopt;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::nullopt;
}

std::optional<ToolCall> parse_call_object(std::string_view json_text) {
  auto j = parse(json_text);
  if (!j) return std::nullopt;
  return call_from(*j);
}

std::optional<std::vector<ToolCall>> parse_call_array(std::string_view json_text) {
  auto j = parse(json_text);
  if (!j || !j->is_array() || j->empty()) return std::nullopt;
  std::vector<ToolCall> out;
  for (const auto& e : *j) {
    auto c = call_from(e);
    if (!c) return std::nullopt;
    out.push_back(std::move(*c));
  }
  return out;
}

std::optional<std::string> parse_arguments(std::string_view json_text) {
  auto j = parse(json_text);
  if (!j) return std::nullopt;
  return arguments_text(*j);
}

}  // namespace strata::chat
