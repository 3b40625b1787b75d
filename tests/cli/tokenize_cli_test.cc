// tests/cli/tokenize_cli_test.cc: `strata tokenize MODEL (-p TEXT | --file F) [--raw] [--json]` on
// vocabulary-only GGUF files: the output formats, BOS and special tokens, and one-line errors.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "tokenizer/bpe_fixtures.h"

namespace strata {
namespace {

using tokenizer::TokenType;
using tokenizer::test::TinyBpe;

std::string write_vocab(const TinyBpe& v, const std::string& name) {
  const std::string path = testing::temp_dir() + "/" + name;
  auto bytes = v.bytes();
  EXPECT_TRUE(bytes.is_ok());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes->data()),
                                              static_cast<std::streamsize>(bytes->size()));
  return path;
}

struct Vocab3 {
  TinyBpe v{"llama-bpe"};
  int32_t the, bos, eot;
  Vocab3() {
    v.merge("Ġ", "t");
    v.merge("h", "e");
    the = v.merge("Ġt", "he");
    bos = v.add("<|begin_of_text|>", TokenType::Control);
    eot = v.add("<|eot_id|>", TokenType::Control);
    v.set("tokenizer.ggml.bos_token_id", gguf::Value::of_u32(static_cast<uint32_t>(bos)));
  }
};

std::string run(const std::string& args) {
  auto r = testing::run_command(testing::strata_binary() + " tokenize " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(TokenizeCli, IdsOnOneLineWithBosUnlessRaw) {
  Vocab3 m;
  const std::string f = write_vocab(m.v, "llama3.gguf");  // no tensors, no hyperparameters
  const std::string a = std::to_string(m.v.id("a"));
  EXPECT_EQ(run(f + " -p 'a the'"), std::to_string(m.bos) + " " + a + " " + std::to_string(m.the) + "\n");
  EXPECT_EQ(run(f + " -p 'a the' --raw"), a + " " + std::to_string(m.the) + "\n");
}

TEST(TokenizeCli, RawTreatsSpecialTokenTextAsText) {
  Vocab3 m;
  const std::string f = write_vocab(m.v, "llama3.gguf");
  EXPECT_EQ(run(f + " -p '<|eot_id|>'"), std::to_string(m.bos) + " " + std::to_string(m.eot) + "\n");
  EXPECT_EQ(nlohmann::json::parse(run(f + " -p 'a<|eot_id|>' --json")).at("text"), "a<|eot_id|>");
  const std::string raw = run(f + " -p '<|eot_id|>' --raw");
  EXPECT_EQ(raw.find(std::to_string(m.eot)), std::string::npos) << raw;
  const auto j = nlohmann::json::parse(run(f + " -p '<|eot_id|>' --raw --json"));
  EXPECT_EQ(j.at("text"), "<|eot_id|>");
  EXPECT_GT(j.at("ids").size(), 3u);
}

TEST(TokenizeCli, JsonFromAFileRoundTrips) {
  Vocab3 m;
  const std::string f = write_vocab(m.v, "llama3.gguf");
  const std::string text = "the  théâtre\n\t42 😀\xE2\x80\x89" "end\n";
  const std::string input = testing::temp_dir() + "/input.txt";
  std::ofstream(input, std::ios::binary) << text;
  const auto j = nlohmann::json::parse(run(f + " --file " + input + " --raw --json"));
  ASSERT_TRUE(j.contains("ids") && j.contains("text")) << j.dump();
  EXPECT_EQ(j.at("text").get<std::string>(), text);
  const auto with_bos = nlohmann::json::parse(run(f + " --file " + input + " --json"));
  EXPECT_EQ(with_bos.at("ids").front(), m.bos);
  EXPECT_EQ(with_bos.at("text").get<std::string>(), text);  // the BOS tokenize added is not spelled
}

TEST(TokenizeCli, SentencePieceModelsStillWork) {
  const std::string out = run(testing::shared_path("models/stories260K.gguf") + " -p 'Hello'");
  EXPECT_EQ(out.substr(0, 2), "1 ");  // BOS
  const auto j = nlohmann::json::parse(run(testing::shared_path("models/stories260K.gguf") + " -p ' Hello' --json"));
  EXPECT_EQ(j.at("text"), " Hello");  // SentencePiece's space prefix is not part of the text
  const auto raw = nlohmann::json::parse(run(testing::shared_path("models/stories260K.gguf") + " -p 'Hello' --raw --json"));
  EXPECT_EQ(raw.at("text"), "Hello");
}

void expect_one_line_error(const std::string& args, const std::string& needle) {
  auto r = testing::run_command(testing::strata_binary() + " tokenize " + args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(TokenizeCli, BadVocabulariesAndArgumentsAreOneLineErrors) {
  expect_one_line_error(write_vocab(TinyBpe("qwen9"), "unknown_pre.gguf") + " -p x", "unknown pre-tokenizer 'qwen9'");
  expect_one_line_error(
      write_vocab(TinyBpe().set("tokenizer.ggml.model", gguf::Value::of_string("t5")), "t5.gguf") + " -p x", "'t5'");
  {
    TinyBpe v;
    v.raw_merges().push_back("Ġ nope");
    expect_one_line_error(write_vocab(v, "bad_merge.gguf") + " -p x", "'nope'");
  }
  Vocab3 m;
  const std::string f = write_vocab(m.v, "ok.gguf");
  expect_one_line_error(f, "-p TEXT or --file F");
  expect_one_line_error(f + " --file /nonexistent/x.txt", "cannot open");
}

}  // namespace
}  // namespace strata
