// jinja/template.h: the public face of the template engine: parse a jinja2 template once, render
// it many times against a dict of variables, byte-identical to Python's jinja2 for the supported subset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "jinja/value.h"

namespace strata::jinja {

struct Program;

struct Options {
  // jinja2's Environment defaults are all false. HF transformers renders chat templates with
  // trim_blocks and lstrip_blocks on: see huggingface().
  bool trim_blocks = false;
  bool lstrip_blocks = false;
  bool keep_trailing_newline = false;
  // |tojson as HF transformers overrides it: json.dumps(x, ensure_ascii=False, indent, separators,
  // sort_keys=False). Off, |tojson is jinja2's own: keys sorted, ASCII only, < > & ' escaped, indent only.
  bool hf_tojson = false;

  // Limits that make damaged or hostile templates fail with an error instead of hanging or crashing.
  uint64_t max_steps = 5'000'000;              // statements + expressions evaluated (~1 s worst case)
  int max_call_depth = 64;                     // nested macro calls
  size_t max_output_bytes = size_t{64} << 20;  // rendered text

  // The environment transformers' apply_chat_template uses.
  static Options huggingface() {
    Options o;
    o.trim_blocks = true;
    o.lstrip_blocks = true;
    o.hf_tojson = true;
    return o;
  }
};

class Template {
 public:
  // Errors name the line and column: "line 4, column 12: unexpected '}'".
  static Result<Template> parse(std::string_view source, const Options& options = {});

  // Renders with `variables` (a dict; callables in it become template functions) on top of the globals
  // range, dict and namespace. Thread-safe: a Template is immutable once parsed.
  Result<std::string> render(const Value& variables) const;

  const Options& options() const { return options_; }

 private:
  Template(std::shared_ptr<const Program> program, const Options& options)
      : program_(std::move(program)), options_(options) {}

  std::shared_ptr<const Program> program_;
  Options options_;
};

}  // namespace strata::jinja
