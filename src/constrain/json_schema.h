// constrain/json_schema.h: schema-constrained output (`format: {JSON Schema}`): the schema as plain data
// (compiled from JSON at the edge, constrain/json_schema_compile.h), a byte-level recognizer of the JSON
// texts it allows, and the token constraint built on it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "constrain/json_constraint.h"

namespace strata::constrain {

// One schema node. Nodes refer to each other by index, so that $ref cycles (recursive schemas) work.
struct SchemaNode {
  enum class Kind : uint8_t {
    Any,       // any JSON value
    Object,    // members in `props` order; optional ones may be left out, no others
    Array,     // `items` values, between min_items and max_items of them
    String,    // any string
    Number,    // any number
    Integer,   // a number without fraction or exponent
    Literals,  // one of `literals` exactly (enum, const, boolean, null)
    AnyOf,     // one of `alternatives`
  };
  struct Prop {
    std::string key;  // as written between the quotes (JSON-escaped)
    int node = -1;
    bool required = false;
  };
  Kind kind = Kind::Any;
  bool object_only = false;           // Any: only an object (`{"type": "object"}` without properties)
  std::vector<Prop> props;            // Object (at most kMaxProps)
  int items = -1;                     // Array
  int min_items = 0, max_items = -1;  // Array; -1: no limit
  std::vector<std::string> literals;  // Literals: compact JSON texts (at most kMaxLiterals)
  std::vector<int> alternatives;      // AnyOf
};

struct CompiledSchema {
  static constexpr size_t kMaxProps = 64;
  static constexpr size_t kMaxLiterals = 64;
  std::vector<SchemaNode> nodes;
  int root = -1;
};

// The JSON texts a compiled schema allows, one byte at a time. Alternatives (anyOf, a literal that may
// be a prefix of another) are followed side by side as a small set of stacks.
class SchemaRecognizer {
 public:
  explicit SchemaRecognizer(std::shared_ptr<const CompiledSchema> schema);
  bool feed(uint8_t c);  // false: `c` cannot continue (the recognizer is then unusable)
  bool feed(std::string_view bytes) {
    for (char c : bytes)
      if (!feed(static_cast<uint8_t>(c))) return false;
    return true;
  }
  bool can_end() const;  // the text so far is one whole value the schema allows

  struct Frame {
    int node = -1;
    uint8_t phase = 0;
    uint8_t sub = 0;            // String: escape state; Number: number state
    uint16_t pos = 0;           // Literals / object key: bytes matched
    uint64_t alive = 0;         // Literals / object key: candidates still matching
    int next_prop = 0;          // Object: the first member not yet decided
    int count = 0;              // Array: items so far
    JsonRecognizer any{true};   // Any
  };
  struct Path {
    std::vector<Frame> stack;
    uint8_t ws_run = 0;
    bool ws_newline = false;
  };

 private:
  std::shared_ptr<const CompiledSchema> schema_;
  std::vector<Path> paths_;
};

class SchemaConstraint final : public TokenConstraint {
 public:
  SchemaConstraint(const tokenizer::Tokenizer& tokenizer, std::shared_ptr<const CompiledSchema> schema);
  Status restrict(std::span<float> logits) override;
  void accept(int32_t token) override;
  bool complete() const { return state_.can_end(); }

 private:
  VocabBytes vocab_;
  SchemaRecognizer state_;
  std::vector<uint8_t> allowed_;  // scratch for restrict()
};

}  // namespace strata::constrain
