// tests/server/request_parsing_test.cc: the pure parts of the request edge: model names, options and
// keep-alive, typed JSON fields, nesting limits, timestamps, OLLAMA_HOST forms, number formats, SHA-256.
#include <regex>

#include <gtest/gtest.h>

#include "server/json_util.h"
#include "server/model_info.h"
#include "server/model_name.h"
#include "server/request_options.h"
#include "server/server.h"
#include "server/sha256.h"

namespace strata::server {
namespace {

TEST(ModelNames, DefaultsDisplayAndCaseInsensitiveIdentity) {
  auto a = parse_model_name("llama3.2");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->display(), "llama3.2:latest");
  for (const char* same : {"llama3.2:latest", "library/llama3.2", "registry.ollama.ai/library/llama3.2:latest",
                           "LLaMA3.2", "  llama3.2:LATEST \n"}) {
    auto b = parse_model_name(same);
    ASSERT_TRUE(b.is_ok()) << same;
    EXPECT_EQ(a.value(), b.value()) << same;
  }
  EXPECT_EQ(parse_model_name("myns/foo:q4")->display(), "myns/foo:q4");
  EXPECT_EQ(parse_model_name("host.example:5000/ns/m:t")->display(), "host.example:5000/ns/m:t");
  EXPECT_EQ(parse_model_name("host.example:5000/ns/m")->tag, "latest");
  EXPECT_NE(parse_model_name("a:1")->key(), parse_model_name("a:2")->key());
}

TEST(ModelNames, InvalidNames) {
  for (const char* bad : {"", "bad name", "-lead", "a/b/c/d", "ns.dot/model", "model:", ":tag", "m:t:u", "a//b",
                          "x?y", "名前"}) {
    auto n = parse_model_name(bad);
    EXPECT_FALSE(n.is_ok()) << bad;
    if (!n.is_ok()) {
      EXPECT_EQ(n.status().message(), "invalid model name");
    }
  }
  EXPECT_FALSE(parse_model_name(std::string(81, 'a')).is_ok());
  EXPECT_TRUE(parse_model_name(std::string(80, 'a')).is_ok());
}

TEST(ModelNames, FromFileStems) {
  EXPECT_EQ(model_part_from_stem("stories260K"), "stories260k");
  EXPECT_EQ(model_part_from_stem("Llama 3.1 8B (Q4)"), "llama-3.1-8b--q4-");
  EXPECT_EQ(model_part_from_stem("-x"), "_x");
  EXPECT_EQ(model_part_from_stem(""), "model");
  EXPECT_TRUE(parse_model_name(model_part_from_stem("Mixtral 8x7B Instruct v0.1!")).is_ok());
}

TEST(Options, DefaultsAndPrecedence) {
  RunOptions o = ollama_defaults();
  EXPECT_FLOAT_EQ(o.sampling.temperature, 0.8f);
  EXPECT_FLOAT_EQ(o.sampling.top_p, 0.9f);
  EXPECT_EQ(o.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(o.sampling.repeat_penalty, 1.0f);
  RunOptions oa = openai_defaults();
  EXPECT_FLOAT_EQ(oa.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(oa.sampling.top_p, 1.0f);
  // Model parameters, then request options on top.
  ASSERT_TRUE(apply_options(Json::parse(R"({"temperature":0.2,"stop":["a"]})"), o).is_ok());
  ASSERT_TRUE(apply_options(Json::parse(R"({"temperature":0.5,"num_ctx":4096.0,"num_predict":-2,"seed":7})"), o).is_ok());
  EXPECT_FLOAT_EQ(o.sampling.temperature, 0.5f);
  EXPECT_EQ(o.stop, std::vector<std::string>{"a"});
  EXPECT_EQ(o.num_ctx, 4096);
  EXPECT_EQ(o.num_predict, -2);
  EXPECT_EQ(o.seed, 7);
}

TEST(Options, IgnoredKeysNullsAndTypeErrors) {
  RunOptions o = ollama_defaults();
  EXPECT_TRUE(apply_options(Json::parse(R"({"mirostat":2,"tfs_z":1,"numa":true,"penalize_newline":false,
                                           "whatever":{},"top_k":null})"), o).is_ok());
  EXPECT_EQ(o.sampling.top_k, 40);
  EXPECT_TRUE(apply_options(Json(nullptr), o).is_ok());
  EXPECT_FALSE(apply_options(Json::array(), o).is_ok());
  auto err = [&](const char* text) {
    RunOptions x;
    Status s = apply_options(Json::parse(text), x);
    return s.is_ok() ? std::string() : s.message();
  };
  EXPECT_EQ(err(R"({"temperature":"0.7"})"), "option \"temperature\" must be of type float32");
  EXPECT_EQ(err(R"({"stop":"x"})"), "option \"stop\" must be of type array");
  EXPECT_EQ(err(R"({"num_ctx":"big"})"), "option \"num_ctx\" must be of type int");
  EXPECT_NE(err(R"({"stop":[1]})"), "");
  EXPECT_NE(err(R"({"num_predict":1e300})"), "");
}

TEST(KeepAlive, NumbersAndDurations) {
  using namespace std::chrono;
  auto ka = [](const char* text) { return parse_keep_alive(Json::parse(text)); };
  EXPECT_EQ(ka(R"({"keep_alive":300})").value(), KeepAlive(seconds(300)));
  EXPECT_EQ(ka(R"({"keep_alive":0})").value(), KeepAlive(0));
  EXPECT_LT(ka(R"({"keep_alive":-1})").value()->count(), 0);
  EXPECT_FALSE(ka(R"({})").value().has_value());
  EXPECT_FALSE(ka(R"({"keep_alive":null})").value().has_value());
  EXPECT_EQ(parse_duration("5m").value(), KeepAlive(minutes(5)));
  EXPECT_EQ(parse_duration("1h30m").value(), KeepAlive(minutes(90)));
  EXPECT_EQ(parse_duration("300ms").value(), KeepAlive(milliseconds(300)));
  EXPECT_EQ(parse_duration("1.5s").value(), KeepAlive(milliseconds(1500)));
  EXPECT_EQ(parse_duration("0").value(), KeepAlive(0));
  EXPECT_LT(parse_duration("-1s").value().count(), 0);
  EXPECT_EQ(parse_duration("300").value(), KeepAlive(seconds(300)));  // plain numbers: seconds
  EXPECT_LT(parse_duration("-1").value().count(), 0);
  for (const char* bad : {"", "5x", "m", "5 m", "1h-3m", "99999999999h"}) EXPECT_FALSE(parse_duration(bad).is_ok()) << bad;
  EXPECT_FALSE(ka(R"({"keep_alive":[1]})").is_ok());
}

TEST(JsonEdge, TypedFields) {
  Json j = Json::parse(R"({"s":"x","b":true,"i":3,"f":2.0,"g":2.5,"n":null,"l":["a","b"],"bad":[1]})");
  EXPECT_EQ(*get_string(j, "s").value(), "x");
  EXPECT_FALSE(get_string(j, "missing").value().has_value());
  EXPECT_FALSE(get_string(j, "n").value().has_value());
  EXPECT_FALSE(get_string(j, "i").is_ok());
  EXPECT_EQ(get_string(j, "i").status().message(), "invalid type for field \"i\": expected string, got number");
  EXPECT_EQ(*get_bool(j, "b").value(), true);
  EXPECT_FALSE(get_bool(j, "s").is_ok());
  EXPECT_EQ(*get_int(j, "i").value(), 3);
  EXPECT_EQ(*get_int(j, "f").value(), 2);
  EXPECT_DOUBLE_EQ(*get_number(j, "g").value(), 2.5);
  EXPECT_EQ(get_string_or_list(j, "l").value()->size(), 2u);
  EXPECT_EQ(get_string_or_list(j, "s").value()->size(), 1u);
  EXPECT_FALSE(get_string_or_list(j, "bad").is_ok());
}

TEST(JsonEdge, BodiesAndNesting) {
  EXPECT_TRUE(parse_json_body(R"({"a":[[[1]]]})").is_ok());
  auto bad = parse_json_body("{\"a\":");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("invalid JSON"), std::string::npos);
  // Deep nesting is refused before the parser builds anything (a DoS guard), even when balanced.
  std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  EXPECT_FALSE(parse_json_body(deep).is_ok());
  std::string ok_depth = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parse_json_body(ok_depth).is_ok());
  // Brackets inside strings do not count.
  EXPECT_TRUE(parse_json_body("{\"s\":\"" + std::string(10000, '[') + "\\\"[\"}").is_ok());
  EXPECT_FALSE(parse_json_body(std::string(1 << 20, '[')).is_ok());
  EXPECT_FALSE(parse_json_body("{\"s\":\"\xff\"}").is_ok());  // invalid UTF-8 in a string
}

TEST(JsonEdge, Timestamps) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1691176965499127123LL));
  EXPECT_EQ(rfc3339_utc(t), "2023-08-04T19:22:45.499127123Z");
  EXPECT_TRUE(std::regex_match(rfc3339_local(t), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d))")));
  EXPECT_EQ(dump_json(Json{{"a", std::string("\xff")}}), "{\"a\":\"\xef\xbf\xbd\"}");
}

TEST(HostPort, OllamaHostForms) {
  auto parse = [](const char* text) {
    std::string host = "127.0.0.1";
    int port = 11434;
    Status s = parse_host_port(text, host, port);
    return s.is_ok() ? host + "|" + std::to_string(port) : "error";
  };
  EXPECT_EQ(parse(""), "127.0.0.1|11434");
  EXPECT_EQ(parse("0.0.0.0"), "0.0.0.0|11434");
  EXPECT_EQ(parse("0.0.0.0:8080"), "0.0.0.0|8080");
  EXPECT_EQ(parse(":9000"), "127.0.0.1|9000");
  EXPECT_EQ(parse("http://localhost:1234/"), "localhost|1234");
  EXPECT_EQ(parse("[::1]:5000"), "::1|5000");
  EXPECT_EQ(parse("::1"), "::1|11434");
  EXPECT_EQ(parse("host:notaport"), "error");
  EXPECT_EQ(parse("host:70000"), "error");
}

TEST(ModelInfo, ParameterSizesAndFileTypes) {
  EXPECT_EQ(format_parameter_size(8030261248), "8.0B");
  EXPECT_EQ(format_parameter_size(7000000000), "7B");
  EXPECT_EQ(format_parameter_size(137000000), "137M");
  EXPECT_EQ(format_parameter_size(22700000), "22.70M");
  EXPECT_EQ(format_parameter_size(292000), "292K");
  EXPECT_EQ(format_parameter_size(512), "512");
  EXPECT_EQ(file_type_name(15), "Q4_K_M");
  EXPECT_EQ(file_type_name(7), "Q8_0");
  EXPECT_EQ(file_type_name(32), "BF16");
  EXPECT_EQ(file_type_name(4), "");
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Incremental updates across block boundaries agree with one update.
  std::string million(1000000, 'a');
  Sha256 h;
  for (size_t i = 0; i < million.size(); i += 4999) h.update(std::string_view(million).substr(i, 4999));
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace strata::server
