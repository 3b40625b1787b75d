// server/model_name.cc: the name grammar of Ollama's types/model/name.go, written from its documentation.
#include "server/model_name.h"

#include <algorithm>
#include <vector>

namespace strata::server {

namespace {

bool is_alnum_(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// A part: first char [A-Za-z0-9_], then up to max-1 of [A-Za-z0-9_] plus `extra`.
bool valid_part(std::string_view s, std::string_view extra, size_t max_len) {
  if (s.empty() || s.size() > max_len || !is_alnum_(s.front())) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) { return is_alnum_(c) || extra.find(c) != std::string_view::npos; });
}

}  // namespace

std::string ModelName::display() const {
  std::string prefix;
  if (!same_ignoring_case(host, kDefaultHost)) prefix = host + "/" + space + "/";
  else if (!same_ignoring_case(space, kDefaultNamespace)) prefix = space + "/";
  return prefix + model + ":" + tag;
}

std::string ModelName::key() const {
  std::string k = host + "/" + space + "/" + model + ":" + tag;
  std::transform(k.begin(), k.end(), k.begin(), lower);
  return k;
}

Result<ModelName> parse_model_name(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  ModelName n;
  const size_t last_slash = text.rfind('/');
  const size_t colon = text.find(':', last_slash == std::string_view::npos ? 0 : last_slash + 1);
  std::string_view path = text.substr(0, colon);
  if (colon != std::string_view::npos) n.tag = std::string(text.substr(colon + 1));
  std::vector<std::string_view> parts;
  while (true) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (parts.size() > 3) return error("invalid model name");
  n.model = std::string(parts.back());
  if (parts.size() >= 2) n.space = std::string(parts[parts.size() - 2]);
  if (parts.size() == 3) n.host = std::string(parts[0]);
  if (!valid_part(n.model, ".-", 80) || !valid_part(n.tag, ".-", 80) || !valid_part(n.space, "-", 80) ||
      !valid_part(n.host, ".-:", 350))
    return error("invalid model name");
  return n;
}

std::string model_part_from_stem(std::string_view stem) {
  std::string out;
  for (char c : stem) {
    if (out.size() == 80) break;
    c = lower(c);
    out.push_back(is_alnum_(c) || ((c == '.' || c == '-') && !out.empty()) ? c : (out.empty() ? '_' : '-'));
  }
  if (out.empty()) out = "model";
  return out;
}

}  // namespace strata::server
