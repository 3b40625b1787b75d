// http/request_guard.h: which cross-site requests the server refuses: the Origin check (CORS, as
// Ollama's gin-contrib/cors setup) and the Host check on a loopback listener (against DNS rebinding).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace strata::http {

// Origins always allowed (local pages, desktop shells), plus `extra` (OLLAMA_ORIGINS patterns, '*'
// wildcards). A request whose Origin is its own Host ("http://" + host) is not cross-site.
bool origin_allowed(std::string_view origin, std::string_view host_header, const std::vector<std::string>& extra);

// The Host header check of a loopback listener: no Host, "localhost", *.localhost/*.local/*.internal,
// loopback, private and unspecified IP literals, the bind host and `local_names` (the machine's hostname,
// given by the caller), each with any port. Comparison ignores case.
bool host_allowed(std::string_view host_header, std::string_view bind_host, const std::vector<std::string>& local_names);

// The host part of a Host header ("[::1]:8080" → "::1", "a:1" → "a", "a" → "a").
std::string_view host_without_port(std::string_view host_header);

// True for a literal loopback address or "localhost" (the listeners whose Host header is checked).
bool is_loopback_host(std::string_view host);

}  // namespace strata::http
