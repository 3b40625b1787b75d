// tests/chat/output_parser_test.cc: the output parsers on model outputs as the model families publish
// them (model cards, vendor docs, public issue threads), whole and streamed a byte at a time, and on
// malformed calls, which must come out as text rather than vanish or crash.
#include <gtest/gtest.h>

#include <random>

#include "chat/output_parser.h"

namespace strata::chat {
namespace {

// The same text fed one byte at a time must give the same result as fed whole.
ParsedDelta streamed(std::string_view text, ParserOptions o) {
  OutputParser p(o);
  ParsedDelta out;
  for (char c : text) out.append(p.feed(std::string_view(&c, 1)));
  out.append(p.finish());
  return out;
}

void expect_same(const ParsedDelta& a, const ParsedDelta& b) {
  EXPECT_EQ(a.content, b.content);
  EXPECT_EQ(a.thinking, b.thinking);
  ASSERT_EQ(a.calls.size(), b.calls.size());
  for (size_t i = 0; i < a.calls.size(); ++i) {
    EXPECT_EQ(a.calls[i].name, b.calls[i].name);
    EXPECT_EQ(a.calls[i].arguments, b.calls[i].arguments);
  }
}

ParsedDelta both(std::string_view text, ParserOptions o) {
  ParsedDelta whole = parse_output(text, o);
  expect_same(whole, streamed(text, o));
  return whole;
}

TEST(OutputFormat, DetectsFamiliesFromTemplates) {
  EXPECT_EQ(detect_tool_format("{{- '<|python_tag|>' }}<|start_header_id|>"), ToolFormat::Llama3);
  EXPECT_EQ(detect_tool_format("<tool_call>\\n{{ tool_call | tojson }}"), ToolFormat::Hermes);
  EXPECT_EQ(detect_tool_format("{{- '[TOOL_CALLS]' + name }}"), ToolFormat::Mistral);
  EXPECT_EQ(detect_tool_format("<|channel|>commentary functions.x"), ToolFormat::Harmony);
  EXPECT_EQ(detect_tool_format("{{ messages }}"), ToolFormat::None);
  EXPECT_EQ(detect_think_format("<think>\\n</think>"), ThinkFormat::Tags);
  EXPECT_EQ(detect_think_format("<|channel|>analysis<|message|>"), ThinkFormat::Harmony);
}

// Qwen 2.5's function-calling guide: two parallel calls.
TEST(Hermes, QwenParallelCalls) {
  const std::string text =
      "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"San Francisco, CA, USA\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"get_temperature_date\", \"arguments\": {\"location\": \"San Francisco, "
      "CA, USA\", \"date\": \"2024-10-01\"}}\n</tool_call>";
  auto r = both(text, {.tools = ToolFormat::Hermes});
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_current_temperature");
  EXPECT_EQ(r.calls[0].arguments, R"({"location":"San Francisco, CA, USA"})");
  EXPECT_EQ(r.calls[1].arguments, R"({"location":"San Francisco, CA, USA","date":"2024-10-01"})");
  EXPECT_EQ(r.content, "");
}

// Qwen3 thinks, then calls; text before a call stays content.
TEST(Hermes, Qwen3ThinkingThenCall) {
  const std::string text =
      "<think>\nOkay, the user wants the weather in Paris. I should call get_weather.\n</think>\n\n"
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
  auto r = both(text, {.tools = ToolFormat::Hermes, .think = ThinkFormat::Tags});
  EXPECT_EQ(r.thinking, "\nOkay, the user wants the weather in Paris. I should call get_weather.\n");
  EXPECT_EQ(r.content, "Let me check.\n");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, R"({"city":"Paris"})");
}

// Reported against several servers: a call with a missing closing brace, and one that never closes.
TEST(Hermes, MalformedCallsComeOutAsText) {
  const std::string bad = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}\n</tool_call>";
  auto r = both(bad, {.tools = ToolFormat::Hermes});
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, bad);
  const std::string open = "Sure <tool_call>\n{\"name\": \"get_weather\", \"argu";
  auto u = both(open, {.tools = ToolFormat::Hermes});
  EXPECT_TRUE(u.calls.empty());
  EXPECT_EQ(u.content, open);
  // A whole object without the closing tag (the model stopped at EOS) is still the call.
  auto c = both("<tool_call>\n{\"name\": \"f\", \"arguments\": {}}", {.tools = ToolFormat::Hermes});
  ASSERT_EQ(c.calls.size(), 1u);
  EXPECT_EQ(c.calls[0].arguments, "{}");
}

// Arguments as a JSON string holding an object (seen from small models) are unwrapped.
TEST(Hermes, StringArgumentsAreUnwrapped) {
  auto r = both("<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>", {.tools = ToolFormat::Hermes});
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, R"({"a":1})");
}

// Llama 3.1's model card: JSON-based tool calling, with and without <|python_tag|>.
TEST(Llama3, JsonCalls) {
  auto r = both("{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"San Francisco, CA\", \"unit\": "
                "\"Fahrenheit\"}}",
                {.tools = ToolFormat::Llama3});
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "get_current_conditions");
  EXPECT_EQ(r.calls[0].arguments, R"({"location":"San Francisco, CA","unit":"Fahrenheit"})");
  auto t = both("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Tokyo\"}}",
                {.tools = ToolFormat::Llama3});
  ASSERT_EQ(t.calls.size(), 1u);
  EXPECT_EQ(t.calls[0].name, "get_weather");
  // Two calls separated by `; ` (Llama 3.2 does this).
  auto two = both("{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"x\": 1}}",
                  {.tools = ToolFormat::Llama3});
  ASSERT_EQ(two.calls.size(), 2u);
  EXPECT_EQ(two.calls[1].name, "b");
}

TEST(Llama3, TextAndJsonWithoutANameAreContent) {
  auto r = both("The answer is {not a call}.", {.tools = ToolFormat::Llama3});
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "The answer is {not a call}.");
  auto j = both("{\"city\": \"Paris\"}", {.tools = ToolFormat::Llama3});
  EXPECT_TRUE(j.calls.empty());
  EXPECT_EQ(j.content, "{\"city\": \"Paris\"}");
  auto open = both("{\"name\": \"f\", \"parameters\": {", {.tools = ToolFormat::Llama3});
  EXPECT_TRUE(open.calls.empty());
  EXPECT_EQ(open.content, "{\"name\": \"f\", \"parameters\": {");
}

// Mistral Nemo / 7B v0.3 (array) and Mistral Small 3.2 ([ARGS]) as their model cards show them.
TEST(Mistral, BothStyles) {
  auto r = both("[TOOL_CALLS][{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"Paris, France\", "
                "\"format\": \"celsius\"}}]",
                {.tools = ToolFormat::Mistral});
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, R"({"location":"Paris, France","format":"celsius"})");
  auto s = both("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[CALL_ID]abc123xyz[ARGS]{}",
                {.tools = ToolFormat::Mistral});
  ASSERT_EQ(s.calls.size(), 2u);
  EXPECT_EQ(s.calls[0].name, "get_weather");
  EXPECT_EQ(s.calls[1].name, "get_time");
  EXPECT_EQ(s.calls[1].arguments, "{}");
  auto bad = both("[TOOL_CALLS][{\"arguments\": {}}]", {.tools = ToolFormat::Mistral});
  EXPECT_TRUE(bad.calls.empty());
  EXPECT_EQ(bad.content, "[TOOL_CALLS][{\"arguments\": {}}]");
}

// OpenAI's Harmony guide: reasoning, then a function call; and reasoning, then a final answer.
TEST(Harmony, AnalysisThenCall) {
  const std::string text =
      "<|channel|>analysis<|message|>User asks: \"What is the weather in Tokyo?\" We need to use get_weather tool."
      "<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
      "{\"location\":\"Tokyo\"}<|call|>";
  auto r = both(text, {.tools = ToolFormat::Harmony, .think = ThinkFormat::Harmony});
  EXPECT_EQ(r.thinking, "User asks: \"What is the weather in Tokyo?\" We need to use get_weather tool.");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, R"({"location":"Tokyo"})");
  // The recipient may come before the channel, and the stop token may be missing from the text.
  auto alt = both("<|start|>assistant to=functions.lookup<|channel|>commentary json<|message|>{\"q\": 1}",
                  {.tools = ToolFormat::Harmony, .think = ThinkFormat::Harmony});
  ASSERT_EQ(alt.calls.size(), 1u);
  EXPECT_EQ(alt.calls[0].name, "lookup");
}

TEST(Harmony, AnalysisThenFinal) {
  auto r = both("<|channel|>analysis<|message|>User asks a simple question.<|end|><|start|>assistant<|channel|>final"
                "<|message|>2 + 2 = 4.<|return|>",
                {.think = ThinkFormat::Harmony});
  EXPECT_EQ(r.thinking, "User asks a simple question.");
  EXPECT_EQ(r.content, "2 + 2 = 4.");
  // A model that ignores the format (random weights): everything is content.
  auto plain = both("hello there", {.think = ThinkFormat::Harmony});
  EXPECT_EQ(plain.content, "hello there");
  // A call whose arguments do not parse is text.
  auto bad = both("<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"a\":<|call|>",
                  {.tools = ToolFormat::Harmony, .think = ThinkFormat::Harmony});
  EXPECT_TRUE(bad.calls.empty());
  EXPECT_EQ(bad.content, "{\"a\":");
}

// DeepSeek-R1 distills: the prompt ends with "<think>\n", so the output starts inside the thinking.
TEST(Thinking, R1DistillStartsInside) {
  auto r = both("Okay, so I need to add 2 and 2.\n</think>\n\nThe answer is 4.",
                {.think = ThinkFormat::Tags, .starts_in_thinking = true});
  EXPECT_EQ(r.thinking, "Okay, so I need to add 2 and 2.\n");
  EXPECT_EQ(r.content, "The answer is 4.");
  // An unclosed thought is all thinking.
  auto open = both("<think>still going", {.think = ThinkFormat::Tags});
  EXPECT_EQ(open.thinking, "still going");
  EXPECT_EQ(open.content, "");
  // Without a think format, tags are content.
  auto none = both("<think>x</think>y", {});
  EXPECT_EQ(none.content, "<think>x</think>y");
}


// Outputs stitched from marker fragments and junk, fed in random chunk sizes: never a crash, the same
// result as fed whole, and no byte of text lost except inside calls that parsed.
TEST(OutputParser, RandomSplitsOfMarkerSoupAgreeWithTheWholeText) {
  static const char* kPieces[] = {"<think>", "</think>", "<tool_call>", "</tool_call>", "[TOOL_CALLS]", "[ARGS]",
                                  "<|python_tag|>", "<|channel|>", "<|message|>", "<|end|>", "<|start|>", "<|call|>",
                                  "analysis", "final", "commentary to=functions.f", "{\"name\": \"f\", \"arguments\": {}}",
                                  "{", "}", "[", "]", "\"", "\\", "hello ", "\n", "<", "|", ";", "{\"a\": [1, \"}\"]}"};
  const ParserOptions kOptions[] = {{.tools = ToolFormat::Hermes, .think = ThinkFormat::Tags},
                                    {.tools = ToolFormat::Llama3},
                                    {.tools = ToolFormat::Mistral},
                                    {.tools = ToolFormat::Harmony, .think = ThinkFormat::Harmony},
                                    {.think = ThinkFormat::Tags, .starts_in_thinking = true}};
  std::mt19937 rng(1234);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) text += kPieces[rng() % std::size(kPieces)];
    const ParserOptions& o = kOptions[round % std::size(kOptions)];
    ParsedDelta whole = parse_output(text, o);
    OutputParser p(o);
    ParsedDelta chunked;
    for (size_t at = 0; at < text.size();) {
      const size_t len = std::min<size_t>(text.size() - at, 1 + rng() % 7);
      chunked.append(p.feed(std::string_view(text).substr(at, len)));
      at += len;
    }
    chunked.append(p.finish());
    SCOPED_TRACE(text);
    expect_same(whole, chunked);
    for (const auto& c : whole.calls) EXPECT_FALSE(c.name.empty());
    if (whole.calls.empty() && o.think == ThinkFormat::None && o.tools != ToolFormat::Harmony)
      EXPECT_EQ(whole.content.size() <= text.size(), true);
  }
}

}  // namespace
}  // namespace strata::chat
