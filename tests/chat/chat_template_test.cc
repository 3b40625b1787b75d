// tests/chat/chat_template_test.cc: every real template in ../shared/templates renders every golden
// conversation byte-identically to Python's jinja2 (data/chat_template_goldens.json, made by
// tools/make_template_goldens.py), in transformers' environment and in jinja2's defaults; plus the
// client fix-ups: system merging, BOS detection and the fallback templates.
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "jinja/jinja_json.h"
#include "chat/chat_template.h"

namespace strata::chat {
namespace {

using jinja::Dict;
using jinja::Value;
using Json = nlohmann::ordered_json;

using jinja::testing::from_json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The instant the golden script pins strftime_now to: 2025-03-14 09:26:53.
std::tm pinned_time() {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 2;
  tm.tm_mday = 14;
  tm.tm_hour = 9;
  tm.tm_min = 26;
  tm.tm_sec = 53;
  std::mktime(&tm);
  return tm;
}

ChatOptions options_for(const std::string& mode, bool merge) {
  ChatOptions options;
  options.engine = mode == "hf" ? jinja::Options::huggingface() : jinja::Options{};
  options.merge_system_on_refusal = merge;
  options.now = pinned_time;
  return options;
}

std::optional<std::string> optional_string(const Json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

ChatRequest request_for(const Json& golden, const Json& c) {
  const Json& conversation = golden["conversations"][c["conversation"].get<std::string>()];
  ChatRequest r;
  r.messages = from_json(conversation["messages"]);
  if (conversation.contains("tools")) r.tools = from_json(conversation["tools"]);
  r.add_generation_prompt = c["add_generation_prompt"];
  r.bos_token = optional_string(c["bos_token"]);
  r.eos_token = optional_string(c["eos_token"]);
  r.extra_vars = from_json(c["extra"]);
  return r;
}

TEST(ChatTemplate, RealTemplatesMatchPythonJinja2ByteForByte) {
  const Json golden =
      Json::parse(read_file(std::string(STRATA_SOURCE_DIR) + "/tests/chat/data/chat_template_goldens.json"));
  ASSERT_GE(golden["cases"].size(), 800u);
  std::map<std::string, std::string> sources;
  std::set<std::string> templates_seen;
  int rendered = 0;
  int refused = 0;
  for (const Json& c : golden["cases"]) {
    const std::string name = c["template"];
    if (!sources.count(name)) sources[name] = read_file(testing::shared_path("templates/" + name));
    templates_seen.insert(name);
    const std::string label =
        name + " / " + c["conversation"].get<std::string>() + " / " + c["mode"].get<std::string>() +
        " / agp=" + (c["add_generation_prompt"].get<bool>() ? "1" : "0") + " / extra=" + c["extra"].dump();
    Result<RenderedChat> out = render_chat(sources[name], request_for(golden, c), options_for(c["mode"], false));
    if (c.contains("expected")) {
      ASSERT_TRUE(out.is_ok()) << label << ": " << out.status().message();
      EXPECT_EQ(out->text, c["expected"].get<std::string>()) << label;
      ++rendered;
    } else {
      ASSERT_FALSE(out.is_ok()) << label << ": jinja2 failed with " << c["error"] << " but we rendered:\n" << out->text;
      if (c["raised"].get<bool>()) {
        EXPECT_NE(out.status().message().find("template raised: " + c["error"].get<std::string>()), std::string::npos)
            << label << ": " << out.status().message();
      }
      ++refused;
    }
  }
  // Every template file in shared/ has goldens (regenerate them when one is added), and both outcomes
  // are exercised.
  std::set<std::string> templates_on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(testing::shared_path("templates"))) {
    if (entry.path().extension() == ".jinja") templates_on_disk.insert(entry.path().filename().string());
  }
  EXPECT_EQ(templates_seen, templates_on_disk);
  EXPECT_GE(templates_seen.size(), 17u);
  EXPECT_GT(rendered, 600);  // 650 of the 842 cases render; the rest fail in jinja2 too
  EXPECT_GT(refused, 150);
}

TEST(ChatTemplate, SystemMessageIsMergedWhenTheTemplateRefusesIt) {
  const Json golden =
      Json::parse(read_file(std::string(STRATA_SOURCE_DIR) + "/tests/chat/data/chat_template_goldens.json"));
  int merged = 0;
  for (const Json& c : golden["cases"]) {
    if (!c.contains("merged_system_expected")) continue;
    const std::string name = c["template"];
    const std::string source = read_file(testing::shared_path("templates/" + name));
    Result<RenderedChat> out = render_chat(source, request_for(golden, c), options_for(c["mode"], true));
    ASSERT_TRUE(out.is_ok()) << name << ": " << out.status().message();
    EXPECT_TRUE(out->merged_system) << name;
    EXPECT_EQ(out->text, c["merged_system_expected"].get<std::string>()) << name << " / " << c["conversation"];
    ++merged;
  }
  EXPECT_GE(merged, 6);  // Gemma 2 and Mixtral refuse system messages in several conversations
}

Value conversation() {
  return Value::list({Value::dict({{"role", Value("system")}, {"content", Value("Be brief.")}}),
                      Value::dict({{"role", Value("user")}, {"content", Value("Hi")}}),
                      Value::dict({{"role", Value("assistant")}, {"content", Value("Hello.")}}),
                      Value::dict({{"role", Value("user")}, {"content", Value("Bye")}})});
}

TEST(ChatTemplate, ReportsWhetherTheTextAlreadyStartsWithBos) {
  ChatRequest r;
  r.messages = conversation();
  r.bos_token = "<|begin_of_text|>";
  ChatOptions options;
  options.now = pinned_time;
  Result<RenderedChat> llama =
      render_chat(read_file(testing::shared_path("templates/meta-llama-Llama-3.2-3B-Instruct.jinja")), r, options);
  ASSERT_TRUE(llama.is_ok()) << llama.status().message();
  EXPECT_TRUE(llama->starts_with_bos);
  EXPECT_NE(llama->text.find("Today Date: 14 Mar 2025"), std::string::npos) << "strftime_now uses the pinned clock";

  Result<RenderedChat> chatml = render_chat(read_file(testing::shared_path("templates/chatml.jinja")), r, options);
  ASSERT_TRUE(chatml.is_ok()) << chatml.status().message();
  EXPECT_FALSE(chatml->starts_with_bos);
  EXPECT_EQ(chatml->text.rfind("<|im_start|>system\nBe brief.<|im_end|>\n", 0), 0u);
}

TEST(ChatTemplate, FallbackTemplatesForModelsWithoutOne) {
  ChatRequest r;
  r.messages = conversation();
  Result<RenderedChat> chatml = render_chat("", r);
  ASSERT_TRUE(chatml.is_ok()) << chatml.status().message();
  EXPECT_TRUE(chatml->used_fallback);
  EXPECT_EQ(chatml->text,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");

  ChatOptions transcript;
  transcript.fallback = FallbackStyle::Transcript;
  r.add_generation_prompt = true;
  Result<RenderedChat> plain = render_chat("  \n", r, transcript);
  ASSERT_TRUE(plain.is_ok()) << plain.status().message();
  EXPECT_EQ(plain->text, "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Bye\n\nAssistant:");
  r.add_generation_prompt = false;
  plain = render_chat("", r, transcript);
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain->text, "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Bye\n\n");
}

TEST(ChatTemplate, MergeIsNotAttemptedForOtherFailures) {
  ChatRequest r;
  r.messages = conversation();
  // The template fails for a reason other than raise_exception: the error comes back unchanged.
  Result<RenderedChat> out = render_chat("{{ messages[0].content + 1 }}", r);
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("can only concatenate str"), std::string::npos) << out.status().message();

  // A refusal that merging cannot fix is reported as the template's own error.
  out = render_chat("{{ raise_exception('never') }}", r);
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("template raised: never"), std::string::npos) << out.status().message();
}

TEST(ChatTemplate, BadInputsAreErrorsNotCrashes) {
  ChatRequest r;
  r.messages = Value("not a list");
  EXPECT_FALSE(render_chat("{{ messages }}", r).is_ok());

  r.messages = conversation();
  r.extra_vars = Value(3);
  EXPECT_FALSE(render_chat("{{ messages }}", r).is_ok());

  r.extra_vars = Value();
  Result<RenderedChat> bad = render_chat("ok\n{% for m in messages %}{{ m.role }", r);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("chat template: line 2"), std::string::npos) << bad.status().message();
}

TEST(ChatTemplate, ExtraVariablesReachTheTemplate) {
  ChatRequest r;
  r.messages = conversation();
  r.extra_vars = Value::dict({{"date_string", Value("01 Jan 2030")}});
  Result<RenderedChat> out =
      render_chat(read_file(testing::shared_path("templates/meta-llama-Llama-3.1-8B-Instruct.jinja")), r);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_NE(out->text.find("Today Date: 01 Jan 2030"), std::string::npos);
}

}  // namespace
}  // namespace strata::chat
