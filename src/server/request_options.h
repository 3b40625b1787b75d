// server/request_options.h: Ollama's `options` object (Modelfile parameters) and `keep_alive`, parsed
// into plain structs; the defaults of the native and the OpenAI endpoints.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/job.h"
#include "server/json_util.h"

namespace strata::server {

using engine::KeepAlive;
using engine::RunOptions;

// Ollama's defaults (temperature 0.8, top_k 40, top_p 0.9, min_p 0, repeat_penalty 1, repeat_last_n 64).
RunOptions ollama_defaults();
// The OpenAI endpoints' defaults: as Ollama's, but temperature 1.0 and top_p 1.0.
RunOptions openai_defaults();

// Applies an options object over `out`. Null values and unknown or retired keys (mirostat, tfs_z,
// numa, ...) are ignored; a known key of the wrong type is an error ("option \"stop\" must be of type
// array"). `options` may be null (nothing to apply); anything else but an object is an error.
Status apply_options(const Json& options, RunOptions& out);

// JSON number = seconds; string = a Go duration ("5m", "1h30m", "300ms", "-1s", "0") or plain seconds
// ("300", "-1"). Null or absent gives nullopt. Errors name the bad value.
Result<std::optional<KeepAlive>> parse_keep_alive(const Json& request);
Result<KeepAlive> parse_duration(std::string_view text);

}  // namespace strata::server
