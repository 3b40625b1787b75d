// constrain/tool_call_constraint.cc: the framed recognizer and the lazy/forced call constraint.
#include "constrain/tool_call_constraint.h"

namespace strata::constrain {

namespace {
constexpr size_t kRecentBytes = 64;  // enough for the longest trigger
}  // namespace

FramedRecognizer::FramedRecognizer(std::shared_ptr<const ToolCallSpec> spec) : spec_(std::move(spec)) {
  for (size_t i = 0; i < spec_->calls.size(); ++i) {
    Path p;
    p.alt = i;
    if (spec_->calls[i].prefix.empty()) {
      p.phase = Phase::Schema;
      p.schema.emplace(spec_->calls[i].schema);
    }
    paths_.push_back(std::move(p));
  }
}

bool FramedRecognizer::complete(const Path& p) const {
  const FramedCall& c = spec_->calls[p.alt];
  if (p.phase == Phase::Suffix) return p.pos == c.suffix.size();
  return p.phase == Phase::Schema && c.suffix.empty() && p.schema->can_end();
}

bool FramedRecognizer::can_end() const {
  for (const auto& p : paths_)
    if (complete(p)) return true;
  return false;
}

bool FramedRecognizer::feed(uint8_t c, bool literal_only) {
  std::vector<Path> next;
  for (auto& p : paths_) {
    const FramedCall& call = spec_->calls[p.alt];
    switch (p.phase) {
      case Phase::Prefix:
        if (p.pos < call.prefix.size() && static_cast<uint8_t>(call.prefix[p.pos]) == c) {
          if (++p.pos == call.prefix.size()) {
            p.phase = Phase::Schema;
            p.schema.emplace(call.schema);
          }
          next.push_back(std::move(p));
        }
        break;
      case Phase::Schema:
        // The JSON may be complete and this byte the suffix's first; or the JSON goes on.
        if (p.schema->can_end() && !call.suffix.empty() && static_cast<uint8_t>(call.suffix[0]) == c) {
          Path s{p.alt, Phase::Suffix, 1, std::nullopt};
          next.push_back(std::move(s));
        }
        if (!literal_only && p.schema->feed(c)) next.push_back(std::move(p));
        break;
      case Phase::Suffix:
        if (p.pos < call.suffix.size() && static_cast<uint8_t>(call.suffix[p.pos]) == c) {
          ++p.pos;
          next.push_back(std::move(p));
        }
        break;
    }
  }
  paths_ = std::move(next);
  return !paths_.empty();
}

ToolCallConstraint::ToolCallConstraint(const tokenizer::Tokenizer& tokenizer, std::shared_ptr<const ToolCallSpec> spec)
    : vocab_(tokenizer), spec_(std::move(spec)) {
  const auto& v = tokenizer.vocab();
  for (int32_t id = 0; id < v.size(); ++id)
    if (v.type(id) == tokenizer::TokenType::Control && !vocab_.ends_generation[static_cast<size_t>(id)])
      controls_.emplace_back(id, std::string(tokenizer.token_to_piece(id, /*render_special=*/true)));
  if (spec_->triggers.empty()) state_.emplace(spec_);
}

Status ToolCallConstraint::restrict(std::span<float> logits) {
  if (!state_) return Status::ok();  // free text until a call begins
  allowed_pieces(vocab_, *state_, allowed_);
  for (const auto& [id, text] : controls_) {
    if (text.empty()) continue;
    FramedRecognizer probe = *state_;
    if (probe.feed(text, /*literal_only=*/true)) allowed_[static_cast<size_t>(id)] = 1;
  }
  if (mask_logits(vocab_, allowed_, state_->can_end(), logits) == 0)
    return error("tools: no token of this model can continue the tool call");
  return Status::ok();
}

void ToolCallConstraint::accept(int32_t token) {
  std::string_view piece = output_piece(vocab_, token);
  for (const auto& [id, text] : controls_)
    if (id == token) piece = text;
  if (state_) {
    if (!state_->feed(piece)) state_.reset();  // cannot happen for a token restrict() allowed
    else if (!spec_->triggers.empty() && state_->can_end()) {
      // A call is written; with triggers, the output is free again (more text, or another call).
      FramedRecognizer probe = *state_;
      bool more = false;
      for (int c = 0; c < 256 && !more; ++c) {
        FramedRecognizer q = probe;
        more = q.feed(static_cast<uint8_t>(c));
      }
      if (!more) state_.reset(), recent_.clear();
    }
    return;
  }
  recent_.append(piece);
  look_for_trigger();
  if (recent_.size() > kRecentBytes) recent_.erase(0, recent_.size() - kRecentBytes);
}

void ToolCallConstraint::look_for_trigger() {
  for (const auto& t : spec_->triggers) {
    const size_t at = recent_.find(t);
    if (at == std::string::npos) continue;
    // The trigger opens a prefix (feed from it) or comes before the frame (feed what follows it).
    for (size_t from : {at, at + t.size()}) {
      FramedRecognizer r(spec_);
      if (r.feed(std::string_view(recent_).substr(from))) {
        state_.emplace(std::move(r));
        recent_.clear();
        return;
      }
    }
  }
}

}  // namespace strata::constrain
