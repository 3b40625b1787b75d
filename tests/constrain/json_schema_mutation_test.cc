// tests/constrain/json_schema_mutation_test.cc: damaged JSON Schemas from clients: thousands of mutations of
// real-looking schemas go through the compiler and, when they compile, through the recognizer with
// random bytes. Every one compiles or fails with a message, nothing hangs; built again under ASan and
// UBSan as json_schema_mutation_asan_test so that a bad read fails even when it does not crash.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

#include "constrain/json_schema.h"
#include "constrain/json_schema_compile.h"

namespace strata::constrain {
namespace {

const char* const kSeeds[] = {
    R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"pet":{"enum":["cat","dog",null,3]},)"
    R"("tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2},"ok":{"type":"boolean"},"x":{}},)"
    R"("required":["name","age","pet"]})",
    R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":["integer","null"]},"kids":{"type":"array",)"
    R"("items":{"$ref":"#/$defs/node"}}},"required":["v"]}},"$ref":"#/$defs/node"})",
    R"({"anyOf":[{"type":"integer"},{"type":"number"},{"enum":["10","100"]},{"const":{"a":[1,2]}},{"type":"string"}]})",
    R"({"definitions":{"a":{"oneOf":[{"$ref":"#/definitions/a"},{"allOf":[{"type":"null"}]}]}},"$ref":"#"})",
};

std::string mutate(std::string s, std::mt19937& rng) {
  static const char kBytes[] = "{}[]\",:0123456789.-eE+tfnul $#/\\abcdefghijklmnopqrstuvwxyz\x01\xff";
  auto any = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (int k = 1 + static_cast<int>(any(4)); k > 0 && !s.empty(); --k) {
    const size_t at = any(s.size());
    switch (any(4)) {
      case 0: s[at] = kBytes[any(sizeof(kBytes) - 1)]; break;
      case 1: s.insert(at, 1, kBytes[any(sizeof(kBytes) - 1)]); break;
      case 2: s.erase(at, 1 + any(8)); break;
      default: s.insert(at, s.substr(any(s.size()), 1 + any(24))); break;  // duplicate a span
    }
  }
  return s;
}

TEST(JsonSchemaMutation, DamagedSchemasCompileOrFailAndNeverCrash) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  int parsed = 0, compiled = 0, refused = 0;
  double slowest = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string text = mutate(kSeeds[i % std::size(kSeeds)], rng);
    Json schema;
    try {
      schema = Json::parse(text);
    } catch (const Json::exception&) {
      continue;
    }
    ++parsed;
    const auto t0 = std::chrono::steady_clock::now();
    auto compiledSchema = compile_json_schema(schema);
    if (!compiledSchema) {
      ++refused;
      EXPECT_EQ(compiledSchema.status().message().rfind("invalid JSON Schema: ", 0), 0u) << compiledSchema.status().message();
      continue;
    }
    ++compiled;
    constrain::SchemaRecognizer r(compiledSchema.value());
    static const char kText[] = "{}[]\",:0123456789.-e tfnrualsecatdogv\\";
    for (int b = 0; b < 200; ++b)
      if (!r.feed(static_cast<uint8_t>(kText[std::uniform_int_distribution<size_t>(0, sizeof(kText) - 2)(rng)]))) break;
    (void)r.can_end();
    slowest = std::max(slowest, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("schema mutants: %d parsed as JSON, %d compiled, %d refused with a message; slowest %.1f ms (seed %u)\n",
              parsed, compiled, refused, slowest * 1e3, seed);
  EXPECT_GT(compiled, 100);
  EXPECT_GT(refused, 10);
  EXPECT_LT(slowest, 1.0);
}

}  // namespace
}  // namespace strata::constrain
