// tests/tokenizer/vocab_reference_test.cc: llama.cpp's vocabulary tests case for case: every
// ggml-vocab-NAME.gguf in $STRATA_VOCAB_DIR with its .inp (cases split by "\n__ggml_vocab_test__\n") and
// .out (the ids HF tokenizers gave, one line per case). The files are llama.cpp's, so they are never
// committed: without the variable the test skips and says so (tests/tokenizer/run_bpe_tests.sh prints
// how to get them).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace strata::tokenizer {
namespace {

namespace fs = std::filesystem;

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Parses the .inp/.out pair as llama.cpp's test-tokenizer-0 does; empty when the counts disagree.
std::vector<VocabCase> read_cases(const fs::path& inp, const fs::path& out) {
  const std::string raw = slurp(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(raw.substr(pos));
      break;
    }
    texts.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<VocabCase> cases;
  std::istringstream lines(slurp(out));
  size_t i = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    if (i >= texts.size()) return {};
    VocabCase c{texts[i], {}};
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  if (cases.size() != texts.size()) return {};
  return cases;
}

TEST(VocabReference, LlamaCppVocabularyTests) {
  const char* dir = std::getenv("STRATA_VOCAB_DIR");
  if (!dir || !*dir) {
    GTEST_SKIP() << "SKIP: STRATA_VOCAB_DIR is not set: llama.cpp's ggml-vocab-*.gguf tests not run";
  }
  std::vector<fs::path> vocabs;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("ggml-vocab-") && name.ends_with(".gguf") && fs::file_size(e.path()) > 0)
      vocabs.push_back(e.path());
  }
  std::sort(vocabs.begin(), vocabs.end());
  ASSERT_FALSE(vocabs.empty()) << "no ggml-vocab-*.gguf in " << dir;

  int n_vocabs_run = 0;
  for (const fs::path& gguf_path : vocabs) {
    const std::string name = gguf_path.stem().string().substr(std::string("ggml-vocab-").size());
    const fs::path inp = gguf_path.string() + ".inp", out = gguf_path.string() + ".out";
    if (!fs::exists(inp) || !fs::exists(out)) {
      std::printf("vocab %-16s skipped: no .inp/.out\n", name.c_str());
      continue;
    }
    auto file = gguf::read_file(gguf_path.string(), [](uint32_t) { return std::nullopt; });
    ASSERT_TRUE(file.is_ok()) << file.status().message();
    auto tok = make_tokenizer(*file);
    if (!tok.is_ok()) {
      // BERT (WordPiece) and the other models strata does not implement are reported, not failed.
      const std::string model = file->get_string(kKeyModel).is_ok() ? file->get_string(kKeyModel)->value_or("?") : "?";
      ASSERT_TRUE(model != "gpt2" && model != "llama") << name << ": " << tok.status().message();
      std::printf("vocab %-16s skipped: tokenizer model '%s' is not implemented\n", name.c_str(), model.c_str());
      continue;
    }
    const std::vector<VocabCase> cases = read_cases(inp, out);
    ASSERT_FALSE(cases.empty()) << name << ": .inp and .out disagree on the number of cases";
    const bool byte_level = (*tok)->model() == "gpt2";
    int n_ids_ok = 0, n_round_trip_ok = 0;
    for (const VocabCase& c : cases) {
      const std::vector<int32_t> ids = (*tok)->encode(c.text, EncodeOptions{});
      EXPECT_EQ(ids, c.ids) << name << ": '" << c.text << "'";
      n_ids_ok += ids == c.ids;
      // Byte-level BPE loses nothing; SentencePiece adds its space prefix (stripped on whole-text decode).
      const std::string text = detokenize(**tok, ids, DetokenizeOptions{.strip_leading_space = true});
      if (byte_level) EXPECT_EQ(text, c.text) << name << ": round trip";
      n_round_trip_ok += text == c.text;
    }
    std::printf("vocab %-16s %s: %d/%zu cases match ids, %d/%zu round-trip exactly\n", name.c_str(),
                std::string((*tok)->model()).c_str(), n_ids_ok, cases.size(), n_round_trip_ok, cases.size());
    ++n_vocabs_run;
  }
  std::printf("%d vocabularies run from %s\n", n_vocabs_run, dir);
  EXPECT_GT(n_vocabs_run, 0);
}

}  // namespace
}  // namespace strata::tokenizer
