// server/model_info.cc: GGUF metadata → the summaries, capability flags and JSON that /api/tags, /api/show
// and /api/ps report.
#include "server/model_info.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "arch/hparams.h"
#include "tensor/dtype.h"

namespace strata::server {

namespace {

bool contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

}  // namespace

std::string file_type_name(int64_t t) {
  // llama.cpp's llama_ftype values (the numbering in GGUF files); gaps are retired types.
  switch (t) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 19: return "IQ2_XXS";
    case 20: return "IQ2_XS";
    case 21: return "Q2_K_S";
    case 22: return "IQ3_XS";
    case 23: return "IQ3_XXS";
    case 24: return "IQ1_S";
    case 25: return "IQ4_NL";
    case 26: return "IQ3_S";
    case 27: return "IQ3_M";
    case 28: return "IQ2_S";
    case 29: return "IQ2_M";
    case 30: return "IQ4_XS";
    case 31: return "IQ1_M";
    case 32: return "BF16";
    case 36: return "TQ1_0";
    case 37: return "TQ2_0";
    case 38: return "MXFP4_MOE";
  }
  return "";
}

std::string format_parameter_size(int64_t n) {
  if (n < 0) n = 0;
  const double v = static_cast<double>(n);
  auto scaled = [&](double unit, std::string_view suffix, int decimals) {
    double x = v / unit;
    if (x == std::floor(x)) return fmt::format("{:.0f}{}", x, suffix);
    return fmt::format("{:.{}f}{}", x, decimals, suffix);
  };
  if (v >= 1e12) return scaled(1e12, "T", 1);
  if (v >= 1e9) return scaled(1e9, "B", 1);
  if (v >= 1e6) return scaled(1e6, "M", 2);
  if (v >= 1e3) return fmt::format("{:.0f}K", v / 1e3);
  return std::to_string(n);
}

std::vector<std::string> derive_capabilities(const GgufSummary& s) {
  const std::string& tmpl = s.chat_template;
  std::vector<std::string> caps;
  caps.push_back(s.has_pooling ? "embedding" : "completion");
  if (contains(tmpl, "tools") || contains(tmpl, "tool_call")) caps.push_back("tools");
  const bool think_tags = contains(tmpl, "<think>") && contains(tmpl, "</think>");
  const bool split_idiom = (contains(tmpl, "split('</think>')") || contains(tmpl, "split(\"</think>\")")) &&
                           !contains(tmpl, "reasoning_content");
  const bool harmony = contains(tmpl, "<|channel|>analysis");  // gpt-oss reasons in its analysis channel
  if (think_tags || split_idiom || harmony) caps.push_back("thinking");
  if (s.has_vision) caps.push_back("vision");
  if (s.has_fim) caps.push_back("insert");
  return caps;
}

Result<GgufSummary> summarize_gguf(const gguf::GgufFile& file) {
  GgufSummary s;
  STRATA_ASSIGN_OR_RETURN(arch::Headline headline, arch::read_headline(file));
  s.architecture = headline.arch;
  STRATA_ASSIGN_OR_RETURN(auto params, file.get_int("general.parameter_count"));
  if (params) {
    s.parameter_count = *params;
  } else {
    for (const auto& t : file.tensors) s.parameter_count += t.n_elements();
  }
  STRATA_ASSIGN_OR_RETURN(auto ftype, file.get_int("general.file_type"));
  if (ftype) s.quantization = file_type_name(*ftype);
  if (s.quantization.empty()) {
    // No (known) file type: name the type holding the most weight bytes.
    std::map<uint32_t, uint64_t> bytes_by_type;
    for (const auto& t : file.tensors) bytes_by_type[t.type_id] += t.size_bytes;
    uint32_t best = 0;
    uint64_t best_bytes = 0;
    for (auto [type, bytes] : bytes_by_type)
      if (bytes > best_bytes) best = type, best_bytes = bytes;
    const DTypeTraits* tr = find_dtype(best);
    s.quantization = tr ? std::string(tr->name) : "unknown";
  }
  s.context_length = headline.n_ctx_train;
  s.embedding_length = headline.n_embd;
  STRATA_ASSIGN_OR_RETURN(auto tmpl, file.get_string("tokenizer.chat_template"));
  s.chat_template = tmpl.value_or("");
  s.has_pooling = file.find(s.architecture + ".pooling_type") != nullptr;
  for (const auto& [key, value] : file.metadata)
    if (key.ends_with("vision.block_count")) s.has_vision = true;
  s.has_fim = file.find("tokenizer.ggml.fim_pre_token_id") || file.find("tokenizer.ggml.prefix_token_id");
  s.capabilities = derive_capabilities(s);
  return s;
}

Json details_json(const GgufSummary& s, const std::string& parent_model) {
  return Json{{"parent_model", parent_model},
              {"format", "gguf"},
              {"family", s.architecture},
              {"families", Json::array({s.architecture})},
              {"parameter_size", format_parameter_size(s.parameter_count)},
              {"quantization_level", s.quantization}};
}

Json gguf_value_json(const gguf::Value& v, bool verbose) {
  using gguf::ValueType;
  if (const auto* a = v.as_array()) {
    Json out = Json::array();
    if (a->size() > 5 && !verbose) return out;
    for (const auto& item : a->items) out.push_back(gguf_value_json(item, verbose));
    return out;
  }
  if (const auto* s = v.as_string()) return *s;
  if (v.type() == ValueType::BOOL) return v.as_bool().value_or(false);
  if (v.is_float()) {
    double d = v.as_number().value_or(0);
    return std::isfinite(d) ? Json(d) : Json(nullptr);
  }
  if (auto u = v.as_uint(); u && (v.type() == ValueType::UINT64 || v.type() == ValueType::UINT32 ||
                                  v.type() == ValueType::UINT16 || v.type() == ValueType::UINT8))
    return *u;
  if (auto i = v.as_int()) return *i;
  return nullptr;
}

Json model_info_json(const gguf::GgufFile& file, bool verbose) {
  // GGUF keys are unique (the reader refuses duplicates), so entries are appended without the ordered
  // map's linear search per insert (quadratic: 200k keys took 35 s).
  Json info = Json::object();
  auto& entries = static_cast<std::vector<std::pair<const std::string, Json>>&>(info.get_ref<Json::object_t&>());
  entries.reserve(file.metadata.size());
  for (const auto& [key, value] : file.metadata) {
    if (key == "general.name" || key == "tokenizer.chat_template") continue;
    entries.emplace_back(key, gguf_value_json(value, verbose));
  }
  return info;
}

Json tensors_json(const gguf::GgufFile& file) {
  Json out = Json::array();
  for (const auto& t : file.tensors) {
    const DTypeTraits* tr = find_dtype(t.type_id);
    out.push_back({{"name", t.name},
                   {"type", tr ? std::string(tr->name) : fmt::format("type{}", t.type_id)},
                   {"shape", t.dims}});
  }
  return out;
}

}  // namespace strata::server
