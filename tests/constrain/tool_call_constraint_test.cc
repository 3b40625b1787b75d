// tests/constrain/tool_call_constraint_test.cc: the tool-call constraint: the framed recognizer on call texts
// of the Hermes and Harmony shapes (prefix, schema-checked JSON, suffix; alternatives side by side), and
// the constraint driving stories260K: a forced call always comes out whole and parses; a guarded one
// leaves the output free until its trigger appears.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "engine/runtime.h"
#include "engine/session.h"
#include "constrain/tool_call_constraint.h"
#include "support/test_support.h"

namespace strata::constrain {
namespace {

// {"city": "Paris" | "Tokyo", "metric"?: true | false}
std::shared_ptr<const CompiledSchema> city_schema() {
  auto s = std::make_shared<CompiledSchema>();
  SchemaNode obj;
  obj.kind = SchemaNode::Kind::Object;
  obj.props = {{"city", 1, true}, {"metric", 2, false}};
  SchemaNode city;
  city.kind = SchemaNode::Kind::Literals;
  city.literals = {"\"Paris\"", "\"Tokyo\""};
  SchemaNode metric;
  metric.kind = SchemaNode::Kind::Literals;
  metric.literals = {"true", "false"};
  s->nodes = {obj, city, metric};
  s->root = 0;
  return s;
}

std::shared_ptr<ToolCallSpec> hermes_spec(std::vector<std::string> triggers = {}) {
  auto spec = std::make_shared<ToolCallSpec>();
  spec->calls.push_back({"<tool_call>\n", city_schema(), "\n</tool_call>"});
  spec->triggers = std::move(triggers);
  return spec;
}

TEST(FramedRecognizer, AcceptsAWholeCallAndEndsOnlyAfterTheSuffix) {
  FramedRecognizer r(hermes_spec());
  const std::string text = "<tool_call>\n{\"city\": \"Paris\", \"metric\": true}\n</tool_call>";
  for (size_t i = 0; i < text.size(); ++i) {
    EXPECT_FALSE(r.can_end()) << "at " << i;
    ASSERT_TRUE(r.feed(static_cast<uint8_t>(text[i]))) << "refused byte " << i << " of " << text;
  }
  EXPECT_TRUE(r.can_end());
  EXPECT_FALSE(r.feed('x'));
}

TEST(FramedRecognizer, RefusesWrongPrefixValuesAndControlTokensInsideTheJson) {
  FramedRecognizer a(hermes_spec());
  EXPECT_FALSE(a.feed("<tool_cal>"));
  FramedRecognizer b(hermes_spec());
  EXPECT_FALSE(b.feed("<tool_call>\n{\"city\": \"Lima\""));
  FramedRecognizer c(hermes_spec());
  EXPECT_TRUE(c.feed("<tool_call>\n{\"city\": \"", /*literal_only=*/false));
  EXPECT_FALSE(c.feed("P", /*literal_only=*/true)) << "a control token may not write JSON";
  FramedRecognizer d(hermes_spec());
  EXPECT_TRUE(d.feed("<tool_", /*literal_only=*/true));
}

TEST(FramedRecognizer, HarmonyAlternativesDivergeOnTheToolName) {
  auto spec = std::make_shared<ToolCallSpec>();
  for (std::string name : {"get_weather", "get_time"})
    spec->calls.push_back({"<|channel|>commentary to=functions." + name + " <|constrain|>json<|message|>", city_schema(), ""});
  FramedRecognizer r(spec);
  ASSERT_TRUE(r.feed("<|channel|>commentary to=functions.get_t"));
  EXPECT_FALSE(FramedRecognizer(r).feed("w"));
  ASSERT_TRUE(r.feed("ime <|constrain|>json<|message|>{\"city\":\"Tokyo\"}"));
  EXPECT_TRUE(r.can_end());
}

class Stories : public ::testing::Test {
 protected:
  void SetUp() override {
    engine::EngineOptions eo;
    eo.model_path = strata::testing::shared_path("models/stories260K.gguf");
    eo.n_threads = 1;
    auto lm = engine::LoadedModel::load(eo);
    ASSERT_TRUE(lm.is_ok()) << lm.status().message();
    lm_ = std::move(lm).value();
  }
  std::unique_ptr<engine::LoadedModel> lm_;
};

TEST_F(Stories, AForcedCallAlwaysComesOutWholeAndParses) {
  const auto& tok = lm_->tokenizer();
  auto spec = hermes_spec();
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    engine::Session session(*lm_, 256);
    ToolCallConstraint c(tok, spec);
    engine::GenerateRequest req;
    req.prompt = tok.encode("Once upon a time", /*add_bos=*/true);
    req.max_tokens = 120;
    req.sampling.temperature = seed % 2 ? 1.0f : 0.0f;
    req.sampling.seed = seed;
    req.constraint = &c;
    auto res = session.generate(req, nullptr);
    ASSERT_TRUE(res.is_ok()) << res.status().message();
    const std::string& text = res.value().text;
    ASSERT_EQ(res.value().reason, engine::StopReason::Eos) << "seed " << seed << ": " << text;
    ASSERT_EQ(text.rfind("<tool_call>\n", 0), 0u) << text;
    ASSERT_GE(text.size(), 25u);
    ASSERT_EQ(text.substr(text.size() - 13), "\n</tool_call>") << text;
    auto j = nlohmann::json::parse(text.substr(12, text.size() - 25));
    EXPECT_TRUE(j["city"] == "Paris" || j["city"] == "Tokyo") << text;
  }
}

TEST_F(Stories, AGuardedCallLeavesTheOutputFreeUntilItsTrigger) {
  const auto& tok = lm_->tokenizer();
  ToolCallConstraint c(tok, hermes_spec({"<tool_call>"}));
  std::vector<float> logits(static_cast<size_t>(tok.vocab().size()), 0.0f);
  ASSERT_TRUE(c.restrict(logits).is_ok());
  for (float l : logits) ASSERT_FALSE(std::isinf(l));
  for (int32_t t : tok.encode("Hi <tool_call>\n{", /*add_bos=*/false)) c.accept(t);
  EXPECT_TRUE(c.active());
  std::fill(logits.begin(), logits.end(), 0.0f);
  ASSERT_TRUE(c.restrict(logits).is_ok());
  for (int32_t t : tok.encode("\"city\"", false)) {
    EXPECT_FALSE(std::isinf(logits[static_cast<size_t>(t)]));
    break;
  }
  EXPECT_TRUE(std::isinf(logits[static_cast<size_t>(*tok.vocab().eos_id())]));
  // The call ends; the output is free again.
  for (int32_t t : tok.encode("\"city\": \"Tokyo\"}\n</tool_call>", false)) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    ASSERT_TRUE(c.restrict(logits).is_ok());
    ASSERT_FALSE(std::isinf(logits[static_cast<size_t>(t)])) << tok.token_to_piece(t);
    c.accept(t);
  }
  EXPECT_FALSE(c.active());
}

}  // namespace
}  // namespace strata::constrain
