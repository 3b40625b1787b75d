// tests/chat/chat_prompt_test.cc: prompts as the server builds them, with stories260K's tokenizer and
// real templates from ../shared/templates: BOS never doubled, the system fold for Mixtral, template
// errors surfacing as errors, the no-template fallbacks, and history truncation.
#include <chrono>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "chat/chat_prompt.h"
#include "support/test_support.h"
#include "tensor/dtype.h"
#include "tokenizer/detokenizer.h"

namespace strata::chat {
namespace {

class ChatPromptTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto file = gguf::read_file(testing::shared_path("models/stories260K.gguf"), gguf_type_lookup());
    ASSERT_TRUE(file.is_ok()) << file.status().message();
    auto tok = tokenizer::make_tokenizer(file.value());
    ASSERT_TRUE(tok.is_ok()) << tok.status().message();
    owned_ = std::move(tok).value();
    tokenizer_ = owned_.get();
  }
  static void TearDownTestSuite() { owned_.reset(); }

  static std::string read_template(const std::string& name) {
    std::ifstream in(testing::shared_path("templates/" + name), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  PromptFormat format(std::string source) { return PromptFormat{std::move(source), cache_}; }
  std::string text_of(const std::vector<int32_t>& ids) {
    tokenizer::DetokenizeOptions o;
    o.render_special = true;
    return tokenizer::detokenize(*tokenizer_, ids, o);
  }
  int count_bos(const std::vector<int32_t>& ids) {
    return static_cast<int>(std::count(ids.begin(), ids.end(), *tokenizer_->vocab().bos_id()));
  }

  inline static std::unique_ptr<tokenizer::Tokenizer> owned_;
  inline static const tokenizer::Tokenizer* tokenizer_ = nullptr;
  std::shared_ptr<TemplateCache> cache_ = std::make_shared<TemplateCache>();
};

TEST_F(ChatPromptTest, TemplateWritingBosGetsExactlyOneBos) {
  // Llama 3.1 starts with {{- bos_token }}; this vocabulary's BOS is <s> and add_bos is on.
  auto ids = chat_prompt_tokens(format(read_template("meta-llama-Llama-3.1-8B-Instruct.jinja")),
                                {{"system", "Be brief."}, {"user", "Hello"}}, *tokenizer_);
  ASSERT_TRUE(ids.is_ok()) << ids.status().message();
  EXPECT_EQ(ids->front(), *tokenizer_->vocab().bos_id());
  EXPECT_EQ(count_bos(ids.value()), 1);
  const std::string text = text_of(ids.value());
  EXPECT_NE(text.find("Be brief."), std::string::npos);
  EXPECT_NE(text.find("Hello"), std::string::npos);
}

TEST_F(ChatPromptTest, SystemMessageFoldedForTemplatesThatRefuseIt) {
  // Mixtral v0.1 raises on a system role; the system text goes into the first user turn instead.
  auto ids = chat_prompt_tokens(format(read_template("mistralai-Mixtral-8x7B-Instruct-v0.1.jinja")),
                                {{"system", "Always rhyme."}, {"user", "Hello"}}, *tokenizer_);
  ASSERT_TRUE(ids.is_ok()) << ids.status().message();
  const std::string text = text_of(ids.value());
  const size_t inst = text.find("[INST]"), sys = text.find("Always rhyme."), user = text.find("Hello");
  ASSERT_NE(inst, std::string::npos) << text;
  EXPECT_LT(inst, sys);
  EXPECT_LT(sys, user);
  EXPECT_EQ(count_bos(ids.value()), 1);
}

TEST_F(ChatPromptTest, TemplateErrorsAreErrors) {
  // Roles that do not alternate: Mixtral's own raise_exception, reported with its message.
  auto ids = chat_prompt_tokens(format(read_template("mistralai-Mixtral-8x7B-Instruct-v0.1.jinja")),
                                {{"user", "a"}, {"user", "b"}}, *tokenizer_);
  ASSERT_FALSE(ids.is_ok());
  EXPECT_NE(ids.status().message().find("Conversation roles must alternate"), std::string::npos)
      << ids.status().message();
  EXPECT_FALSE(chat_prompt_tokens(format("{% if %}"), {{"user", "x"}}, *tokenizer_).is_ok());
}

TEST_F(ChatPromptTest, FallbacksForModelsWithoutTemplates) {
  // stories260K has no template and no ChatML tokens: chat uses the transcript, generate sends as is.
  EXPECT_EQ(fallback_for(tokenizer_->vocab()), FallbackStyle::Transcript);
  EXPECT_TRUE(generates_plain(format(""), tokenizer_->vocab()));
  EXPECT_FALSE(generates_plain(format("{{ messages }}"), tokenizer_->vocab()));
  auto ids = chat_prompt_tokens(format(""), {{"system", "Tell a story."}, {"user", "Once"}}, *tokenizer_);
  ASSERT_TRUE(ids.is_ok()) << ids.status().message();
  EXPECT_EQ(ids->front(), *tokenizer_->vocab().bos_id());
  EXPECT_EQ(count_bos(ids.value()), 1);
  const std::string text = text_of(ids.value());
  EXPECT_NE(text.find("Tell a story."), std::string::npos) << text;
  EXPECT_NE(text.find("Once"), std::string::npos) << text;
  EXPECT_NE(text.find("Assistant:"), std::string::npos) << text;
  auto plain = plain_prompt_tokens("Once upon a time", *tokenizer_, false);
  EXPECT_EQ(plain, tokenizer_->encode("Once upon a time", /*add_bos=*/true));
}

TEST_F(ChatPromptTest, TemplatesAreParsedOnce) {
  auto a = cache_->get("{{ messages[0]['content'] }}", FallbackStyle::ChatML);
  auto b = cache_->get("{{ messages[0]['content'] }}", FallbackStyle::ChatML);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(a.value().get(), b.value().get());
  EXPECT_NE(cache_->get("", FallbackStyle::ChatML).value().get(),
            cache_->get("", FallbackStyle::Transcript).value().get());
}

TEST_F(ChatPromptTest, LongHistoriesDropOldestTurns) {
  const PromptFormat f = format(read_template("meta-llama-Llama-3.1-8B-Instruct.jinja"));
  std::vector<ChatMessage> messages{{"system", "SYSTEM-TEXT"}};
  for (int i = 0; i < 12; ++i) {
    messages.push_back({"user", "question number " + std::to_string(i) + " about the little dog"});
    messages.push_back({"assistant", "answer number " + std::to_string(i)});
  }
  messages.push_back({"user", "LAST-QUESTION"});
  auto full = chat_prompt_tokens(f, messages, *tokenizer_);
  ASSERT_TRUE(full.is_ok());
  const int64_t budget = static_cast<int64_t>(full->size()) / 2;
  auto fitted = build_chat_prompt(f, messages, *tokenizer_, budget, /*truncate=*/false);
  ASSERT_TRUE(fitted.is_ok()) << fitted.status().message();
  EXPECT_LE(static_cast<int64_t>(fitted->size()), budget);
  const std::string text = text_of(fitted.value());
  EXPECT_NE(text.find("SYSTEM-TEXT"), std::string::npos);
  EXPECT_NE(text.find("LAST-QUESTION"), std::string::npos);
  EXPECT_EQ(text.find("question number 0 "), std::string::npos) << "the oldest turn went first";
  EXPECT_NE(text.find("answer number 11"), std::string::npos) << "the newest turns stay";

  // The last message alone does not fit: an error without truncate, the tail with it.
  std::vector<ChatMessage> one{{"user", std::string(2000, 'a')}};
  EXPECT_FALSE(build_chat_prompt(f, one, *tokenizer_, 50, false).is_ok());
  auto tail = build_chat_prompt(f, one, *tokenizer_, 50, true);
  ASSERT_TRUE(tail.is_ok());
  EXPECT_EQ(tail->size(), 50u);
  EXPECT_EQ(tail->front(), *tokenizer_->vocab().bos_id());
}

// Issue 13, defect 5: each dropped message re-rendered and re-tokenized the whole history (1,600 short
// messages: 23 s on the runner thread, deaf to the client leaving). Now the fewest drops are found by
// bisection, and every render first asks whether the client is still there.
TEST_F(ChatPromptTest, LongHistoryTruncationRendersLogarithmicallyAndCancels) {
  const PromptFormat f = format(read_template("meta-llama-Llama-3.1-8B-Instruct.jinja"));
  std::vector<ChatMessage> messages{{"system", "SYSTEM-TEXT"}};
  for (int i = 0; i < 800; ++i) {
    messages.push_back({"user", "q" + std::to_string(i)});
    messages.push_back({"assistant", "a" + std::to_string(i)});
  }
  messages.push_back({"user", "LAST-QUESTION"});
  int renders = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto fitted = build_chat_prompt(f, messages, *tokenizer_, 400, /*truncate=*/false, [&] {
    ++renders;
    return false;
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(fitted.is_ok()) << fitted.status().message();
  EXPECT_LE(static_cast<int64_t>(fitted->size()), 400);
  EXPECT_LE(renders, 14) << "renders of a 1,601-message history";  // 2 + ceil(log2(1600))
  EXPECT_LT(seconds, 10.0);
  const std::string text = text_of(fitted.value());
  EXPECT_NE(text.find("SYSTEM-TEXT"), std::string::npos);
  EXPECT_NE(text.find("LAST-QUESTION"), std::string::npos);
  EXPECT_NE(text.find("a799"), std::string::npos) << "the newest turns stay";
  // The fewest drops: one more message would not fit.
  auto tight = build_chat_prompt(f, messages, *tokenizer_, static_cast<int64_t>(fitted->size()), false);
  ASSERT_TRUE(tight.is_ok());
  EXPECT_EQ(tight.value(), fitted.value());

  // A client that leaves stops the work at the next render, with a cancelled error.
  int checks = 0;
  auto gone = build_chat_prompt(f, messages, *tokenizer_, 400, false, [&] { return ++checks > 2; });
  ASSERT_FALSE(gone.is_ok());
  EXPECT_TRUE(gone.status().is_cancelled()) << gone.status().to_string();
  EXPECT_EQ(checks, 3);
}

TEST(KeepPromptTail, KeepsBosAndTheEnd) {
  std::vector<int32_t> t{1, 10, 11, 12, 13, 14};
  keep_prompt_tail(t, 3, 1);
  EXPECT_EQ(t, (std::vector<int32_t>{1, 13, 14}));
  std::vector<int32_t> u{10, 11, 12, 13};
  keep_prompt_tail(u, 2, 1);
  EXPECT_EQ(u, (std::vector<int32_t>{12, 13}));
  std::vector<int32_t> v{1, 2};
  keep_prompt_tail(v, 5, 1);
  EXPECT_EQ(v, (std::vector<int32_t>{1, 2}));
}

}  // namespace
}  // namespace strata::chat
