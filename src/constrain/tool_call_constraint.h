// constrain/tool_call_constraint.h: constrained sampling of tool calls: the output is one call written in
// the model family's format (a literal prefix, the JSON its tool's schema allows, a literal suffix; one
// alternative per way of writing it), either from the first token (a call is required) or from the
// moment the output writes a trigger (a call has begun), so that even a weak model's call parses.
// The formats themselves are the chat layer's (chat/output_format.h); this is only bytes and tokens.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "constrain/json_schema.h"

namespace strata::constrain {

struct FramedCall {
  std::string prefix;  // may contain control tokens' text (<|channel|>, [TOOL_CALLS])
  std::shared_ptr<const CompiledSchema> schema;
  std::string suffix;
};

struct ToolCallSpec {
  std::vector<FramedCall> calls;      // the alternatives
  std::vector<std::string> triggers;  // empty: constrained from the first token; else from a trigger on
};

// The texts some alternative allows, a byte at a time (the live alternatives followed side by side).
class FramedRecognizer {
 public:
  explicit FramedRecognizer(std::shared_ptr<const ToolCallSpec> spec);
  // literal_only: the byte must fall in a prefix or suffix (a control token may not write JSON).
  bool feed(uint8_t c, bool literal_only = false);
  bool feed(std::string_view bytes, bool literal_only = false) {
    for (char c : bytes)
      if (!feed(static_cast<uint8_t>(c), literal_only)) return false;
    return true;
  }
  bool can_end() const;  // some alternative is complete

 private:
  enum class Phase : uint8_t { Prefix, Schema, Suffix };
  struct Path {
    size_t alt = 0;
    Phase phase = Phase::Prefix;
    size_t pos = 0;  // into prefix or suffix
    std::optional<SchemaRecognizer> schema;
  };
  bool complete(const Path& p) const;

  std::shared_ptr<const ToolCallSpec> spec_;
  std::vector<Path> paths_;
};

class ToolCallConstraint final : public TokenConstraint {
 public:
  ToolCallConstraint(const tokenizer::Tokenizer& tokenizer, std::shared_ptr<const ToolCallSpec> spec);
  Status restrict(std::span<float> logits) override;
  void accept(int32_t token) override;
  bool active() const { return state_.has_value(); }

 private:
  void look_for_trigger();

  VocabBytes vocab_;
  std::vector<std::pair<int32_t, std::string>> controls_;  // control tokens that do not end generation
  std::shared_ptr<const ToolCallSpec> spec_;
  std::optional<FramedRecognizer> state_;  // set while a call is being written
  std::string recent_;  // free output since the last call (its tail), where a trigger is looked for
  std::vector<uint8_t> allowed_;  // scratch for restrict()
};

}  // namespace strata::constrain
