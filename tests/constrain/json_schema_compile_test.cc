// tests/constrain/json_schema_compile_test.cc: JSON Schema output, end to end below HTTP: schemas compiled
// from JSON, the recognizer on hand-picked valid and invalid documents (every prefix of a valid one
// accepted), on random documents drawn from each schema (compact and indented) and on mutations of them
// (whatever it accepts as whole, an independent validator in this file accepts too), the compiler's
// errors, and stories260K sampling under a schema.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

#include "constrain/json_schema.h"
#include "engine/runtime.h"
#include "engine/session.h"
#include "constrain/json_schema_compile.h"
#include "support/test_support.h"

namespace strata::constrain {
namespace {

using constrain::SchemaRecognizer;

std::shared_ptr<const constrain::CompiledSchema> compile_ok(const std::string& text) {
  auto s = compile_json_schema(Json::parse(text));
  EXPECT_TRUE(s.is_ok()) << text << ": " << s.status().message();
  return s.is_ok() ? s.value() : nullptr;
}

// Accepts the whole of `doc`, every prefix on the way, and ends there.
::testing::AssertionResult allows(const std::shared_ptr<const constrain::CompiledSchema>& schema, const std::string& doc) {
  SchemaRecognizer r(schema);
  for (size_t i = 0; i < doc.size(); ++i)
    if (!r.feed(static_cast<uint8_t>(doc[i])))
      return ::testing::AssertionFailure() << "refused at byte " << i << " of " << doc;
  if (!r.can_end()) return ::testing::AssertionFailure() << "cannot end after " << doc;
  return ::testing::AssertionSuccess();
}

bool refuses(const std::shared_ptr<const constrain::CompiledSchema>& schema, const std::string& doc) {
  SchemaRecognizer r(schema);
  return !r.feed(doc) || !r.can_end();
}

const char* kPerson = R"({"type":"object","properties":{
  "name":{"type":"string"}, "age":{"type":"integer"}, "height":{"type":"number"},
  "pet":{"enum":["cat","dog",null,3]}, "tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2},
  "ok":{"type":"boolean"}, "extra":{}, "kind":{"const":"person"}},
  "required":["name","age","pet","ok"]})";

TEST(JsonSchema, ObjectMembersFollowTheSchema) {
  auto s = compile_ok(kPerson);
  ASSERT_TRUE(s);
  EXPECT_TRUE(allows(s, R"({"name":"Ann","age":7,"pet":"cat","ok":true})"));
  EXPECT_TRUE(allows(s, R"({"name":"A\"n\\n","age":-12,"height":1.5e3,"pet":null,"tags":["x","y"],"ok":false,)"
                        R"("extra":{"any":[1,{"b":null}]},"kind":"person"})"));
  EXPECT_TRUE(allows(s, "{\n  \"name\": \"Ann\",\n  \"age\": 0,\n  \"pet\": 3,\n  \"ok\": true\n}"));
  EXPECT_TRUE(refuses(s, R"({"age":7,"name":"Ann","pet":"cat","ok":true})"));        // schema order
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7,"ok":true})"));                    // pet is required
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7.5,"pet":"cat","ok":true})"));      // an integer
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7,"pet":"cow","ok":true})"));        // not in the enum
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7,"pet":"cat","ok":1})"));           // a boolean
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7,"pet":"cat","tags":[],"ok":true})"));         // minItems
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7,"pet":"cat","tags":["a","b","c"],"ok":true})"));  // maxItems
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7,"pet":"cat","ok":true,"kind":"cat"})"));  // const
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7,"pet":"cat","ok":true,"x":1})"));  // no other members
  EXPECT_TRUE(refuses(s, R"({"name":"Ann","age":7,"pet":"cat","ok":true} )"));      // nothing after
  EXPECT_TRUE(refuses(s, R"([1])"));
}

TEST(JsonSchema, AlternativesReferencesAndRootScalars) {
  // A recursive tree through $defs, anyOf of overlapping alternatives, a type list.
  auto tree = compile_ok(R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":["integer","null"]},
      "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},"$ref":"#/$defs/node"})");
  ASSERT_TRUE(tree);
  EXPECT_TRUE(allows(tree, R"({"v":1,"kids":[{"v":null},{"v":2,"kids":[{"v":3,"kids":[]}]}]})"));
  EXPECT_TRUE(refuses(tree, R"({"v":1,"kids":[{"w":2}]})"));
  auto alt = compile_ok(R"({"anyOf":[{"type":"integer"},{"type":"number"},{"enum":["10","100"]},{"type":"string"}]})");
  ASSERT_TRUE(alt);
  for (const char* ok : {"10", "10.5", "-0", "\"10\"", "\"100\"", "\"1000\"", "1e5"}) EXPECT_TRUE(allows(alt, ok)) << ok;
  for (const char* bad : {"01", "true", "[]", "1.", "\"x"}) EXPECT_TRUE(refuses(alt, bad)) << bad;
  auto boolean = compile_ok(R"({"type":"boolean"})");
  EXPECT_TRUE(allows(boolean, "true"));
  EXPECT_TRUE(refuses(boolean, "truex"));
  auto any_object = compile_ok(R"({"type":"object"})");
  EXPECT_TRUE(allows(any_object, R"({"a":[1,2,{"b":"c"}]})"));
  EXPECT_TRUE(refuses(any_object, "[1]"));
  auto anything = compile_ok("{}");
  for (const char* ok : {"1", "\"s\"", "null", "[true]", "{}"}) EXPECT_TRUE(allows(anything, ok)) << ok;
}

TEST(JsonSchema, CompilerErrorsNameTheProblem) {
  struct Case {
    const char* schema;
    const char* message;
  };
  const Case cases[] = {
      {"false", "invalid JSON Schema: the schema at / is false, which allows nothing"},
      {R"({"type":"decimal"})", "invalid JSON Schema: unknown type \"decimal\" at /"},
      {R"({"type":"array","prefixItems":[{}]})", "invalid JSON Schema: unsupported keyword prefixItems at /"},
      {R"({"$ref":"#/$defs/missing"})", "invalid JSON Schema: $ref \"#/$defs/missing\" at / points at nothing"},
      {R"({"$ref":"https://example.com/s.json"})",
       "invalid JSON Schema: $ref \"https://example.com/s.json\" at /: only references inside the schema (#/...) "
       "are supported"},
      {R"({"type":"object","properties":{"a":{}},"required":["b"]})",
       "invalid JSON Schema: required at / names \"b\", which is not in properties"},
      {R"({"properties":{"a":{"type":"array","minItems":3,"maxItems":2}}})",
       "invalid JSON Schema: maxItems < minItems at /properties/a"},
      {R"({"enum":[]})", "invalid JSON Schema: an empty enum at / allows nothing"},
      {R"([1])", "invalid JSON Schema: the schema at / is a array, not an object"},
      {R"({"type":"string","minLength":5,"maxLength":2})",
       "invalid JSON Schema: minLength 5 is above maxLength 2 at /: no value satisfies the schema"},
      {R"({"properties":{"n":{"type":"number","minimum":1.5,"maximum":-1}}})",
       "invalid JSON Schema: minimum 1.5 is above maximum -1 at /properties/n: no value satisfies the schema"},
      {R"({"type":"object","properties":{"a":{"$ref":"#"}},"required":["a"]})",
       "invalid JSON Schema: no JSON value satisfies the schema: every way through it needs a value that contains "
       "itself without end"},
      {R"({"anyOf":[{"$ref":"#"},{"type":"array","minItems":1,"items":{"$ref":"#"}}]})",
       "invalid JSON Schema: no JSON value satisfies the schema: every way through it needs a value that contains "
       "itself without end"},
  };
  for (const Case& c : cases) {
    auto s = compile_json_schema(Json::parse(c.schema));
    ASSERT_FALSE(s.is_ok()) << c.schema;
    EXPECT_EQ(s.status().message(), c.message);
  }
  Json wide = Json::parse(R"({"type":"object","properties":{}})");
  for (int i = 0; i < 65; ++i) wide["properties"][std::to_string(i).insert(0, "p")] = Json::object();
  EXPECT_FALSE(compile_json_schema(wide).is_ok());
  // A schema that is its own alternative compiles and recognizes without recursing forever.
  auto loop = compile_json_schema(Json::parse(R"({"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}},)"
                                              R"("$ref":"#/$defs/a"})"));
  ASSERT_TRUE(loop.is_ok()) << loop.status().message();
  EXPECT_TRUE(allows(loop.value(), "null"));
  // Recursion with a way out is satisfiable: an optional member, or an array that may be empty.
  EXPECT_TRUE(compile_json_schema(Json::parse(R"({"type":"object","properties":{"a":{"$ref":"#"}}})")).is_ok());
  EXPECT_TRUE(compile_json_schema(Json::parse(R"({"type":"array","items":{"$ref":"#"}})")).is_ok());
  Json deep = Json::object();
  Json* at = &deep;
  for (int i = 0; i < 100; ++i) at = &((*at)["items"] = Json::object());
  EXPECT_FALSE(compile_json_schema(deep).is_ok());
}

// ---- random documents from a schema, and an independent validator -------------------------------

Json resolve(const Json& s, const Json& root) {
  if (s.is_object() && s.contains("$ref")) return root.at(Json::json_pointer(s["$ref"].get<std::string>().substr(1)));
  return s;
}

Json draw(const Json& schema, const Json& root, std::mt19937& rng, int depth) {
  const Json s = resolve(schema, root);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  if (s.contains("enum")) return s["enum"][pick(s["enum"].size())];
  if (s.contains("const")) return s["const"];
  if (s.contains("anyOf")) return draw(s["anyOf"][pick(s["anyOf"].size())], root, rng, depth + 1);
  const std::string t = s.value("type", std::string("any"));
  if (t == "string") {
    static const char* const kPieces[] = {"a", "b", "\"", "\\", "/", "\xc3\xa9", " ", "\n"};
    std::string out;
    for (size_t i = pick(6); i > 0; --i) out += kPieces[pick(8)];
    return out;
  }
  if (t == "integer") return static_cast<int64_t>(pick(2000)) - 1000;
  if (t == "number") return std::uniform_real_distribution<double>(-1e4, 1e4)(rng);
  if (t == "boolean") return pick(2) == 1;
  if (t == "null") return nullptr;
  if (t == "array") {
    const size_t lo = s.value("minItems", 0), hi = s.value("maxItems", depth > 3 ? lo : lo + 3);
    Json a = Json::array();
    for (size_t i = lo + pick(hi - lo + 1); i > 0; --i) a.push_back(draw(s["items"], root, rng, depth + 1));
    return a;
  }
  if (t == "object") {
    Json o = Json::object();
    const Json req = s.value("required", Json::array());
    for (const auto& [k, v] : s["properties"].items()) {
      const bool required = std::find(req.begin(), req.end(), Json(k)) != req.end();
      if (required || (depth < 4 && pick(2) == 1)) o[k] = draw(v, root, rng, depth + 1);
    }
    return o;
  }
  return pick(2) ? Json(nullptr) : Json::array({1, "x"});  // {}: any value
}

bool valid(const Json& v, const Json& schema, const Json& root) {
  const Json s = resolve(schema, root);
  if (s.contains("enum")) return std::find(s["enum"].begin(), s["enum"].end(), v) != s["enum"].end();
  if (s.contains("const")) return v == s["const"];
  if (s.contains("anyOf")) {
    for (const auto& alt : s["anyOf"])
      if (valid(v, alt, root)) return true;
    return false;
  }
  const std::string t = s.value("type", std::string("any"));
  if (t == "string") return v.is_string();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  if (t == "array") {
    if (!v.is_array() || v.size() < s.value("minItems", 0u) || v.size() > s.value("maxItems", 1000000u)) return false;
    for (const auto& x : v)
      if (!valid(x, s["items"], root)) return false;
    return true;
  }
  if (t == "object") {
    if (!v.is_object()) return false;
    for (const auto& r : s.value("required", Json::array()))
      if (!v.contains(r.get<std::string>())) return false;
    for (const auto& [k, x] : v.items())
      if (!s["properties"].contains(k) || !valid(x, s["properties"][k], root)) return false;
    return true;
  }
  return true;
}

TEST(JsonSchema, RandomDocumentsAreAllowedAndAcceptedMutantsValidate) {
  const char* schemas[] = {
      kPerson,
      R"({"type":"object","properties":{"items":{"type":"array","items":{"anyOf":[{"type":"integer"},)"
      R"({"type":"object","properties":{"id":{"type":"integer"},"label":{"enum":["a","ab","abc"]}},"required":["id"]}]}},)"
      R"("flag":{"type":"boolean"}},"required":["items"]})",
      R"({"$defs":{"n":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/n"},)"
      R"({"type":"null"}]}},"required":["v","next"]}},"$ref":"#/$defs/n"})",
  };
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  int accepted_mutants = 0;
  for (const char* text : schemas) {
    const Json schema_json = Json::parse(text);
    auto schema = compile_ok(text);
    ASSERT_TRUE(schema);
    for (int i = 0; i < 300; ++i) {
      const Json doc = draw(schema_json, schema_json, rng, 0);
      ASSERT_TRUE(valid(doc, schema_json, schema_json)) << doc.dump();  // the generator and validator agree
      ASSERT_TRUE(allows(schema, doc.dump())) << "seed " << seed;
      // Indented, as long as no line is indented past the 20 blanks a whitespace run may hold.
      const std::string pretty = doc.dump(2);
      size_t indent = 0, deepest = 0;
      for (char ch : pretty) {
        indent = ch == '\n' ? 0 : ch == ' ' && indent != std::string::npos ? indent + 1 : std::string::npos;
        if (indent != std::string::npos) deepest = std::max(deepest, indent);
      }
      if (deepest <= constrain::JsonRecognizer::kMaxIndent) {
        ASSERT_TRUE(allows(schema, pretty)) << "seed " << seed;
      }
      // Damage one ASCII byte that is not part of a multi-byte character (the recognizer passes bytes of
      // 0x80 and above through strings as they are; it does not check UTF-8, the detokenizer does).
      std::string mutant = doc.dump();
      const size_t at = std::uniform_int_distribution<size_t>(0, mutant.size() - 1)(rng);
      const auto byte = [&](size_t i) { return i < mutant.size() ? static_cast<uint8_t>(mutant[i]) : 0; };
      if (byte(at) >= 0x80 || (byte(at + 1) & 0xC0) == 0x80) continue;
      mutant[at] = "{}[]\",:0123456789.e-tfnulab \\"[std::uniform_int_distribution<int>(0, 28)(rng)];
      if (allows(schema, mutant)) {
        ++accepted_mutants;
        try {
          EXPECT_TRUE(valid(Json::parse(mutant), schema_json, schema_json)) << mutant << " seed " << seed;
        } catch (const Json::parse_error& e) {
          ADD_FAILURE() << mutant << ": " << e.what() << " seed " << seed;
        } catch (const Json::out_of_range&) {
          // Valid syntax with a number too large for a double: fine.
        }
      }
    }
  }
  EXPECT_GT(accepted_mutants, 0);
}

TEST(JsonSchema, HostileSchemasStayCheap) {
  // Written out, sixteen levels of anyOf with two alternatives each are 131,071 nodes: refused.
  Json tree = Json::parse(R"({"type":"integer"})");
  for (int i = 0; i < 16; ++i) tree = Json{{"anyOf", Json::array({tree, tree})}};
  EXPECT_FALSE(compile_json_schema(tree).is_ok());
  // Through $defs they are 17 nodes that would expand into 65,536 paths; the recognizer keeps 64.
  Json s = Json{{"$defs", Json{{"a0", Json{{"type", "integer"}}}}}};
  for (int i = 1; i <= 16; ++i) {
    const Json ref = Json{{"$ref", "#/$defs/a" + std::to_string(i - 1)}};
    s["$defs"]["a" + std::to_string(i)] = Json{{"anyOf", Json::array({ref, ref})}};
  }
  s["$ref"] = "#/$defs/a16";
  auto schema = compile_json_schema(s);
  ASSERT_TRUE(schema.is_ok()) << schema.status().message();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(allows(schema.value(), "12345"));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  // Deep nesting of the text itself stops at the recognizer's stack limit instead of growing.
  auto nested = compile_ok(R"({"$defs":{"a":{"type":"array","items":{"$ref":"#/$defs/a"}}},"$ref":"#/$defs/a"})");
  SchemaRecognizer r(nested);
  size_t fed = 0;
  while (fed < 1000 && r.feed('[')) ++fed;
  EXPECT_LT(fed, 1000u);
}

TEST(JsonSchema, TrieWalkMatchesFeedingEveryTokenAlone) {
  engine::EngineOptions eo;
  eo.model_path = strata::testing::shared_path("models/stories260K.gguf");
  auto lm = engine::LoadedModel::load(eo);
  ASSERT_TRUE(lm.is_ok()) << lm.status().message();
  const constrain::VocabBytes vocab(lm.value()->tokenizer());
  auto schema = compile_ok(kPerson);
  ASSERT_TRUE(schema);
  const std::string doc = R"({"name": "Ann", "age": 42, "pet": null, "tags": ["x"], "ok": true})";
  SchemaRecognizer state(schema);
  std::vector<uint8_t> fast;
  for (size_t at = 0; at <= doc.size(); ++at) {
    constrain::allowed_pieces(vocab, state, fast);
    for (size_t id = 0; id < vocab.pieces.size(); ++id) {
      SchemaRecognizer alone = state;
      const bool want = !vocab.pieces[id].empty() && alone.feed(vocab.pieces[id]);
      ASSERT_EQ(fast[id] != 0, want) << "after " << at << " bytes, token '" << vocab.pieces[id] << "'";
    }
    if (at < doc.size()) {
      ASSERT_TRUE(state.feed(static_cast<uint8_t>(doc[at]))) << at;
    }
  }
  EXPECT_TRUE(state.can_end());
}

TEST(JsonSchema, Stories260KSamplesOnlyWhatTheSchemaAllows) {
  engine::EngineOptions eo;
  eo.model_path = strata::testing::shared_path("models/stories260K.gguf");
  eo.n_threads = 1;
  auto lm = engine::LoadedModel::load(eo);
  ASSERT_TRUE(lm.is_ok()) << lm.status().message();
  const auto& tok = lm.value()->tokenizer();
  // No free strings: even this model's rambling has to close the object within a few tokens.
  const char* text = R"({"type":"object","properties":{"pet":{"enum":["cat","dog"]},"ok":{"type":"boolean"},)"
                     R"("n":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":3}},)"
                     R"("required":["pet","ok"]})";
  const Json schema_json = Json::parse(text);
  auto schema = compile_ok(text);
  ASSERT_TRUE(schema);
  int finished = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    engine::Session session(*lm.value(), 128);
    constrain::SchemaConstraint constraint(tok, schema);
    engine::GenerateRequest req;
    req.prompt = tok.encode("Once upon a time", /*add_bos=*/true);
    req.max_tokens = 120;
    req.sampling.temperature = seed % 2 ? 1.0f : 0.0f;
    req.sampling.seed = seed;
    req.constraint = &constraint;
    auto res = session.generate(req, nullptr);
    ASSERT_TRUE(res.is_ok()) << res.status().message();
    SchemaRecognizer check(schema);
    ASSERT_TRUE(check.feed(res.value().text)) << res.value().text;
    std::printf("  seed %llu: %s\n", static_cast<unsigned long long>(seed), res.value().text.c_str());
    if (res.value().reason == engine::StopReason::Eos) {
      ++finished;
      EXPECT_TRUE(valid(Json::parse(res.value().text), schema_json, schema_json)) << res.value().text;
    }
  }
  std::printf("stories260K under a schema: %d of 8 generations finished their object within 120 tokens\n", finished);
  EXPECT_GT(finished, 0);
}

}  // namespace
}  // namespace strata::constrain
