// tests/tokenizer/bpe_mutation.h: the tokenizer-data mutation campaign shared by the plain and the ASan test:
// a valid byte-level BPE vocabulary damaged at the byte level (through the GGUF parser) and at the value
// level (merges, token texts and types); every result loads and round-trips, or fails with one line.
#pragma once

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tokenizer/bpe_fixtures.h"

namespace strata::tokenizer::test {

struct MutationStats {
  size_t cases = 0, accepted = 0, rejected = 0;
};

inline TinyBpe seed_vocab() {
  TinyBpe v("llama-bpe");
  v.merge("Ġ", "t");
  v.merge("h", "e");
  v.merge("Ġt", "he");
  v.merge("a", "b");
  v.add("<|end|>", TokenType::Control);
  v.add("<x>", TokenType::UserDefined);
  return v;
}

// Loads `file`; if it loads, encodes fixed and random text and checks the bytes come back exactly.
inline void check_outcome(Result<gguf::GgufFile> file, std::mt19937& rng, MutationStats& stats) {
  ++stats.cases;
  auto one_line = [&](const Status& s) {
    EXPECT_FALSE(s.message().empty());
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
    ++stats.rejected;
  };
  if (!file.is_ok()) return one_line(file.status());
  auto tok = make_tokenizer(*file);
  if (!tok.is_ok()) return one_line(tok.status());
  ++stats.accepted;
  // Bytes whose alphabet character lost its normal token encode to nothing (as in HF tokenizers); the
  // round trip is exact only while all 256 remain.
  const ByteAlphabet alphabet;
  bool all_bytes = true;
  for (int b = 0; b < 256; ++b) {
    auto id = (*tok)->vocab().find(alphabet.encode(static_cast<uint8_t>(b)));
    all_bytes = all_bytes && id && (*tok)->vocab().type(*id) == TokenType::Normal;
  }
  std::vector<std::string> texts = {"the theab <|end|><x> \n\t 123", "\xFF\xC3", ""};
  std::string noise(rng() % 64, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  texts.push_back(noise);
  for (const std::string& text : texts) {
    for (bool special : {false, true}) {
      std::string bytes;
      for (int32_t id : (*tok)->encode(text, EncodeOptions{.add_bos = false, .add_eos = false, .parse_special = special}))
        bytes += (*tok)->token_to_piece(id, /*render_special=*/true);
      if (all_bytes) {
        EXPECT_EQ(bytes, text);
      }
    }
  }
}

inline MutationStats run_bpe_mutations(size_t n_cases, uint32_t seed) {
  MutationStats stats;
  std::mt19937 rng(seed);
  const TinyBpe base = seed_vocab();
  auto bytes = base.bytes();
  EXPECT_TRUE(bytes.is_ok());
  if (!bytes.is_ok()) return stats;
  const auto no_types = [](uint32_t) { return std::optional<gguf::TypeLayout>{}; };
  for (size_t i = 0; i < n_cases; ++i) {
    if (i % 2 == 0) {  // byte-level damage through the GGUF parser
      std::vector<uint8_t> b = *bytes;
      const int n = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < n && !b.empty(); ++k) {
        const size_t at = rng() % b.size();
        switch (rng() % 4) {
          case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
          case 1: b[at] = static_cast<uint8_t>(rng()); break;
          case 2: b.resize(at); break;
          default: b.insert(b.begin() + static_cast<long>(at), static_cast<uint8_t>(rng())); break;
        }
      }
      check_outcome(gguf::parse_memory(b, no_types), rng, stats);
      continue;
    }
    // Value-level damage: merges edited, token types out of range, unknown pre, duplicated pieces.
    TinyBpe v = seed_vocab();
    auto& merges = v.raw_merges();
    switch (rng() % 5) {
      case 0: merges[rng() % merges.size()].erase(rng() % 3, 1); break;
      case 1: merges[rng() % merges.size()] += static_cast<char>('a' + rng() % 26); break;
      case 2: merges.push_back(merges[rng() % merges.size()]); break;
      case 3: v.set(std::string(kKeyPre), gguf::Value::of_string(rng() % 2 ? "qwen9" : "tekken")); break;
      default: v.add(rng() % 2 ? "Ġthe" : "", static_cast<TokenType>(1 + rng() % 7)); break;
    }
    check_outcome(v.file(), rng, stats);
  }
  std::printf("tokenizer mutations: %zu cases, %zu loaded and round-tripped, %zu rejected with one line\n",
              stats.cases, stats.accepted, stats.rejected);
  return stats;
}

}  // namespace strata::tokenizer::test
