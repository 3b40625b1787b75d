// arch/ollama_compat.h: Ollama-store files translated at load into their llama.cpp equivalents, by a table of
// rules (architecture alias, key prefix, tensor renames, metadata fixes, tensors to hide).
#pragma once

#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace strata::arch {

// Rewrites the parsed metadata and tensor directory of `file` in place where a rule recognises an Ollama
// blob (files that match no rule are left as they are). Returns one line per translation applied, also
// logged at info level. Run it between gguf::read_file and anything that reads hparams or the vocabulary.
std::vector<std::string> translate_ollama_file(gguf::GgufFile& file);

}  // namespace strata::arch
