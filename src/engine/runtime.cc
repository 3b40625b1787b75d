// engine/runtime.cc: loading: parse → bind → tokenizer → weights → backend.
#include "engine/runtime.h"

#include <algorithm>

#include "streaming/resident_weights.h"
#include "tensor/dtype.h"

namespace strata::engine {

LoadedModel::~LoadedModel() = default;

Result<std::unique_ptr<LoadedModel>> LoadedModel::load(const EngineOptions& options) {
  std::unique_ptr<LoadedModel> lm(new LoadedModel());
  STRATA_ASSIGN_OR_RETURN(lm->file_, gguf::read_file(options.model_path, gguf_type_lookup()));
  auto bound = model::bind_model(lm->file_);
  if (!bound) return bound.status().with_context(options.model_path);
  lm->model_ = std::move(bound).value();
  auto tok = tokenizer::make_tokenizer(lm->file_);
  if (!tok) return tok.status().with_context(options.model_path);
  lm->tokenizer_ = std::move(tok).value();
  if (lm->tokenizer_->vocab().size() != lm->model_.hp.n_vocab)
    return error("{}: tokenizer has {} tokens but token_embd has {} rows", options.model_path,
                 lm->tokenizer_->vocab().size(), lm->model_.hp.n_vocab);

  const int n_threads = options.n_threads > 0 ? options.n_threads : ThreadPool::hardware_threads();
  lm->pool_ = std::make_unique<ThreadPool>(n_threads);
  lm->backend_ = std::make_unique<kernels::CpuBackend>(*lm->pool_);

  auto resident = streaming::ResidentWeights::load(lm->file_, lm->model_);
  if (!resident) return resident.status();
  lm->resident_bytes_ = resident.value()->resident_bytes();
  lm->experts_ = resident.value().get();
  lm->weights_ = std::move(resident).value();

  lm->default_n_ctx_ = options.n_ctx > 0 ? options.n_ctx : std::min<int64_t>(lm->model_.hp.n_ctx_train, 4096);
  return lm;
}

}  // namespace strata::engine
