// tests/engine/reference_parity_test.cc: full logits of synthetic models in every weight type against the
// reference engine's logits for the same files (tests/engine/data/llamacpp_parity.json says how they were made).
#include <cmath>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/runtime.h"
#include "engine/session.h"
#include "model/synth.h"
#include "support/test_support.h"

namespace strata::engine {
namespace {

uint64_t fnv1a64(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  uint64_t h = 1469598103934665603ull;
  for (char c : bytes) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

model::SynthSpec spec_from_args(const nlohmann::json& args) {
  model::SynthSpec s;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string k = args[i], v = args[i + 1];
    if (k == "--layers") s.layers = std::stoll(v);
    else if (k == "--dim") s.dim = std::stoll(v);
    else if (k == "--ff") s.ff = std::stoll(v);
    else if (k == "--heads") s.heads = std::stoll(v);
    else if (k == "--kv-heads") s.kv_heads = std::stoll(v);
    else if (k == "--vocab") s.vocab = std::stoll(v);
    else if (k == "--ctx") s.ctx = std::stoll(v);
    else if (k == "--seed") s.seed = std::stoull(v);
    else ADD_FAILURE() << "unknown synth arg " << k;
  }
  return s;
}

TEST(ReferenceParity, EveryWeightTypeMatchesTheReferenceEngine) {
  std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/tests/engine/data/llamacpp_parity.json");
  ASSERT_TRUE(in.good());
  const auto ref = nlohmann::json::parse(in);
  const std::vector<int32_t> tokens = ref["tokens"].get<std::vector<int32_t>>();
  ASSERT_GE(ref["cases"].size(), 15u);
  for (const auto& c : ref["cases"]) {
    const std::string type = c["type"];
    model::SynthSpec spec = spec_from_args(ref["synth_args"]);
    spec.type = type;
    spec.threads = 2;
    const std::string path = testing::temp_dir() + "/parity_" + type + ".gguf";
    auto w = model::write_synth_model(spec, path);
    ASSERT_TRUE(w.is_ok()) << w.status().message();
    char hash[17];
    std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(fnv1a64(path)));
    // The reference evaluated exactly these bytes; a different file means the synth writer changed.
    ASSERT_EQ(std::string(hash), c["fnv1a64"].get<std::string>()) << type << ": synthesized file differs";

    EngineOptions eo;
    eo.model_path = path;
    eo.n_threads = 2;
    auto lm = LoadedModel::load(eo);
    ASSERT_TRUE(lm.is_ok()) << lm.status().message();
    Session session(*lm.value(), 64);
    std::vector<float> logits;
    ASSERT_TRUE(session.eval(tokens, logits, true).is_ok());
    const int64_t n_vocab = lm.value()->hparams().n_vocab;
    double num = 0, den = 0;
    for (size_t p = 0; p < tokens.size(); ++p)
      for (int64_t v = 0; v < n_vocab; ++v) {
        const double want = c["logits"][p][v].get<double>();
        const double got = logits[p * n_vocab + v];
        num += (got - want) * (got - want);
        den += want * want;
      }
    const double err = std::sqrt(num / den);
    EXPECT_LT(err, c["bound"].get<double>()) << type;
    std::printf("  %-7s normalised error vs reference %.2e (bound %.0e)\n", type.c_str(), err, c["bound"].get<double>());
  }
}

}  // namespace
}  // namespace strata::engine
