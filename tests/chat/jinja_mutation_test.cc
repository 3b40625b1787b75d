// tests/chat/jinja_mutation_test.cc: thousands of damaged chat templates (cuts, byte flips, inserted
// tags and brackets, duplicated and swapped slices, random bytes) each parse-and-render or fail with a
// positioned error, and never crash or hang. Deterministic (fixed seed); set STRATA_MUTATION_VERBOSE=1
// to print every mutant before it runs when hunting a crash.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "support/test_support.h"
#include "chat/chat_template.h"

namespace strata::chat {
namespace {

using jinja::Value;

constexpr int kMutantsPerTemplate = 300;

std::vector<std::string> corpus() {
  std::vector<std::string> sources;
  for (const auto& entry : std::filesystem::directory_iterator(testing::shared_path("templates"))) {
    if (entry.path().extension() != ".jinja") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    sources.push_back(text.str());
  }
  sources.emplace_back(kChatMLTemplate);
  sources.emplace_back(kTranscriptTemplate);
  sources.emplace_back(
      "{% macro f(x, d=0) %}{% if d < 3 %}[{{ f(x, d + 1) }}]{% endif %}{{ x|trim|upper }}{% endmacro %}"
      "{% set ns = namespace(n=0) %}{% for m in messages if m.role != 'tool' %}{% set ns.n = ns.n + loop.index %}"
      "{{ f(m.content) ~ (m.content[1:-1] if m.content is string else '') }}{% endfor %}{{ ns.n }}"
      "{{ tools|tojson(indent=2) if tools else {'a': [1, 2.5, none]}|tojson }}{{ range(3)|join(',') }}");
  return sources;
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::string mutate(std::string s) {
    const int rounds = 1 + pick(3);
    for (int r = 0; r < rounds; ++r) s = mutate_once(std::move(s));
    return s;
  }

  std::string garbage() {
    static constexpr std::string_view kAlphabet = "{}%#-+()[]'\"|.~ \n\tabcifnorxyz0123456789=,:*/<>!\\";
    std::string s;
    const int n = pick(200);
    for (int i = 0; i < n; ++i) {
      s += pick(10) == 0 ? static_cast<char>(pick(256))
                         : kAlphabet[static_cast<size_t>(pick(static_cast<int>(kAlphabet.size())))];
    }
    return s;
  }

 private:
  int pick(int n) { return n <= 0 ? 0 : static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  size_t pos(const std::string& s) { return static_cast<size_t>(pick(static_cast<int>(s.size()) + 1)); }

  std::string mutate_once(std::string s) {
    static constexpr std::string_view kFragments[] = {"{%",
                                                      "%}",
                                                      "{{",
                                                      "}}",
                                                      "{#",
                                                      "#}",
                                                      "{%-",
                                                      "-%}",
                                                      "{{-",
                                                      "-}}",
                                                      "(",
                                                      ")",
                                                      "[",
                                                      "]",
                                                      "{",
                                                      "}",
                                                      "'",
                                                      "\"",
                                                      "|",
                                                      "~",
                                                      " is ",
                                                      " not ",
                                                      " in ",
                                                      "loop.",
                                                      "{% for x in messages %}",
                                                      "{% endfor %}",
                                                      "{% if x %}",
                                                      "{% endif %}",
                                                      "{% else %}",
                                                      "{% macro m(a) %}",
                                                      "{% endmacro %}",
                                                      "{{ m(1) }}",
                                                      "{% set ns.x = 1 %}",
                                                      "{% raw %}",
                                                      "{% endraw %}",
                                                      "\\",
                                                      "\xff",
                                                      "\xc3",
                                                      "\n",
                                                      "**",
                                                      "//",
                                                      "[::-1]",
                                                      "|tojson",
                                                      "|items",
                                                      "{% break %}",
                                                      "{% continue %}",
                                                      "range(99999)",
                                                      "{{ raise_exception('x') }}",
                                                      "messages[0]"};
    switch (pick(7)) {
      case 0: return s.substr(0, pos(s));  // cut the tail
      case 1: {                            // cut a range out
        const size_t a = pos(s);
        const size_t len = static_cast<size_t>(pick(64));
        return s.erase(a, len);
      }
      case 2:  // flip a byte
        if (!s.empty()) s[pos(s) % s.size()] = static_cast<char>(pick(256));
        return s;
      case 3: {  // insert a syntax fragment
        const std::string_view f = kFragments[static_cast<size_t>(pick(static_cast<int>(std::size(kFragments))))];
        return s.insert(pos(s), f);
      }
      case 4: {  // duplicate a slice somewhere else
        const size_t a = pos(s);
        const std::string slice = s.substr(a, static_cast<size_t>(pick(80)));
        return s.insert(pos(s), slice);
      }
      case 5: {  // swap two adjacent slices
        const size_t a = pos(s);
        const size_t n1 = std::min(s.size() - a, static_cast<size_t>(pick(40)));
        const size_t n2 = std::min(s.size() - a - n1, static_cast<size_t>(pick(40)));
        return s.substr(0, a) + s.substr(a + n1, n2) + s.substr(a, n1) + s.substr(a + n1 + n2);
      }
      default:  // replace a byte with a syntax character
        if (!s.empty()) s[pos(s) % s.size()] = "{}%#-+()[]'\"|.~"[pick(15)];
        return s;
    }
  }

  std::mt19937_64 rng_;
};

ChatRequest request() {
  const Value tool_call = Value::dict(
      {{"id", Value("call12345")},
       {"type", Value("function")},
       {"function",
        Value::dict({{"name", Value("get_weather")}, {"arguments", Value::dict({{"city", Value("Paris")}})}})}});
  ChatRequest r;
  r.messages = Value::list({
      Value::dict({{"role", Value("system")}, {"content", Value("Be brief.")}}),
      Value::dict({{"role", Value("user")}, {"content", Value("Weather in Paris? 東京")}}),
      Value::dict({{"role", Value("assistant")}, {"content", Value::none()}, {"tool_calls", Value::list({tool_call})}}),
      Value::dict({{"role", Value("tool")}, {"tool_call_id", Value("call12345")}, {"content", Value("sunny")}}),
      Value::dict({{"role", Value("assistant")}, {"content", Value("Sunny.")}}),
      Value::dict({{"role", Value("user")}, {"content", Value("  thanks  ")}}),
  });
  r.tools = Value::list({Value::dict(
      {{"type", Value("function")},
       {"function",
        Value::dict({{"name", Value("get_weather")},
                     {"description", Value("Weather.")},
                     {"parameters",
                      Value::dict({{"type", Value("object")},
                                   {"properties",
                                    Value::dict({{"city", Value::dict({{"type", Value("string")},
                                                                       {"description", Value("City")}})}})}})}})}})});
  r.bos_token = "<s>";
  r.eos_token = "</s>";
  return r;
}

TEST(JinjaMutation, DamagedTemplatesRenderOrFailButNeverCrashOrHang) {
  const bool verbose = std::getenv("STRATA_MUTATION_VERBOSE") != nullptr;
  const std::vector<std::string> sources = corpus();
  ASSERT_GE(sources.size(), 12u);
  const ChatRequest req = request();
  ChatOptions options;
  options.engine.max_steps = 200000;
  options.engine.max_output_bytes = size_t{1} << 20;
  options.now = [] { return std::tm{}; };
  ChatOptions plain = options;
  plain.engine.trim_blocks = plain.engine.lstrip_blocks = plain.engine.hf_tojson = false;

  Mutator mutator(20250314);
  int n_mutants = 0;
  int parse_errors = 0;
  int render_errors = 0;
  int rendered = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t t = 0; t < sources.size(); ++t) {
    for (int i = 0; i < kMutantsPerTemplate; ++i) {
      const std::string mutant = i % 10 == 9 ? mutator.garbage() : mutator.mutate(sources[t]);
      if (verbose) std::fprintf(stderr, "--- mutant %zu/%d ---\n%s\n", t, i, mutant.c_str());
      ++n_mutants;
      Result<ChatTemplate> parsed = ChatTemplate::create(mutant, i % 2 ? plain : options);
      if (!parsed.is_ok()) {
        ++parse_errors;
        EXPECT_NE(parsed.status().message().find("line "), std::string::npos) << parsed.status().message();
        continue;
      }
      Result<RenderedChat> out = parsed->render(req);
      if (out.is_ok()) {
        ++rendered;
      } else {
        ++render_errors;
        EXPECT_FALSE(out.status().message().empty());
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("mutants: %d, parse errors: %d, render errors: %d, rendered: %d, %.2f s\n", n_mutants, parse_errors,
              render_errors, rendered, seconds);
  EXPECT_GE(n_mutants, 3000);
  // The mutations must exercise all three outcomes, or the test proves nothing.
  EXPECT_GT(parse_errors, n_mutants / 10);
  EXPECT_GT(render_errors, 50);
  EXPECT_GT(rendered, n_mutants / 10);
}

TEST(JinjaMutation, HostileTemplatesHitLimitsNotTheStack) {
  ChatRequest req = request();
  const std::string deep_macro = "{% macro f(n) %}{{ " + std::string(200, '(') + "f(n + 1)" + std::string(200, ')') +
                                 " }}{% endmacro %}{{ f(0) }}";
  const std::string cases[] = {
      deep_macro,
      "{% for a in range(99999) %}{% for b in range(99999) %}{{ a }}{% endfor %}{% endfor %}",
      "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length "
      "}}",
      "{{ 'x' * 999999999999 }}",
      "{{ range(10000000)|list }}",
      "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
      "{% set ns = namespace(l=['x' * 1000000]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ "
      "ns.l }}",
      "{% set big = ['y' * 10000000] * 100000 %}{{ big }}",
      "{% set big = ['y' * 10000000] * 100000 %}{{ big|join }}",
      "{% set big = ['y' * 10000000] * 100000 %}{{ big|tojson }}",
      "{% set big = ['y' * 10000000] * 100000 %}{{ big|string }}",
      "{{ ('x' * 10000000)|replace('x', 'xxxxxxxxxx') }}",
      "{{ ('x' * 10000000).replace('x', 'xxxxxxxxxx') }}",
      "{{ 'x'.center(10000000, 'abcdefgh') }}",
      "{% set l = range(100000)|list %}{% for i in range(100000) %}{{ i in l }}{% endfor %}",
      "{% set l = [1] * 1000000 %}{{ l|unique|list|length }}{% for i in range(100000) %}{{ l|unique|list|length }}{% "
      "endfor %}",
  };
  ChatOptions options;
  options.engine.max_steps = 200'000;  // keeps the runaway loops quick, sanitizer builds included
  for (const std::string& source : cases) {
    const auto start = std::chrono::steady_clock::now();
    Result<RenderedChat> out = render_chat(source, req, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_FALSE(out.is_ok()) << source.substr(0, 80);
    EXPECT_LT(seconds, 20.0) << source.substr(0, 80);
    std::printf("%.3f s  %s\n", seconds, out.is_ok() ? "rendered" : out.status().message().c_str());
  }
}

}  // namespace
}  // namespace strata::chat
