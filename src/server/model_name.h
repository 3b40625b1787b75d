// server/model_name.h: Ollama model names ([host/][namespace/]model[:tag]): parsing with defaults,
// validation, the short display form, and case-insensitive identity.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace strata::server {

inline constexpr std::string_view kDefaultHost = "registry.ollama.ai";
inline constexpr std::string_view kDefaultNamespace = "library";
inline constexpr std::string_view kDefaultTag = "latest";

struct ModelName {
  std::string host = std::string(kDefaultHost);
  std::string space = std::string(kDefaultNamespace);  // "namespace" is a keyword
  std::string model;
  std::string tag = std::string(kDefaultTag);

  // "llama3.2:latest", "myns/foo:q4", "host:5000/ns/m:t": defaults left out, the tag always shown.
  std::string display() const;
  // Lower-cased full form: names are equal when their keys are.
  std::string key() const;
  bool operator==(const ModelName& other) const { return key() == other.key(); }
};

// Parses and validates a name; missing parts take the defaults. Leading/trailing whitespace is ignored.
// The error message is the one Ollama gives: "invalid model name".
Result<ModelName> parse_model_name(std::string_view text);

// A valid model part made from a file stem: lower-cased, other characters turned into '-', at most 80.
std::string model_part_from_stem(std::string_view stem);

}  // namespace strata::server
