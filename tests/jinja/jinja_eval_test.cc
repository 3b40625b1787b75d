// tests/jinja/jinja_eval_test.cc: the evaluator against Python's jinja2: every feature snippet in
// data/jinja_snippet_goldens.json (made by tools/make_template_goldens.py) renders byte-identically, or
// fails where jinja2 fails; plus scoping, limits and value-printing checks written out by hand.
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "jinja/jinja_json.h"
#include "jinja/template.h"
#include "jinja/value.h"

namespace strata::jinja {
namespace {

using Json = nlohmann::ordered_json;

using testing::from_json;

Json load_goldens(const std::string& name) {
  const std::string path = std::string(STRATA_SOURCE_DIR) + "/tests/jinja/data/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing golden file " << path << " (run tools/make_template_goldens.py)";
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

// The same globals the golden script installs: raise_exception and a pinned strftime_now.
Value with_globals(Value vars) {
  Dict d = vars.is_dict() ? vars.as_dict() : Dict{};
  d.set(Value("raise_exception"), Value::function("raise_exception", [](const CallArgs& a) -> Result<Value> {
          return Status::error("raised: " + (a.positional.empty() ? std::string() : to_str(a.positional[0])));
        }));
  d.set(Value("strftime_now"), Value::function("strftime_now", [](const CallArgs& a) -> Result<Value> {
          std::tm tm{};
          tm.tm_year = 2025 - 1900, tm.tm_mon = 2, tm.tm_mday = 14, tm.tm_hour = 9, tm.tm_min = 26, tm.tm_sec = 53;
          std::mktime(&tm);  // fills weekday and day of year
          char buf[256];
          const size_t n = std::strftime(buf, sizeof(buf), a.positional.at(0).as_string().c_str(), &tm);
          return Value(std::string(buf, n));
        }));
  return Value::dict(std::move(d));
}

Result<std::string> render(std::string_view source, const Value& vars, const Options& options) {
  STRATA_ASSIGN_OR_RETURN(Template t, Template::parse(source, options));
  return t.render(vars);
}

TEST(JinjaEval, SnippetGoldensMatchPythonJinja2) {
  const Json goldens = load_goldens("jinja_snippet_goldens.json");
  ASSERT_GT(goldens["cases"].size(), 100u);
  int failures = 0;
  for (const Json& c : goldens["cases"]) {
    const std::string source = c["source"];
    const Options options = c["mode"] == "hf" ? Options::huggingface() : Options{};
    Result<std::string> out = render(source, with_globals(from_json(c["variables"])), options);
    const std::string label = "[" + c["mode"].get<std::string>() + "] " + source;
    if (c.contains("expected")) {
      const std::string expected = c["expected"];
      if (!out.is_ok()) {
        ADD_FAILURE() << label << "\n  jinja2 rendered: " << expected << "\n  we failed: " << out.status().message();
        ++failures;
      } else if (*out != expected) {
        ADD_FAILURE() << label << "\n  jinja2: [" << expected << "]\n  ours:   [" << *out << "]";
        ++failures;
      }
    } else if (out.is_ok()) {
      ADD_FAILURE() << label << "\n  jinja2 failed (" << c["error"].get<std::string>() << ") but we rendered [" << *out
                    << "]";
      ++failures;
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(JinjaEval, ErrorsCarryLineAndColumn) {
  Result<std::string> out = render("line one\n{{ 1 +\n }}", Value::dict({}), Options{});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("line 3"), std::string::npos) << out.status().message();

  out = render("a\n\n  {{ x.y }}", Value::dict({}), Options{});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("line 3, column"), std::string::npos) << out.status().message();
  EXPECT_NE(out.status().message().find("'x' is undefined"), std::string::npos) << out.status().message();
}

TEST(JinjaEval, VariablesAndCallablesComeFromTheContext) {
  Value vars =
      Value::dict({{"name", Value("Ann")}, {"twice", Value::function("twice", [](const CallArgs& a) -> Result<Value> {
                                              return Value(a.positional.at(0).as_int() * 2);
                                            })}});
  Result<std::string> out = render("{{ name }}={{ twice(21) }}", vars, Options{});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ(*out, "Ann=42");
}

TEST(JinjaEval, StepLimitStopsRunawayLoops) {
  Options options;
  options.max_steps = 100000;
  Result<std::string> out = render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                                   Value::dict({}), options);
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("step limit"), std::string::npos) << out.status().message();
}

TEST(JinjaEval, RecursionLimitStopsEndlessMacros) {
  Result<std::string> out =
      render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", Value::dict({}), Options{});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("recursion"), std::string::npos) << out.status().message();
}

TEST(JinjaEval, OutputLimitStopsRunawayOutput) {
  Options options;
  options.max_output_bytes = 1000;
  Result<std::string> out = render("{% for i in range(1000) %}0123456789{% endfor %}", Value::dict({}), options);
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("size limit"), std::string::npos) << out.status().message();
}

TEST(JinjaEval, NamespaceSurvivesLoopScopesButPlainSetDoesNot) {
  Result<std::string> out = render(
      "{% set count = 0 %}{% set ns = namespace(count=0) %}"
      "{% for m in messages %}{% set count = count + 1 %}{% set ns.count = ns.count + 1 %}{% endfor %}"
      "{{ count }}/{{ ns.count }}",
      Value::dict({{"messages", Value::list({Value(1), Value(2), Value(3)})}}), Options{});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ(*out, "0/3");
}

TEST(JinjaEval, SelfReferencingNamespaceDoesNotLeakOrLoop) {
  Result<std::string> out =
      render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns.me.me is defined }}", Value::dict({}), Options{});
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ(*out, "True");
}

TEST(JinjaEval, TemplateRendersConcurrentlyFromManyThreads) {
  Result<Template> t = Template::parse("{% for i in range(n) %}{{ i }},{% endfor %}", Options::huggingface());
  ASSERT_TRUE(t.is_ok());
  std::vector<std::thread> threads;
  std::vector<std::string> outputs(4);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      Result<std::string> r = t->render(Value::dict({{"n", Value(k + 2)}}));
      outputs[static_cast<size_t>(k)] = r.is_ok() ? *r : "error";
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(outputs[0], "0,1,");
  EXPECT_EQ(outputs[3], "0,1,2,3,4,");
}

TEST(JinjaValue, PrintsLikePython) {
  EXPECT_EQ(to_str(Value(1.0)), "1.0");
  EXPECT_EQ(to_str(Value(0.1)), "0.1");
  EXPECT_EQ(to_str(Value(1e16)), "1e+16");
  EXPECT_EQ(to_str(Value(1e15)), "1000000000000000.0");
  EXPECT_EQ(to_str(Value(1.5e-5)), "1.5e-05");
  EXPECT_EQ(to_str(Value(0.0001)), "0.0001");
  EXPECT_EQ(to_str(Value(-2.5)), "-2.5");
  EXPECT_EQ(to_str(Value(true)), "True");
  EXPECT_EQ(to_str(Value::none()), "None");
  EXPECT_EQ(to_str(Value()), "");
  EXPECT_EQ(to_str(Value::list({Value("it's"), Value(1), Value::none()})), "[\"it's\", 1, None]");
  EXPECT_EQ(to_str(Value::tuple({Value("a")})), "('a',)");
  EXPECT_EQ(to_str(Value::dict({{"k", Value("v\n")}})), "{'k': 'v\\n'}");
}

TEST(JinjaValue, JsonMatchesPythonDumps) {
  Value v = Value::dict({{"b", Value("é<")}, {"a", Value::list({Value(1), Value(2.0), Value::none()})}});
  JsonOptions plain;
  EXPECT_EQ(*to_json(v, plain), "{\"b\": \"é<\", \"a\": [1, 2.0, null]}");
  JsonOptions ascii_sorted;
  ascii_sorted.ensure_ascii = true;
  ascii_sorted.sort_keys = true;
  ascii_sorted.html_safe = true;
  EXPECT_EQ(*to_json(v, ascii_sorted), "{\"a\": [1, 2.0, null], \"b\": \"\\u00e9\\u003c\"}");
  JsonOptions indented;
  indented.indent = "  ";
  EXPECT_EQ(*to_json(Value::dict({{"a", Value::list({Value(1)})}}), indented), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_FALSE(to_json(Value(), plain).is_ok());  // undefined is not serializable
}

TEST(JinjaValue, EqualityFollowsPython) {
  EXPECT_TRUE(equals(Value(1), Value(1.0)));
  EXPECT_TRUE(equals(Value(true), Value(1)));
  EXPECT_FALSE(equals(Value::list({Value(1)}), Value::tuple({Value(1)})));
  EXPECT_TRUE(equals(Value::dict({{"a", Value(1)}, {"b", Value(2)}}), Value::dict({{"b", Value(2)}, {"a", Value(1)}})));
  EXPECT_FALSE(equals(Value("1"), Value(1)));
  EXPECT_TRUE(equals(Value(), Value()));
}

// Issue 13, defect 1: a template that nests a list ~200k deep crashed the server (stack overflow in the
// recursive free of the value). The evaluator now refuses values deeper than kMaxValueDepth.
TEST(JinjaEval, DeeplyNestedValueIsRefusedNotACrash) {
  const std::string source =
      "{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% for j in range(200) %}{% set ns.x = [ns.x] %}"
      "{% endfor %}{% endfor %}done";
  auto out = render(source, Value::dict(Dict{}), Options{});
  ASSERT_FALSE(out.is_ok());
  EXPECT_TRUE(out.status().is_out_of_range()) << out.status().to_string();
  EXPECT_NE(out.status().message().find("nested deeper than"), std::string::npos) << out.status().message();
  // Just under the bound still renders.
  auto ok = render(
      "{% set ns = namespace(x=[]) %}{% for i in range(200) %}{% set ns.x = [ns.x] %}{% endfor %}"
      "{{ ns.x | length }}",
      Value::dict(Dict{}), Options{});
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  EXPECT_EQ(ok.value(), "1");
}

// A value nested a million deep (no template can make one now, but a caller could) frees without
// recursion: before the fix this overflowed the stack.
TEST(JinjaValue, DeeplyNestedValueFreesWithoutRecursion) {
  Value v = Value::list({});
  for (int i = 0; i < 1'000'000; ++i) v = (i % 3 == 1) ? Value::dict({{"k", v}}) : Value::list({v, Value(i)});
  EXPECT_EQ(v.depth(), 1'000'001u);
  Value shared = v;  // a second owner: freeing one leaves the other whole
  v = Value();
  EXPECT_EQ(shared.depth(), 1'000'001u);
  ASSERT_TRUE(shared.is_list());
  EXPECT_EQ(shared.as_list().size(), 2u);
  shared = Value();
  SUCCEED();
}

}  // namespace
}  // namespace strata::jinja
