// tests/server/request_limits_test.cc: hostile request values (issue 13): huge JSON objects parse in
// linear time or are refused, and out-of-range durations and option values are errors, never overflow.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "server/json_util.h"
#include "server/request_options.h"

namespace strata::server {
namespace {

std::string object_with_keys(size_t n) {
  std::string body = "{";
  for (size_t i = 0; i < n; ++i) body += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  return body + "}";
}

double seconds_to_parse(const std::string& body, Result<Json>& out) {
  const auto t0 = std::chrono::steady_clock::now();
  out = parse_json_body(body);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Defect 4: nlohmann::ordered_json searched every key on insertion, so 200k keys took minutes.
TEST(JsonLimits, ManyKeysAreLinearAndCapped) {
  Result<Json> r = Json();
  // One object past the cap: refused, and quickly (before: a quadratic parse of 200k keys).
  const double big = seconds_to_parse(object_with_keys(200'000), r);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("more than 4096 keys"), std::string::npos) << r.status().message();
  EXPECT_LT(big, 2.0);
  // Many objects each at the cap: every key kept, in order, in linear time.
  std::string many = "[";
  for (int i = 0; i < 60; ++i) many += (i ? "," : "") + object_with_keys(kMaxJsonKeys);
  many += "]";
  const double at_cap = seconds_to_parse(many, r);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->size(), 60u);
  ASSERT_EQ((*r)[59].size(), kMaxJsonKeys);
  EXPECT_EQ((*r)[59].begin().key(), "k0");
  EXPECT_EQ((*r)[59]["k4095"], 4095);
  EXPECT_LT(at_cap, 2.0);
}

TEST(JsonLimits, ParsesLikeNlohmann) {
  // Order is kept; a repeated key keeps its first place and takes the last value.
  auto r =
      parse_json_body(R"({"b":1,"a":{"x":[1,2,{"y":null}]},"b":3,"c":"s","d":1.5,"e":true,"f":18446744073709551615})");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->dump(), R"({"b":3,"a":{"x":[1,2,{"y":null}]},"c":"s","d":1.5,"e":true,"f":18446744073709551615})");
  EXPECT_TRUE(parse_json_body("null")->is_null());
  EXPECT_EQ(parse_json_body("[]")->size(), 0u);
  auto bad = parse_json_body("{\"a\":1,}");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message().rfind("invalid JSON: parse error at line 1, column 8", 0), 0u)
      << bad.status().message();
  EXPECT_FALSE(parse_json_body("{} x").is_ok());
  EXPECT_FALSE(parse_json_body("").is_ok());
}

// Defect 8: values past what the engine's types hold are errors, not overflows or undefined casts.
TEST(OverflowLimits, DurationsAndOptionValues) {
  // Plain seconds past ~292 years overflowed int64 nanoseconds (a float-to-int cast out of range).
  EXPECT_FALSE(parse_duration("1e12").is_ok());
  EXPECT_FALSE(parse_duration("-1e12").is_ok());
  EXPECT_EQ(parse_duration("9e9").value(), KeepAlive(static_cast<int64_t>(9e18)));
  EXPECT_FALSE(parse_duration("3000000h").is_ok());
  auto ka = parse_keep_alive(Json{{"keep_alive", 9e9}});
  ASSERT_TRUE(ka.is_ok());
  EXPECT_GT(ka.value().value(), KeepAlive(0));
  EXPECT_FALSE(parse_keep_alive(Json{{"keep_alive", 1e10}}).is_ok());
  // A float option past float's range: the cast to the sampler's float was undefined.
  RunOptions o = ollama_defaults();
  for (const char* key : {"temperature", "top_p", "min_p", "repeat_penalty"}) {
    Status s = apply_options(Json{{key, 1e300}}, o);
    EXPECT_FALSE(s.is_ok()) << key;
    EXPECT_TRUE(apply_options(Json{{key, 0.5}}, o).is_ok()) << key;
  }
  // Integer options past int64 are refused; past int32 they are clamped.
  EXPECT_FALSE(apply_options(Json{{"num_ctx", 1e30}}, o).is_ok());
  ASSERT_TRUE(apply_options(Json{{"top_k", 1e15}}, o).is_ok());
  EXPECT_EQ(o.sampling.top_k, INT32_MAX);
}

}  // namespace
}  // namespace strata::server
