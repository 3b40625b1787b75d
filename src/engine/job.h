// engine/job.h: one request queued on a model's runner, and the channel back to the thread that
// waits for it: text pieces as they are decided, then a final outcome or an error.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "constrain/json_schema.h"
#include "constrain/tool_call_constraint.h"
#include "engine/runtime.h"
#include "engine/session.h"
#include "engine/sampler.h"

namespace strata::engine {

// The per-request knobs of a generation, after defaults, model parameters and request options.
struct RunOptions {
  int64_t num_ctx = 0;              // 0: the server's default context
  int32_t num_predict = -1;         // < 0: until EOS or a full context
  SamplingOptions sampling;          // temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n
  int64_t seed = -1;                // < 0: random
  std::vector<std::string> stop;
};

// A keep-alive duration: negative means "forever", zero "unload after this request".
using KeepAlive = std::chrono::nanoseconds;
inline constexpr KeepAlive kKeepForever = KeepAlive(-1);

// Builds the prompt once the model is loaded (tokenizer, template) and the context size is known,
// checking `cancelled` between long steps. Its error's kind says whose fault it is (a template error:
// invalid argument; an input too long: out of range; the client gone: cancelled).
using PromptBuilder = std::function<Result<std::vector<int32_t>>(const LoadedModel& model, int64_t n_ctx,
                                                                 const std::function<bool()>& cancelled)>;

// What the runner reports when a job ends well.
struct JobOutcome {
  GenerateResult result;              // generation: tokens, text, reason, counts, timings
  std::vector<int32_t> prompt;        // the prompt tokens (for /api/generate's context)
  std::vector<std::vector<float>> embeddings;
  int64_t n_input_tokens = 0;         // embeddings: tokens over all inputs
  double load_seconds = 0;
  int64_t n_ctx = 0;
  bool unloaded = false;              // a load job with keep_alive 0: the model is (now) unloaded
};

struct JobEvent {
  enum class Kind { Text, Done, Error };
  Kind kind = Kind::Text;
  std::string text;        // Text: a piece of whole UTF-8 characters
  Status error;            // Error
};

class Job {
 public:
  enum class Kind { Load, Generate, Embed };

  // The request, fixed before submission.
  Kind kind = Kind::Generate;
  std::string model_name;  // display name, for /api/ps
  RunOptions options;
  std::optional<KeepAlive> keep_alive;
  PromptBuilder build_prompt;                 // Generate
  bool json_output = false;                   // Generate: `format: "json"`: constrained to one JSON object
  std::shared_ptr<const constrain::CompiledSchema> schema;  // Generate: constrained to what this schema allows
  std::shared_ptr<const constrain::ToolCallSpec> tool_calls;  // Generate: a forced or guarded tool call
  bool render_special = false;                // Generate: control tokens in the text (for the reply's parser)
  std::vector<std::string> embed_inputs;      // Embed
  bool embed_truncate = true;
  bool embed_normalize = true;
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();

  // Runner side.
  void emit_text(std::string_view text);
  void finish(JobOutcome outcome);
  void fail(Status error);
  bool cancelled() const { return cancelled_.load(); }
  void mark_started() { started_.store(true); }

  // Client side: the next event, or nullopt after `timeout` with nothing new.
  std::optional<JobEvent> next_event(std::chrono::milliseconds timeout);
  // The client is gone: the runner stops at the next token (or skips the job if it has not started).
  void cancel() { cancelled_.store(true); }
  // The runner has taken the job from its queue.
  bool started() const { return started_.load(); }
  // Valid after a Done event.
  const JobOutcome& outcome() const { return outcome_; }

 private:
  std::mutex mutex_;  // guards events_ and outcome_
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
  JobOutcome outcome_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> started_{false};
};

}  // namespace strata::engine
