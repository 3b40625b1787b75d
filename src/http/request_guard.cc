// http/request_guard.cc: Origin patterns and Host header rules (see request_guard.h).
#include "http/request_guard.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "http/http_parse.h"

namespace strata::http {

namespace {

// Glob with '*' only (OLLAMA_ORIGINS patterns). Iterative, so a pattern of many stars stays linear-ish.
bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && lower(pattern[p]) == lower(text[t])) {
      ++p, ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool ends_with_ignore_case(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && equals_ignore_case(s.substr(s.size() - suffix.size()), suffix);
}

// Loopback, private (RFC 1918, RFC 4193), link-local or unspecified IP literal.
bool is_local_ip(std::string_view host) {
  std::string h(host);
  std::array<unsigned char, 16> a{};
  if (::inet_pton(AF_INET, h.c_str(), a.data()) == 1) {
    return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 169 && a[1] == 254) || (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0);
  }
  if (::inet_pton(AF_INET6, h.c_str(), a.data()) == 1) {
    static constexpr std::array<unsigned char, 16> kZero{}, kOne{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (a == kZero || a == kOne) return true;
    if ((a[0] & 0xfe) == 0xfc) return true;                  // fc00::/7
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return true;  // fe80::/10
    // IPv4-mapped (::ffff:a.b.c.d): judge the IPv4 address.
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.data(), kMapped, 12) == 0) {
      char v4[INET_ADDRSTRLEN];
      if (::inet_ntop(AF_INET, a.data() + 12, v4, sizeof(v4))) return is_local_ip(v4);
    }
  }
  return false;
}

}  // namespace

std::string_view host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  size_t colon = host.find(':');
  // More than one colon without brackets: a bare IPv6 literal, no port.
  if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) return host.substr(0, colon);
  return host;
}

bool is_loopback_host(std::string_view host) {
  host = host_without_port(host);
  if (equals_ignore_case(host, "localhost")) return true;
  std::string h(host);
  unsigned char a[16];
  if (::inet_pton(AF_INET, h.c_str(), a) == 1) return a[0] == 127;
  if (::inet_pton(AF_INET6, h.c_str(), a) == 1) {
    static constexpr unsigned char kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(a, kOne, 16) == 0;
  }
  return false;
}

bool origin_allowed(std::string_view origin, std::string_view host_header, const std::vector<std::string>& extra) {
  static constexpr std::string_view kLocal[] = {
      "http://localhost",  "https://localhost",  "http://localhost:*",  "https://localhost:*",
      "http://127.0.0.1",  "https://127.0.0.1",  "http://127.0.0.1:*",  "https://127.0.0.1:*",
      "http://0.0.0.0",    "https://0.0.0.0",    "http://0.0.0.0:*",    "https://0.0.0.0:*",
      "app://*",           "file://*",           "tauri://*",           "vscode-webview://*",
      "vscode-file://*"};
  if (!host_header.empty() && (origin == "http://" + std::string(host_header) || origin == "https://" + std::string(host_header)))
    return true;  // same origin (a page served from this very host and port), not a cross-site request
  for (auto p : kLocal)
    if (glob_match(p, origin)) return true;
  for (const auto& p : extra)
    if (p == "*" || glob_match(p, origin)) return true;
  return false;
}

bool host_allowed(std::string_view host_header, std::string_view bind_host, const std::vector<std::string>& local_names) {
  std::string_view host = host_without_port(host_header);
  if (host.empty() || equals_ignore_case(host, "localhost")) return true;
  if (is_local_ip(host)) return true;
  for (std::string_view tld : {".localhost", ".local", ".internal"})
    if (ends_with_ignore_case(host, tld)) return true;
  if (equals_ignore_case(host, host_without_port(bind_host))) return true;
  for (const auto& name : local_names)
    if (equals_ignore_case(host, name)) return true;
  return false;
}

}  // namespace strata::http
