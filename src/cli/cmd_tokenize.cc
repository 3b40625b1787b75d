// cli/cmd_tokenize.cc: `strata tokenize`: text to token ids (and back) with a model's tokenizer, from the
// GGUF header alone (vocabulary-only files work; no weights, no hyperparameters).
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "tensor/dtype.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace strata::cli {

namespace {

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open '{}'", path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return error("cannot read '{}'", path);
  return text.str();
}

}  // namespace

int run_tokenize(const TokenizeOptions& o) {
  std::string text = o.prompt;
  if (!o.file.empty()) {
    auto contents = read_text_file(o.file);
    if (!contents) return fail(contents.status().message());
    text = std::move(*contents);
  }
  auto file = gguf::read_file(o.model, gguf_type_lookup());
  if (!file) return fail(file.status().message());
  auto tok = tokenizer::make_tokenizer(*file);
  if (!tok) return fail(tok.status().with_context(o.model).message());
  const tokenizer::Tokenizer& t = **tok;

  // --raw: the text exactly as written: no BOS/EOS, and "<|eot_id|>" typed in is text, not a marker.
  const tokenizer::EncodeOptions encode{
      .add_bos = !o.raw && t.vocab().add_bos(),
      .add_eos = !o.raw && t.vocab().add_eos(),
      .parse_special = !o.raw,
  };
  const std::vector<int32_t> ids = t.encode(text, encode);

  if (o.json) {
    const std::string decoded = tokenizer::detokenize(
        t, ids, tokenizer::DetokenizeOptions{.render_special = true, .strip_leading_space = true});
    nlohmann::json j;
    j["ids"] = ids;
    j["text"] = decoded;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("%s\n", fmt::format("{}", fmt::join(ids, " ")).c_str());
  return 0;
}

}  // namespace strata::cli
