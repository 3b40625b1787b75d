// engine/runtime.h: a loaded model (file, binding, tokenizer, weights, threads) and the options that load it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "model/weight_source.h"
#include "tokenizer/tokenizer.h"

namespace strata::engine {

// Everything the engine needs to load a model, parsed at the edge (CLI flags, HTTP options).
struct EngineOptions {
  std::string model_path;
  int n_threads = 0;     // 0: all hardware threads
  int64_t n_ctx = 0;     // 0: min(training context, 4096)
};

class LoadedModel {
 public:
  static Result<std::unique_ptr<LoadedModel>> load(const EngineOptions& options);
  ~LoadedModel();

  const gguf::GgufFile& file() const { return file_; }
  const model::Model& model() const { return model_; }
  const model::HParams& hparams() const { return model_.hp; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  model::WeightSource& weights() { return *weights_; }
  model::ExpertSource* experts() { return experts_; }
  kernels::Backend& backend() { return *backend_; }
  int64_t default_n_ctx() const { return default_n_ctx_; }
  uint64_t resident_bytes() const { return resident_bytes_; }

 private:
  LoadedModel() = default;
  gguf::GgufFile file_;
  model::Model model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<model::WeightSource> weights_;
  model::ExpertSource* experts_ = nullptr;  // points into weights_ when it also serves experts
  int64_t default_n_ctx_ = 0;
  uint64_t resident_bytes_ = 0;
};

}  // namespace strata::engine
