// cli/cmd_logits.cc: `strata logits`: evaluate an exact token sequence; print one JSON object (a stable format).
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "engine/runtime.h"
#include "engine/sampler.h"
#include "engine/session.h"

namespace strata::cli {

namespace {
Result<std::vector<int32_t>> parse_tokens(const std::string& text) {
  std::vector<int32_t> out;
  std::string s = text;
  std::replace(s.begin(), s.end(), ',', ' ');
  std::istringstream in(s);
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    long long v = std::strtoll(word.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v > INT32_MAX) return error("'{}' is not a token id", word);
    out.push_back(static_cast<int32_t>(v));
  }
  if (out.empty()) return error("--tokens is empty");
  return out;
}
}  // namespace

int run_logits(const LogitsOptions& o) {
  auto tokens = parse_tokens(o.tokens);
  if (!tokens) return fail(tokens.status().message());
  if (o.top < 0 || o.gen < 0) return fail("--top and --gen must be >= 0");
  auto eo = make_engine_options(o.model, o.threads, o.plan);
  if (!eo) return fail(eo.status().message());
  ProgressLine progress(o.progress);
  eo->progress = progress.callback();
  auto lm = engine::LoadedModel::load(*eo);
  progress.finish_line();
  if (!lm) return fail(lm.status().message());
  const int64_t n_vocab = lm.value()->hparams().n_vocab;
  const int64_t n_ctx = std::max<int64_t>(lm.value()->default_n_ctx(), tokens->size() + o.gen + 1);
  engine::Session session(*lm.value(), n_ctx);

  std::vector<float> logits;
  if (Status st = session.eval(*tokens, logits, /*all_logits=*/true); !st) return fail(st.message());

  nlohmann::json out;
  out["n_vocab"] = n_vocab;
  out["tokens"] = *tokens;
  nlohmann::json positions = nlohmann::json::array();
  std::vector<int32_t> idx(n_vocab);
  for (size_t p = 0; p < tokens->size(); ++p) {
    const float* row = logits.data() + p * n_vocab;
    std::iota(idx.begin(), idx.end(), 0);
    const int64_t k = std::min<int64_t>(o.top, n_vocab);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    nlohmann::json pos;
    nlohmann::json top = nlohmann::json::array();
    for (int64_t i = 0; i < k; ++i) top.push_back({idx[i], row[idx[i]]});
    pos["top"] = std::move(top);
    if (o.full) pos["logits"] = std::vector<float>(row, row + n_vocab);
    positions.push_back(std::move(pos));
  }
  out["positions"] = std::move(positions);

  std::vector<int32_t> greedy;
  std::vector<float> last(logits.end() - n_vocab, logits.end());
  for (int i = 0; i < o.gen; ++i) {
    int32_t next = engine::Sampler::argmax(last);
    greedy.push_back(next);
    if (i + 1 < o.gen) {
      if (Status st = session.eval(std::span(&next, 1), last, false); !st) return fail(st.message());
    }
  }
  out["greedy"] = greedy;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace strata::cli
