// tests/http/request_guard_test.cc: the Origin and Host rules of the cross-site guard.
#include <gtest/gtest.h>

#include "http/request_guard.h"

namespace strata::http {
namespace {

TEST(RequestGuard, OriginsFollowOllama) {
  const std::vector<std::string> none;
  for (const char* ok : {"http://localhost", "http://localhost:3000", "https://127.0.0.1:8080", "http://0.0.0.0",
                         "app://obsidian.md", "file://", "tauri://localhost", "vscode-webview://abc"})
    EXPECT_TRUE(origin_allowed(ok, "127.0.0.1:11434", none)) << ok;
  for (const char* bad : {"http://evil.example", "http://localhost.evil.example", "https://127.0.0.1.nip.io",
                          "null", "http://192.168.1.5:3000", ""})
    EXPECT_FALSE(origin_allowed(bad, "127.0.0.1:11434", none)) << bad;
  // Same origin is not cross-site; OLLAMA_ORIGINS patterns (with '*') extend the list.
  EXPECT_TRUE(origin_allowed("http://myhost:11434", "myhost:11434", none));
  EXPECT_FALSE(origin_allowed("http://myhost:11434", "otherhost:11434", none));
  EXPECT_TRUE(origin_allowed("https://app.example.com", "", {"https://*.example.com"}));
  EXPECT_FALSE(origin_allowed("https://example.org", "", {"https://*.example.com"}));
  EXPECT_TRUE(origin_allowed("https://anything", "", {"*"}));
  // Many stars must not explode (the glob is iterative).
  EXPECT_FALSE(origin_allowed(std::string(5000, 'a'), "", {std::string(60, '*') + "b"}));
}

TEST(RequestGuard, HostsOnALoopbackListener) {
  const std::vector<std::string> names = {"devbox"};
  for (const char* ok : {"", "localhost", "LOCALHOST:11434", "127.0.0.1", "127.0.0.1:11434", "[::1]:11434", "::1",
                         "10.0.0.7", "192.168.1.2:80", "172.16.0.1", "0.0.0.0:1", "foo.localhost", "printer.local:9",
                         "svc.internal", "devbox", "DevBox:11434", "bindname:5"})
    EXPECT_TRUE(host_allowed(ok, "bindname", names)) << ok;
  for (const char* bad : {"evil.example", "evil.example:11434", "8.8.8.8", "[2001:db8::1]:1", "localhost.evil.example",
                          "local", "172.32.0.1", "devbox.evil"})
    EXPECT_FALSE(host_allowed(bad, "bindname", names)) << bad;
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.1"));
}

}  // namespace
}  // namespace strata::http
