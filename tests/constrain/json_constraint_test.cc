// tests/constrain/json_constraint_test.cc: JSON mode. The recognizer against hand-written documents (every
// prefix of a valid one accepted, each invalid one refused at the right byte), against nlohmann::json on
// random documents and on mutations of them (whatever it calls complete, nlohmann parses as an object),
// and the constraint driving stories260K: every output is a JSON prefix, and a finished one is an object.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "constrain/json_constraint.h"
#include "engine/runtime.h"
#include "engine/session.h"
#include "support/test_support.h"

namespace strata::constrain {
namespace {

using engine::EngineOptions;
using engine::GenerateRequest;
using engine::LoadedModel;
using engine::Session;
using engine::StopReason;

// Feeds `text`; the number of bytes accepted (text.size() when all were).
size_t accepted(const std::string& text, JsonRecognizer& r) {
  for (size_t i = 0; i < text.size(); ++i)
    if (!r.feed(static_cast<uint8_t>(text[i]))) return i;
  return text.size();
}

TEST(JsonRecognizer, AcceptsEveryPrefixOfValidObjects) {
  const std::string docs[] = {
      "{}",
      "{\"a\":1}",
      " {\"a\": [1, 2.5, -3e+2, 0, 0.1E-5, -0, 10, true, false, null, \"x\\u00e9\\n\\\"\\\\\\/\\b\\f\\r\\t\"], \"b\": {\"c\": {}}}",
      "{\n  \"k\": \"caf\xc3\xa9\",\n\t\"e\": [],\n  \"o\": {}\n}",
      "{\"n\":[[[]]],\"s\":\"\"}",
  };
  for (const std::string& doc : docs) {
    JsonRecognizer r;
    for (size_t i = 0; i < doc.size(); ++i) {
      ASSERT_FALSE(r.complete()) << doc << " complete after " << i << " bytes";
      ASSERT_TRUE(r.feed(static_cast<uint8_t>(doc[i]))) << doc << " refused at byte " << i;
    }
    EXPECT_TRUE(r.complete()) << doc;
    EXPECT_TRUE(nlohmann::json::parse(doc).is_object());
  }
}

TEST(JsonRecognizer, RefusesInvalidTextAtTheFirstBadByte) {
  struct Case {
    std::string text;
    size_t good;  // bytes accepted before the refusal
  };
  const Case cases[] = {
      {"[]", 0},                      // the top level is an object
      {"\"a\"", 0},                   // ... not a string
      {"{\"a\":01}", 6},              // no leading zeros
      {"{\"a\":1.}", 7},              // a fraction needs a digit
      {"{\"a\":-}", 6},               // a minus needs a digit
      {"{\"a\":1e}", 7},              // an exponent needs a digit
      {"{a:1}", 1},                   // keys are strings
      {"{\"a\" 1}", 5},               // a colon after the key
      {"{\"a\":tru}", 8},             // literals are spelled out
      {"{\"a\":\"x\x01\"}", 7},       // control characters must be escaped
      {"{\"a\":\"\\q\"}", 7},         // unknown escape
      {"{\"a\":\"\\u12g4\"}", 10},    // \u takes four hex digits
      {"{\"a\":1,}", 7},              // no trailing comma
      {"{\"a\":[1}", 7},              // closers must match
      {"{}x", 2},                     // nothing after the object
      {"{} ", 2},                     // not even whitespace: generation must end there
      {"{\"a\":1}}", 7},
      {"{  \"a\":1}", 2},             // whitespace: one space ...
      {"{\n\n\"a\":1}", 2},           // ... or one newline and indentation
      {"{\n\r\"a\":1}", 2},
  };
  for (const Case& c : cases) {
    JsonRecognizer r;
    EXPECT_EQ(accepted(c.text, r), c.good) << c.text;
    EXPECT_FALSE(r.complete()) << c.text;
  }
  // Indentation up to kMaxIndent, not beyond.
  JsonRecognizer ok;
  EXPECT_EQ(accepted("{\n" + std::string(JsonRecognizer::kMaxIndent, ' ') + "}", ok), JsonRecognizer::kMaxIndent + 3u);
  JsonRecognizer too_deep_indent;
  EXPECT_EQ(accepted("{\n" + std::string(JsonRecognizer::kMaxIndent + 1, '\t') + "}", too_deep_indent),
            JsonRecognizer::kMaxIndent + 2u);
}

TEST(JsonRecognizer, NestingStopsAtMaxDepth) {
  std::string text = "{\"a\":" + std::string(JsonRecognizer::kMaxDepth - 1, '[');
  JsonRecognizer r;
  EXPECT_EQ(accepted(text, r), text.size());
  EXPECT_FALSE(r.feed('['));
}

// Random JSON values of bounded depth.
nlohmann::json random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 4 : 6);
  switch (kind(rng)) {
    case 0: return nullptr;
    case 1: return std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    case 2: return std::uniform_int_distribution<int64_t>(-1000000, 1000000)(rng);
    case 3: return std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
    case 4: {
      std::string s;
      const int n = std::uniform_int_distribution<int>(0, 8)(rng);
      for (int i = 0; i < n; ++i) s += static_cast<char>(std::uniform_int_distribution<int>(1, 126)(rng));
      return s;
    }
    case 5: {
      nlohmann::json a = nlohmann::json::array();
      const int n = std::uniform_int_distribution<int>(0, 4)(rng);
      for (int i = 0; i < n; ++i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      const int n = std::uniform_int_distribution<int>(0, 4)(rng);
      for (int i = 0; i < n; ++i) o["k" + std::to_string(i)] = random_value(rng, depth + 1);
      return o;
    }
  }
}

TEST(JsonRecognizer, AgreesWithAJsonParserOnRandomDocumentsAndMutations) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  int mutants_complete = 0;
  for (int i = 0; i < 2000; ++i) {
    nlohmann::json doc = nlohmann::json::object();
    doc["root"] = random_value(rng, 0);
    for (const std::string& text : {doc.dump(), doc.dump(2)}) {
      JsonRecognizer r;
      ASSERT_EQ(accepted(text, r), text.size()) << text << " seed " << seed;
      ASSERT_TRUE(r.complete()) << text << " seed " << seed;
    }
    // Damage one byte: whatever the recognizer still calls a whole document must parse as an object.
    std::string mutant = doc.dump();
    const size_t at = std::uniform_int_distribution<size_t>(0, mutant.size() - 1)(rng);
    mutant[at] = "{}[]\",:0123456789.eE+-tfnul \\x"[std::uniform_int_distribution<int>(0, 30)(rng)];
    JsonRecognizer m;
    if (accepted(mutant, m) == mutant.size() && m.complete()) {
      ++mutants_complete;
      try {
        ASSERT_TRUE(nlohmann::json::parse(mutant).is_object()) << mutant;
      } catch (const nlohmann::json::parse_error& e) {
        FAIL() << mutant << ": " << e.what() << " seed " << seed;
      } catch (const nlohmann::json::out_of_range&) {
        // Valid syntax with a number too large for a double (an exponent mutated to 63788): fine.
      }
    }
  }
  EXPECT_GT(mutants_complete, 0);  // some mutations keep the text valid (a digit for a digit): checked too
}

TEST(JsonConstraint, TrieWalkMatchesFeedingEveryTokenAlone) {
  EngineOptions eo;
  eo.model_path = strata::testing::shared_path("models/stories260K.gguf");
  auto lm = LoadedModel::load(eo);
  ASSERT_TRUE(lm.is_ok()) << lm.status().message();
  const VocabBytes vocab(lm.value()->tokenizer());
  ASSERT_EQ(vocab.sorted.size(), vocab.pieces.size());
  const std::string doc = "{\"name\": \"Ann \\u00e9\", \"n\": [1, -2.5e3, true, null], \"o\": {}}";
  JsonRecognizer state;
  std::vector<uint8_t> fast;
  for (size_t at = 0; at <= doc.size(); ++at) {
    allowed_pieces(vocab, state, fast);
    size_t n_ok = 0;
    for (size_t id = 0; id < vocab.pieces.size(); ++id) {
      JsonRecognizer alone = state;
      const bool want = !vocab.pieces[id].empty() && alone.feed(vocab.pieces[id]);
      ASSERT_EQ(fast[id] != 0, want) << "after " << at << " bytes, token " << id << " '" << vocab.pieces[id] << "'";
      n_ok += want;
    }
    if (at < doc.size()) {
      EXPECT_GT(n_ok, 0u) << at;
      ASSERT_TRUE(state.feed(static_cast<uint8_t>(doc[at])));
    }
  }
}

TEST(JsonConstraint, Stories260KOnlyWritesJson) {
  EngineOptions eo;
  eo.model_path = strata::testing::shared_path("models/stories260K.gguf");
  eo.n_threads = 1;
  auto lm = LoadedModel::load(eo);
  ASSERT_TRUE(lm.is_ok()) << lm.status().message();
  const auto& tok = lm.value()->tokenizer();
  int finished = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    Session session(*lm.value(), 128);
    JsonConstraint json(tok);
    GenerateRequest req;
    req.prompt = tok.encode("Once upon a time", /*add_bos=*/true);
    req.max_tokens = 100;
    req.sampling.temperature = seed % 3 == 0 ? 0.0f : 1.0f;
    req.sampling.seed = seed;
    req.constraint = &json;
    auto res = session.generate(req, nullptr);
    ASSERT_TRUE(res.is_ok()) << res.status().message();
    JsonRecognizer check;
    ASSERT_EQ(accepted(res.value().text, check), res.value().text.size()) << "seed " << seed << ": " << res.value().text;
    if (res.value().reason == StopReason::Eos) {
      ++finished;
      EXPECT_TRUE(check.complete()) << res.value().text;
      EXPECT_TRUE(nlohmann::json::parse(res.value().text).is_object());
    } else {
      EXPECT_EQ(res.value().reason, StopReason::Length);
      EXPECT_FALSE(check.complete()) << "a whole object must end the generation: " << res.value().text;
    }
  }
  std::printf("stories260K in JSON mode: %d of 12 generations closed their object within 100 tokens\n", finished);
}

TEST(JsonConstraint, EndOfGenerationOnlyOnceTheObjectIsClosed) {
  EngineOptions eo;
  eo.model_path = strata::testing::shared_path("models/stories260K.gguf");
  auto lm = LoadedModel::load(eo);
  ASSERT_TRUE(lm.is_ok()) << lm.status().message();
  const auto& tok = lm.value()->tokenizer();
  const int32_t eos = *tok.vocab().eos_id();
  const auto n_vocab = static_cast<size_t>(tok.vocab().size());
  JsonConstraint json(tok);
  std::vector<float> logits(n_vocab, 0.0f);
  ASSERT_TRUE(json.restrict(logits).is_ok());
  EXPECT_TRUE(std::isinf(logits[static_cast<size_t>(eos)]));
  // Walk the tokens of a small object; at the end only end-of-generation tokens remain.
  for (int32_t t : tok.encode("{\"a\":1}", /*add_bos=*/false)) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    ASSERT_TRUE(json.restrict(logits).is_ok());
    ASSERT_FALSE(std::isinf(logits[static_cast<size_t>(t)])) << "token " << t << " '" << tok.token_to_piece(t) << "'";
    json.accept(t);
  }
  EXPECT_TRUE(json.complete());
  std::fill(logits.begin(), logits.end(), 0.0f);
  ASSERT_TRUE(json.restrict(logits).is_ok());
  for (size_t id = 0; id < n_vocab; ++id)
    EXPECT_EQ(!std::isinf(logits[id]), is_end_of_generation(tok, static_cast<int32_t>(id))) << id;
}

}  // namespace
}  // namespace strata::constrain
