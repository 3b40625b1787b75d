// tests/engine/batcher_test.cc: continuous batching on stories260K: sequences that join and leave at step
// boundaries answer exactly as each does alone (greedy), a long prompt goes in chunks without stalling a
// running decode, cancellation frees the slot at the next step, and the prefix cache (a warm slot, or a
// copy of a running sequence's KV) cuts the prompt tokens evaluated without changing the answer.
#include <gtest/gtest.h>

#include <optional>

#include "engine/batcher.h"
#include "engine/session.h"
#include "support/test_support.h"

namespace strata::engine {
namespace {

std::unique_ptr<LoadedModel> load_stories() {
  EngineOptions o;
  o.model_path = testing::shared_path("models/stories260K.gguf");
  o.n_threads = 2;
  auto lm = LoadedModel::load(o);
  EXPECT_TRUE(lm.is_ok()) << lm.status().message();
  return lm.is_ok() ? std::move(lm).value() : nullptr;
}

std::vector<int32_t> encode(const LoadedModel& lm, const std::string& text) {
  tokenizer::EncodeOptions eo;
  eo.add_bos = true;
  return lm.tokenizer().encode(text, eo);
}

GenerateRequest greedy(std::vector<int32_t> prompt, int32_t max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

// What a sequence reports, and the step at which each text piece came.
struct Outcome {
  std::optional<Result<GenerateResult>> result;
  std::vector<uint64_t> piece_steps;
  bool cancel = false;
};

BatchRequest request(GenerateRequest r, Outcome& out, const uint64_t& step) {
  BatchRequest b;
  b.request = std::move(r);
  b.on_text = [&out, &step](std::string_view) {
    out.piece_steps.push_back(step);
    return true;
  };
  b.cancelled = [&out] { return out.cancel; };
  b.on_done = [&out](Result<GenerateResult> r) {
    EXPECT_FALSE(out.result.has_value()) << "on_done called twice";
    out.result = std::move(r);
  };
  return b;
}

GenerateResult alone(LoadedModel& lm, const GenerateRequest& r) {
  Session s(lm, 512);
  auto res = s.generate(r, nullptr);
  EXPECT_TRUE(res.is_ok()) << res.status().message();
  return res.is_ok() ? std::move(res).value() : GenerateResult{};
}

const std::vector<std::string> kPrompts = {"Once upon a time", "The little dog ran to the", "Lily and Tom went to",
                                           "One day, a big bird"};

TEST(Batcher, SequencesJoiningAndLeavingAnswerAsAlone) {
  auto lm = load_stories();
  ASSERT_NE(lm, nullptr);
  BatcherOptions bo;
  bo.n_parallel = 3;
  bo.n_ctx = 512;
  Batcher b(*lm, bo);
  ASSERT_TRUE(b.status().is_ok());
  std::vector<GenerateRequest> reqs;
  for (size_t i = 0; i < kPrompts.size(); ++i) reqs.push_back(greedy(encode(*lm, kPrompts[i]), 12 + 5 * static_cast<int>(i)));
  std::vector<Outcome> outs(reqs.size());
  uint64_t step = 0;
  // Two at once; the third joins at step 3; the fourth waits for a free slot (three slots).
  b.admit(request(reqs[0], outs[0], step));
  b.admit(request(reqs[1], outs[1], step));
  size_t next = 2;
  while (b.step()) {
    ++step;
    if (step >= 3 && next < reqs.size() && b.has_free_slot()) {
      b.admit(request(reqs[next], outs[next], step));
      ++next;
    }
    ASSERT_LT(step, 1000u);
  }
  EXPECT_EQ(next, reqs.size());
  EXPECT_GT(b.counters().batched_steps, 0u);
  for (size_t i = 0; i < reqs.size(); ++i) {
    SCOPED_TRACE(kPrompts[i]);
    ASSERT_TRUE(outs[i].result.has_value());
    ASSERT_TRUE(outs[i].result->is_ok()) << outs[i].result->status().message();
    const GenerateResult want = alone(*lm, reqs[i]);
    EXPECT_EQ(outs[i].result->value().tokens, want.tokens);
    EXPECT_EQ(outs[i].result->value().text, want.text);
    EXPECT_EQ(outs[i].result->value().reason, want.reason);
  }
}

// A prompt of at least `min_tokens` tokens (exactly that many when `exact`) of repeated text.
std::vector<int32_t> long_prompt(const LoadedModel& lm, size_t min_tokens, bool exact) {
  std::string text;
  while (encode(lm, text).size() < min_tokens) text += "The cat sat on the mat and looked at the sun. ";
  std::vector<int32_t> p = encode(lm, text);
  if (exact) p.resize(min_tokens);
  return p;
}

// `long_req` admitted one step after `short_req` began decoding, in a batcher of two slots and prompt chunks
// of 32, run until both are answered. Returns the step at which the long request joined.
uint64_t join_beside_a_decode(LoadedModel& lm, const GenerateRequest& short_req, const GenerateRequest& long_req,
                              Outcome& s, Outcome& l) {
  BatcherOptions bo;
  bo.n_parallel = 2;
  bo.n_ctx = 512;
  bo.prompt_chunk = 32;
  uint64_t step = 0;  // read by the requests' callbacks: it outlives the batcher
  Batcher b(lm, bo);
  b.admit(request(short_req, s, step));
  b.step();
  ++step;
  const uint64_t joined = step;
  b.admit(request(long_req, l, step));
  while (b.step()) ++step;
  return joined;
}

TEST(Batcher, LongPromptGoesInChunksBesideARunningDecode) {
  auto lm = load_stories();
  ASSERT_NE(lm, nullptr);
  const GenerateRequest short_req = greedy(encode(*lm, kPrompts[0]), 40);
  const GenerateRequest long_req = greedy(long_prompt(*lm, 200, false), 8);
  Outcome s, l;
  const uint64_t joined = join_beside_a_decode(*lm, short_req, long_req, s, l);
  ASSERT_TRUE(s.result && s.result->is_ok() && l.result && l.result->is_ok());
  // The long prompt took several steps (chunks of 32); the short sequence decoded in each of them.
  const uint64_t chunks = (long_req.prompt.size() + 31) / 32;
  ASSERT_GE(chunks, 6u);
  ASSERT_FALSE(l.piece_steps.empty());
  EXPECT_GE(l.piece_steps.front(), joined + chunks - 1) << "the long prompt went in one pass";
  size_t during = 0;
  for (uint64_t t : s.piece_steps) during += t >= joined && t < joined + chunks - 1;
  EXPECT_GE(during, chunks - 2) << "the running decode stalled while the long prompt went in";
  EXPECT_EQ(s.result->value().tokens, alone(*lm, short_req).tokens);
  EXPECT_EQ(l.result->value().tokens, alone(*lm, long_req).tokens);
}

// A prompt whose last chunk would be of decode size (kernels::kDecodeProductRows tokens or fewer) takes that
// tail with the chunk before it: 69 tokens in chunks of 32 go as 32 + 37, not 32 + 32 + 5 (a 5-token pass
// would run the decode kernels where the prompt alone runs the prompt's).
TEST(Batcher, APromptIsNotChunkedIntoADecodeSizedTail) {
  auto lm = load_stories();
  ASSERT_NE(lm, nullptr);
  const GenerateRequest short_req = greedy(encode(*lm, kPrompts[1]), 30);
  const GenerateRequest long_req = greedy(long_prompt(*lm, 69, true), 6);
  Outcome s, l;
  const uint64_t joined = join_beside_a_decode(*lm, short_req, long_req, s, l);
  ASSERT_TRUE(s.result && s.result->is_ok() && l.result && l.result->is_ok());
  ASSERT_FALSE(l.piece_steps.empty());
  EXPECT_EQ(l.piece_steps.front(), joined + 1) << "the 69-token prompt did not go in two passes";
  EXPECT_EQ(l.result->value().tokens, alone(*lm, long_req).tokens);
}

TEST(Batcher, CancellationFreesTheSlotAtTheNextStep) {
  auto lm = load_stories();
  ASSERT_NE(lm, nullptr);
  BatcherOptions bo;
  bo.n_parallel = 2;
  bo.n_ctx = 256;
  Batcher b(*lm, bo);
  Outcome a, c;
  uint64_t step = 0;
  b.admit(request(greedy(encode(*lm, kPrompts[0]), -1), a, step));
  b.admit(request(greedy(encode(*lm, kPrompts[1]), 20), c, step));
  for (int i = 0; i < 3; ++i) b.step();
  EXPECT_FALSE(b.has_free_slot());
  a.cancel = true;
  b.step();
  ASSERT_TRUE(a.result.has_value());
  ASSERT_TRUE(a.result->is_ok());
  EXPECT_EQ(a.result->value().reason, StopReason::Cancelled);
  EXPECT_EQ(b.n_active(), 1);
  EXPECT_TRUE(b.has_free_slot());
  while (b.step()) {
  }
  ASSERT_TRUE(c.result && c.result->is_ok());
  EXPECT_EQ(c.result->value().tokens, alone(*lm, greedy(encode(*lm, kPrompts[1]), 20)).tokens);
}

TEST(Batcher, RefusesAPromptTheContextCannotHold) {
  auto lm = load_stories();
  ASSERT_NE(lm, nullptr);
  BatcherOptions bo;
  bo.n_ctx = 16;
  Batcher b(*lm, bo);
  Outcome o;
  uint64_t step = 0;
  b.admit(request(greedy(std::vector<int32_t>(16, 1), 4), o, step));
  ASSERT_TRUE(o.result.has_value());
  EXPECT_TRUE(o.result->status().is_out_of_range()) << o.result->status().message();
  Outcome e;
  b.admit(request(greedy({}, 4), e, step));
  ASSERT_TRUE(e.result.has_value());
  EXPECT_FALSE(e.result->is_ok());
  EXPECT_EQ(b.n_active(), 0);
}

// A system prompt shared by two requests: the second takes the shared positions from the first's warm
// slot (finished) or copies them from its cache (still running); its answer is the one it gets cold.
TEST(Batcher, PrefixCacheReusesSharedPositions) {
  auto lm = load_stories();
  ASSERT_NE(lm, nullptr);
  const std::string system = "Once upon a time, there was a little girl named Lily. She liked to play with her ball. ";
  const GenerateRequest first = greedy(encode(*lm, system + "One day"), 10);
  const GenerateRequest second = greedy(encode(*lm, system + "Her mom said"), 10);
  int64_t shared = 0;
  while (first.prompt[shared] == second.prompt[shared]) ++shared;
  ASSERT_GT(shared, 20);
  const GenerateResult want = alone(*lm, second);
  for (bool running : {false, true}) {
    SCOPED_TRACE(running ? "from a running sequence" : "from a finished one");
    BatcherOptions bo;
    bo.n_parallel = 2;
    bo.n_ctx = 256;
    Batcher b(*lm, bo);
    Outcome o1, o2;
    uint64_t step = 0;
    b.admit(request(first, o1, step));
    if (running) {
      b.step();  // the first prompt is in; the first sequence is decoding
      ASSERT_EQ(b.n_active(), 1);
    } else {
      while (b.step()) {
      }
    }
    b.admit(request(second, o2, step));
    while (b.step()) {
    }
    ASSERT_TRUE(o2.result && o2.result->is_ok());
    const GenerateResult& got = o2.result->value();
    EXPECT_EQ(got.n_prompt_evaluated, static_cast<int64_t>(second.prompt.size()) - shared);
    EXPECT_EQ(want.n_prompt_evaluated, static_cast<int64_t>(second.prompt.size()));
    EXPECT_EQ(got.tokens, want.tokens);
    EXPECT_EQ(b.counters().prompt_tokens_reused, static_cast<uint64_t>(shared));
    EXPECT_EQ(b.counters().kv_prefix_copies, running ? 1u : 0u);
  }
}

}  // namespace
}  // namespace strata::engine
