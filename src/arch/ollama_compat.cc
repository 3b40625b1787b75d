// arch/ollama_compat.cc: the table of Ollama-store translations and the one pass that applies it.
// The facts come from Ollama's own load-time compatibility layer and its converters' history: early gpt-oss
// blobs say `gptoss` with keys `gptoss.*`, `attn_out`, unsuffixed `attn_sinks`, `ffn_norm` for the second
// norm, no expert width and no pre-tokenizer; Llama 3 blobs may lack `tokenizer.ggml.pre` and end turns with
// <|end_of_text|> (128001) where instruct models emit <|eot_id|> (128009); monolithic vision blobs carry the
// encoder (`v.*`) and projector (`mm.*`) beside the text weights.
#include "arch/ollama_compat.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/log.h"

namespace strata::arch {

namespace {

using Notes = std::vector<std::string>;

// A tensor renamed when its name, less any "blk.N." prefix, equals `from`.
struct TensorRename {
  std::string_view from, to;
};

// One row: which blobs it recognises and what it changes.
struct Rule {
  std::string_view name;                          // the log line's label
  std::string_view arch;                          // the blob's general.architecture ("" = any)
  bool (*detect)(const gguf::GgufFile&);          // a further marker (nullptr: the architecture says enough)
  std::string_view to_arch;                       // llama.cpp's name ("" = same); "<arch>.*" keys move with it
  std::span<const TensorRename> renames;          // tensor names
  std::span<const std::string_view> hide;         // tensor-name prefixes the text model must not see
  void (*fix_metadata)(gguf::GgufFile&, Notes&);  // key fixes after the move (nullptr: none)
};

// --- metadata access on the parsed file (lookups through its indices, which every edit keeps current) ---

void reindex(gguf::GgufFile& f) {
  f.key_index.clear();
  for (size_t i = 0; i < f.metadata.size(); ++i) f.key_index[f.metadata[i].first] = i;
  f.tensor_index.clear();
  for (size_t i = 0; i < f.tensors.size(); ++i) f.tensor_index[f.tensors[i].name] = i;
}

void set_key(gguf::GgufFile& f, std::string_view key, gguf::Value v) {
  if (auto it = f.key_index.find(std::string(key)); it != f.key_index.end()) {
    f.metadata[it->second].second = std::move(v);
    return;
  }
  f.key_index[std::string(key)] = f.metadata.size();
  f.metadata.emplace_back(std::string(key), std::move(v));
}

std::string string_key(const gguf::GgufFile& f, std::string_view key) {
  const gguf::Value* v = f.find(key);
  return v && v->as_string() ? *v->as_string() : std::string();
}

std::optional<int64_t> int_key(const gguf::GgufFile& f, std::string_view key) {
  const gguf::Value* v = f.find(key);
  return v ? v->as_int() : std::nullopt;
}

bool token_is(const gguf::GgufFile& f, size_t id, std::string_view text) {
  const gguf::Value* v = f.find("tokenizer.ggml.tokens");
  const gguf::Array* a = v ? v->as_array() : nullptr;
  if (!a || id >= a->items.size()) return false;
  const std::string* s = a->items[id].as_string();
  return s && *s == text;
}

// --- gpt-oss (`gptoss`) ---

void fix_gptoss(gguf::GgufFile& f, Notes& notes) {
  constexpr std::string_view kExpertFf = "gpt-oss.expert_feed_forward_length";
  if (!f.find(kExpertFf)) {
    // The expert gate is {n_embd, n_ff_exp, n_expert}: its second dimension is the expert width.
    if (const gguf::TensorInfo* g = f.find_tensor("blk.0.ffn_gate_exps.weight"); g && g->dims.size() == 3) {
      set_key(f, kExpertFf, gguf::Value::of_u32(static_cast<uint32_t>(g->dims[1])));
      notes.push_back(fmt::format("{} = {} (from blk.0.ffn_gate_exps.weight)", kExpertFf, g->dims[1]));
    }
  }
  if (!f.find("gpt-oss.rope.scaling.type")) {
    set_key(f, "gpt-oss.rope.scaling.type", gguf::Value::of_string("yarn"));
    notes.push_back("gpt-oss.rope.scaling.type = yarn");
  }
  // The blobs name the GPT-2 default; gpt-oss tokenizes with o200k's pre-tokenizer.
  const std::string pre = string_key(f, "tokenizer.ggml.pre");
  if (pre != "gpt-4o") {
    set_key(f, "tokenizer.ggml.pre", gguf::Value::of_string("gpt-4o"));
    notes.push_back(fmt::format("tokenizer.ggml.pre '{}' -> 'gpt-4o'", pre));
  }
}

constexpr TensorRename kGptossRenames[] = {
    {"attn_out.weight", "attn_output.weight"},
    {"attn_out.bias", "attn_output.bias"},
    {"attn_sinks", "attn_sinks.weight"},
    {"ffn_norm.weight", "post_attention_norm.weight"},
};

// --- Llama 3 vocabularies ---

constexpr int64_t kEndOfText = 128001, kEotId = 128009;

bool pre_missing_or_default(const gguf::GgufFile& f) {
  const gguf::Value* v = f.find("tokenizer.ggml.pre");
  if (!v) return true;
  const std::string* s = v->as_string();
  return s && (s->empty() || *s == "default");
}

// A Llama 3 chat vocabulary (<|eot_id|> at 128009 and the header markers) whose pre-tokenizer is missing or
// whose EOS is <|end_of_text|>.
bool detect_llama3_gap(const gguf::GgufFile& f) {
  if (!token_is(f, kEotId, "<|eot_id|>")) return false;
  const std::string tmpl = string_key(f, "tokenizer.chat_template");
  const bool in_template =
      tmpl.find("<|start_header_id|>") != std::string::npos || tmpl.find("<|eot_id|>") != std::string::npos;
  const bool chat = token_is(f, 128006, "<|start_header_id|>") || in_template;
  return chat && (pre_missing_or_default(f) || int_key(f, "tokenizer.ggml.eos_token_id") == kEndOfText);
}

void fix_llama3(gguf::GgufFile& f, Notes& notes) {
  if (pre_missing_or_default(f)) {
    set_key(f, "tokenizer.ggml.pre", gguf::Value::of_string("llama-bpe"));
    notes.push_back("tokenizer.ggml.pre = llama-bpe");
  }
  for (std::string_view key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    const std::optional<int64_t> id = int_key(f, key);
    if (!id || *id == kEndOfText) {
      set_key(f, key, gguf::Value::of_u32(static_cast<uint32_t>(kEotId)));
      notes.push_back(fmt::format("{} {} -> {}", key, id ? fmt::format("{}", *id) : "(missing)", kEotId));
    }
  }
  gguf::Array ids;
  ids.elem_type = gguf::ValueType::INT32;
  ids.items.push_back(gguf::Value::of_i32(static_cast<int32_t>(kEotId)));
  set_key(f, "tokenizer.ggml.eos_token_ids", gguf::Value::array(std::move(ids)));
}

// --- monolithic vision blobs ---

constexpr std::string_view kVisionPrefixes[] = {"v.", "mm."};

bool has_vision_tensors(const gguf::GgufFile& f) {
  for (const auto& t : f.tensors)
    for (std::string_view p : kVisionPrefixes)
      if (t.name.starts_with(p)) return true;
  return false;
}

// clang-format off
const Rule kRules[] = {
  // name          blob arch  marker               llama.cpp arch  tensor renames   hidden tensors   metadata fixes
  {"gpt-oss",      "gptoss",  nullptr,             "gpt-oss",      kGptossRenames,  {},              fix_gptoss},
  {"llama3 vocab", "llama",   detect_llama3_gap,   "",             {},              {},              fix_llama3},
  {"vision",       "",        has_vision_tensors,  "",             {},              kVisionPrefixes, nullptr},
};
// clang-format on

// --- the pass ---

void move_arch(gguf::GgufFile& f, std::string_view from, std::string_view to, Notes& notes) {
  set_key(f, "general.architecture", gguf::Value::of_string(std::string(to)));
  const std::string old_prefix = std::string(from) + ".", new_prefix = std::string(to) + ".";
  int moved = 0;
  for (auto& [k, v] : f.metadata)
    if (k.starts_with(old_prefix) && !f.find(new_prefix + k.substr(old_prefix.size()))) {
      k = new_prefix + k.substr(old_prefix.size());
      ++moved;
    }
  reindex(f);
  notes.push_back(fmt::format("architecture '{}' -> '{}' ({} keys moved)", from, to, moved));
}

void rename_tensors(gguf::GgufFile& f, std::span<const TensorRename> renames, Notes& notes) {
  int n = 0;
  for (auto& t : f.tensors) {
    // "blk.N." stays; the rest is compared whole.
    size_t rest = 0;
    if (t.name.starts_with("blk.")) {
      const size_t dot = t.name.find('.', 4);
      rest = dot == std::string::npos ? t.name.size() : dot + 1;
    }
    for (const TensorRename& r : renames) {
      const std::string to = t.name.substr(0, rest) + std::string(r.to);
      if (std::string_view(t.name).substr(rest) == r.from && !f.find_tensor(to)) {
        t.name = to;
        ++n;
        break;
      }
    }
  }
  reindex(f);
  if (n > 0) notes.push_back(fmt::format("{} tensors renamed to llama.cpp's names", n));
}

void hide_tensors(gguf::GgufFile& f, std::span<const std::string_view> prefixes, Notes& notes) {
  const size_t before = f.tensors.size();
  std::erase_if(f.tensors, [&](const gguf::TensorInfo& t) {
    for (std::string_view p : prefixes)
      if (t.name.starts_with(p)) return true;
    return false;
  });
  reindex(f);
  notes.push_back(fmt::format("{} vision/projector tensors skipped", before - f.tensors.size()));
}

}  // namespace

std::vector<std::string> translate_ollama_file(gguf::GgufFile& file) {
  std::vector<std::string> lines;
  for (const Rule& rule : kRules) {
    const std::string arch = string_key(file, "general.architecture");
    if (!rule.arch.empty() && arch != rule.arch) continue;
    if (rule.detect && !rule.detect(file)) continue;
    Notes notes;
    if (!rule.to_arch.empty()) move_arch(file, rule.arch, rule.to_arch, notes);
    if (!rule.renames.empty()) rename_tensors(file, rule.renames, notes);
    if (!rule.hide.empty()) hide_tensors(file, rule.hide, notes);
    if (rule.fix_metadata) rule.fix_metadata(file, notes);
    std::string line = fmt::format("ollama blob ({})", rule.name);
    for (size_t i = 0; i < notes.size(); ++i) line += (i == 0 ? ": " : "; ") + notes[i];
    log(LogLevel::Info, "{}: {}", file.path, line);
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace strata::arch
