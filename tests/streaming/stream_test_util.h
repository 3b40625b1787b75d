// tests/streaming/stream_test_util.h: loading models and running the forward pass over any weight source,
// shared by the streaming tests.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "kernels/cpu/backend_cpu.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/synth.h"
#include "streaming/resident_weights.h"
#include "streaming/streaming_weights.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::streaming::test {

struct Loaded {
  gguf::GgufFile file;
  model::Model model;
};

inline Loaded load_model(const std::string& path) {
  Loaded l;
  auto f = gguf::read_file(path, gguf_type_lookup());
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  if (!f.is_ok()) return l;
  l.file = std::move(f).value();
  auto m = model::bind_model(l.file);
  EXPECT_TRUE(m.is_ok()) << m.status().message();
  if (m.is_ok()) l.model = std::move(m).value();
  return l;
}

inline std::string write_synth(const model::SynthSpec& spec, const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  auto s = model::write_synth_model(spec, path);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return path;
}

// A prompt of a few tokens as one batch, then single-token steps: every logit of every position, in order.
// Stops at the first error and returns it through *status.
inline std::vector<float> run_tokens(const model::Model& m, model::WeightSource& w, model::ExpertSource* e,
                                     const std::vector<int32_t>& tokens, size_t n_batch, Status* status = nullptr,
                                     int threads = 2) {
  ThreadPool pool(threads);
  kernels::CpuBackend backend(pool);
  model::Forward fwd(m, w, e, backend);
  model::KvCache cache(m.hp, 64);
  const int64_t V = m.hp.n_vocab;
  std::vector<float> all, logits(n_batch * V);
  Status s = fwd.eval(std::span(tokens).subspan(0, n_batch), cache, logits, true);
  if (s.is_ok()) all.insert(all.end(), logits.begin(), logits.begin() + n_batch * V);
  for (size_t i = n_batch; s.is_ok() && i < tokens.size(); ++i) {
    s = fwd.eval(std::span(tokens).subspan(i, 1), cache, logits, false);
    if (s.is_ok()) all.insert(all.end(), logits.begin(), logits.begin() + V);
  }
  if (status) *status = s;
  else EXPECT_TRUE(s.is_ok()) << s.message();
  return all;
}

inline std::vector<float> run_resident(const Loaded& l, const std::vector<int32_t>& tokens, size_t n_batch) {
  auto r = ResidentWeights::load(l.file, l.model);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  if (!r.is_ok()) return {};
  return run_tokens(l.model, **r, r->get(), tokens, n_batch);
}

inline std::unique_ptr<StreamingWeights> make_stream(const Loaded& l, const StreamConfig& c) {
  auto w = make_streaming_weights(l.file, l.model, c);
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  return w.is_ok() ? std::move(w).value() : nullptr;
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && !a.empty() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline uint64_t tensor_bytes(const model::Model& m, const std::vector<model::TensorId>& ids) {
  uint64_t n = 0;
  for (model::TensorId id : ids) n += m.tensors[id].size_bytes;
  return n;
}

}  // namespace strata::streaming::test
