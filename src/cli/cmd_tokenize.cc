// cli/cmd_tokenize.cc: `strata tokenize`: text to token ids (and back) with a model's tokenizer, from the
// GGUF header alone (vocabulary-only files work; no weights, no hyperparameters).
#include <cstdio>
#include <fstream>
#include <span>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "arch/ollama_compat.h"
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
  arch::translate_ollama_file(*file);
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
    // The text is what the ids spell: special tokens written in it come back as their text, while the
    // BOS/EOS that tokenize itself added are left out, so the text matches the input whenever it can.
    std::span<const int32_t> spelled(ids);
    if (encode.add_bos && !spelled.empty()) spelled = spelled.subspan(1);
    if (encode.add_eos && !spelled.empty()) spelled = spelled.first(spelled.size() - 1);
    const std::string decoded = tokenizer::detokenize(
        t, spelled, tokenizer::DetokenizeOptions{.render_special = true, .strip_leading_space = true});
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
