// server/model_info.h: what the API says about a GGUF without loading its weights: details (family,
// parameter size, quantization), capabilities, and the model_info / tensors of /api/show.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"
#include "server/json_util.h"

namespace strata::server {

struct GgufSummary {
  std::string architecture;     // general.architecture ("llama")
  int64_t parameter_count = 0;  // general.parameter_count, else the sum of tensor elements
  std::string quantization;     // "Q4_K_M", from general.file_type, else the commonest tensor type
  int64_t context_length = 0;   // <arch>.context_length (0 when absent)
  int64_t embedding_length = 0;
  std::string chat_template;    // tokenizer.chat_template ("" when absent)
  std::vector<std::string> capabilities;  // "completion"/"embedding", "tools", "thinking", "vision", "insert"
  // What the header says beyond the template, for re-deriving capabilities under a template override.
  bool has_pooling = false;  // <arch>.pooling_type: an embedding model
  bool has_vision = false;   // *vision.block_count
  bool has_fim = false;      // fill-in-the-middle tokens
};

// Reads the header only (never the weights).
Result<GgufSummary> summarize_gguf(const gguf::GgufFile& file);

// Capabilities from the rules of Ollama's server/images.go (see docs/server.md), using s.chat_template
// (the template in effect: an override from /api/create wins over the file's).
std::vector<std::string> derive_capabilities(const GgufSummary& s);

// Ollama's HumanNumber: 8030261248 → "8.0B", 7000000000 → "7B", 137000000 → "137M", 22700000 → "22.70M".
std::string format_parameter_size(int64_t n);
// llama.cpp's file-type enum (general.file_type) as Ollama prints it ("Q4_K_M"); "" for unknown values.
std::string file_type_name(int64_t file_type);

// {"parent_model","format","family","families","parameter_size","quantization_level"}.
Json details_json(const GgufSummary& s, const std::string& parent_model);
// Every metadata pair except general.name and tokenizer.chat_template; arrays longer than 5 become []
// unless `verbose`.
Json model_info_json(const gguf::GgufFile& file, bool verbose);
// [{"name","type","shape"}] for /api/show.
Json tensors_json(const gguf::GgufFile& file);
// One GGUF metadata value as JSON.
Json gguf_value_json(const gguf::Value& v, bool verbose);

}  // namespace strata::server
