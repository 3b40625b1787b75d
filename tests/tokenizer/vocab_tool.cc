// tests/tokenizer/vocab_tool.cc: test helper: builds a vocabulary-only GGUF from a HF tokenizer.json with the
// project's GGUF writer, and encodes many strings in one process for the differential tests.
//   vocab_tool build TOKENIZER_JSON OUT_GGUF PRE     byte-level BPE vocabulary, `tokenizer.ggml.pre = PRE`
//   vocab_tool encode GGUF < strings.jsonl           one JSON string per line in; {"ids":[..],"text":".."} out
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "gguf/value.h"
#include "gguf/writer.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace {

using strata::gguf::Array;
using strata::gguf::Value;
using strata::gguf::ValueType;

int die(const std::string& message) {
  std::fprintf(stderr, "vocab_tool: %s\n", message.c_str());
  return 1;
}

Value string_array(std::vector<std::string> items) {
  Array a{.elem_type = ValueType::STRING, .items = {}};
  a.items.reserve(items.size());
  for (auto& s : items) a.items.push_back(Value::of_string(std::move(s)));
  return Value::array(std::move(a));
}

int build(const std::string& json_path, const std::string& out_path, const std::string& pre) {
  std::ifstream in(json_path);
  if (!in) return die("cannot open " + json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  const auto& model = j.at("model");
  if (model.at("type") != "BPE") return die("not a BPE tokenizer.json");

  // convert_hf_to_gguf's convention: vocabulary entries are normal, added tokens control when special and
  // user-defined otherwise, ids nobody names become unused padding.
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto place = [&](size_t id, std::string text, int32_t type) {
    if (id >= tokens.size()) {
      for (size_t k = tokens.size(); k <= id; ++k) tokens.push_back("[PAD" + std::to_string(k) + "]");
      types.resize(id + 1, 5);
    }
    tokens[id] = std::move(text);
    types[id] = type;
  };
  for (const auto& [piece, id] : model.at("vocab").items()) place(id.get<size_t>(), piece, 1);
  for (const auto& added : j.at("added_tokens")) {
    place(added.at("id").get<size_t>(), added.at("content").get<std::string>(), added.at("special").get<bool>() ? 3 : 4);
  }

  std::vector<std::string> merges;
  for (const auto& m : model.at("merges")) {
    merges.push_back(m.is_string() ? m.get<std::string>()
                                   : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
  }

  strata::gguf::Writer w;
  w.set("general.architecture", Value::of_string("llama"));
  w.set("general.name", Value::of_string("vocab " + pre));
  w.set("tokenizer.ggml.model", Value::of_string("gpt2"));
  w.set("tokenizer.ggml.pre", Value::of_string(pre));
  w.set("tokenizer.ggml.tokens", string_array(std::move(tokens)));
  Array type_array{.elem_type = ValueType::INT32, .items = {}};
  for (int32_t t : types) type_array.items.push_back(Value::of_i32(t));
  w.set("tokenizer.ggml.token_type", Value::array(std::move(type_array)));
  w.set("tokenizer.ggml.merges", string_array(std::move(merges)));
  if (strata::Status s = w.write(out_path); !s.is_ok()) return die(s.message());
  return 0;
}

int encode(const std::string& gguf_path) {
  auto file = strata::gguf::read_file(gguf_path, [](uint32_t) { return std::nullopt; });
  if (!file) return die(file.status().message());
  auto tok = strata::tokenizer::make_tokenizer(*file);
  if (!tok) return die(tok.status().message());
  const strata::tokenizer::EncodeOptions raw{.add_bos = false, .add_eos = false, .parse_special = false};
  std::string line;
  while (std::getline(std::cin, line)) {
    const std::string text = nlohmann::json::parse(line).get<std::string>();
    const std::vector<int32_t> ids = (*tok)->encode(text, raw);
    nlohmann::json out;
    out["ids"] = ids;
    out["text"] = strata::tokenizer::detokenize(**tok, ids);
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 4 && args[0] == "build") return build(args[1], args[2], args[3]);
    if (args.size() == 2 && args[0] == "encode") return encode(args[1]);
  } catch (const std::exception& e) {
    return die(e.what());
  }
  return die("usage: vocab_tool build TOKENIZER_JSON OUT_GGUF PRE | vocab_tool encode GGUF < strings.jsonl");
}
