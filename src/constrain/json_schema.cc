// constrain/json_schema.cc: the schema recognizer (a small set of frame stacks stepped byte by byte) and the
// token constraint over it.
#include "constrain/json_schema.h"

#include <limits>

#include "core/check.h"

namespace strata::constrain {

namespace {

using Kind = SchemaNode::Kind;
using Frame = SchemaRecognizer::Frame;
using Path = SchemaRecognizer::Path;

constexpr size_t kMaxPaths = 64;   // alternatives followed at once; more are dropped (never accepted)
constexpr size_t kMaxStack = 64;   // nesting, which recursive schemas could otherwise grow without end
constexpr int kMaxAnyOfNesting = 16;

// Phases. Phase 0 of every kind is "before the value": whitespace allowed, the value's first byte next.
enum : uint8_t { kStart = 0 };
enum : uint8_t { kObjKeyOrClose = 1, kObjKey, kObjColon, kObjAfterMember, kObjNextKey };
enum : uint8_t { kArrFirst = 1, kArrAfterItem, kArrNextItem };
enum : uint8_t { kIn = 1, kEscape, kUnicode };                                      // String, Literals, Any
enum : uint8_t { kMinus = 1, kZero, kInt, kDot, kFrac, kExp, kExpSign, kExpDigits };  // Number.sub

bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool number_can_end(uint8_t sub) { return sub == kZero || sub == kInt || sub == kFrac || sub == kExpDigits; }

bool between_values(const SchemaNode& n, const Frame& f) {
  if (f.phase == kStart) return true;
  if (n.kind == Kind::Object)
    return f.phase == kObjKeyOrClose || f.phase == kObjColon || f.phase == kObjAfterMember || f.phase == kObjNextKey;
  if (n.kind == Kind::Array) return f.phase == kArrFirst || f.phase == kArrAfterItem || f.phase == kArrNextItem;
  return false;
}

bool literal_complete(const SchemaNode& n, const Frame& f) {
  for (size_t i = 0; i < n.literals.size(); ++i)
    if ((f.alive >> i & 1) && n.literals[i].size() == f.pos) return true;
  return false;
}

class Stepper {
 public:
  explicit Stepper(const CompiledSchema& s) : s_(s) {}

  // Pushes `node` (each alternative of an anyOf as its own path) onto `p`, into `out`.
  // `depth` bounds anyOf inside anyOf (a schema could make one its own alternative).
  void push_value(Path p, int node, std::vector<Path>& out, int depth = 0) const {
    const SchemaNode& n = s_.nodes[static_cast<size_t>(node)];
    if (n.kind == Kind::AnyOf) {
      if (depth >= kMaxAnyOfNesting) return;
      // Stop at kMaxPaths: nested anyOf could otherwise multiply into millions of paths.
      for (size_t i = 0; i < n.alternatives.size() && out.size() < kMaxPaths; ++i)
        push_value(p, n.alternatives[i], out, depth + 1);
      return;
    }
    if (p.stack.size() >= kMaxStack) return;
    Frame f;
    f.node = node;
    f.any = JsonRecognizer(/*any_value=*/!n.object_only);
    p.stack.push_back(f);
    out.push_back(std::move(p));
  }

  void step(Path p, uint8_t c, std::vector<Path>& out) const {
    if (p.stack.empty()) return;  // nothing may follow the whole value
    Frame& f = p.stack.back();
    const SchemaNode& n = s_.nodes[static_cast<size_t>(f.node)];
    if (is_ws(c) && between_values(n, f)) {
      if (JsonRecognizer::whitespace_ok(c, p.ws_run, p.ws_newline)) out.push_back(std::move(p));
      return;
    }
    if (!is_ws(c)) p.ws_run = 0;
    switch (n.kind) {
      case Kind::String: return step_string(std::move(p), c, out);
      case Kind::Number:
      case Kind::Integer: return step_number(std::move(p), n.kind == Kind::Integer, c, out);
      case Kind::Literals: return step_literals(std::move(p), n, c, out);
      case Kind::Any: return step_any(std::move(p), c, out);
      case Kind::Object: return step_object(std::move(p), n, c, out);
      case Kind::Array: return step_array(std::move(p), n, c, out);
      case Kind::AnyOf: STRATA_CHECK(false);  // expanded by push_value
    }
  }

 private:
  // The top value ended. With `refeed`, `c` ended it without being part of it and goes to the parent.
  void finish(Path p, std::vector<Path>& out, bool refeed, uint8_t c) const {
    p.stack.pop_back();
    if (!p.stack.empty()) {
      Frame& parent = p.stack.back();
      if (s_.nodes[static_cast<size_t>(parent.node)].kind == Kind::Array) ++parent.count;
    }
    if (refeed) step(std::move(p), c, out);
    else out.push_back(std::move(p));
  }

  void step_string(Path p, uint8_t c, std::vector<Path>& out) const {
    Frame& f = p.stack.back();
    switch (f.phase) {
      case kStart:
        if (c != '"') return;
        f.phase = kIn;
        break;
      case kIn:
        if (c == '"') return finish(std::move(p), out, false, c);
        if (c == '\\') f.phase = kEscape;
        else if (c < 0x20) return;
        break;
      case kEscape:
        if (c == 'u') {
          f.phase = kUnicode;
          f.sub = 4;
        } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
          f.phase = kIn;
        } else {
          return;
        }
        break;
      default:  // kUnicode
        if (!is_hex(c)) return;
        if (--f.sub == 0) f.phase = kIn;
        break;
    }
    out.push_back(std::move(p));
  }

  void step_number(Path p, bool integer, uint8_t c, std::vector<Path>& out) const {
    Frame& f = p.stack.back();
    if (f.phase == kStart) {
      if (c == '-') f.sub = kMinus;
      else if (c == '0') f.sub = kZero;
      else if (c >= '1' && c <= '9') f.sub = kInt;
      else return;
      f.phase = kIn;
      out.push_back(std::move(p));
      return;
    }
    uint8_t next = 0;
    switch (f.sub) {
      case kMinus: next = c == '0' ? kZero : is_digit(c) ? kInt : 0; break;
      case kZero: next = (!integer && c == '.') ? kDot : (!integer && (c == 'e' || c == 'E')) ? kExp : 0; break;
      case kInt:
        next = is_digit(c) ? kInt : (!integer && c == '.') ? kDot : (!integer && (c == 'e' || c == 'E')) ? kExp : 0;
        break;
      case kDot: next = is_digit(c) ? kFrac : 0; break;
      case kFrac: next = is_digit(c) ? kFrac : (c == 'e' || c == 'E') ? kExp : 0; break;
      case kExp: next = is_digit(c) ? kExpDigits : (c == '+' || c == '-') ? kExpSign : 0; break;
      case kExpSign:
      case kExpDigits: next = is_digit(c) ? kExpDigits : 0; break;
    }
    if (next) {
      f.sub = next;
      out.push_back(std::move(p));
    } else if (number_can_end(f.sub)) {
      finish(std::move(p), out, true, c);
    }
  }

  void step_literals(Path p, const SchemaNode& n, uint8_t c, std::vector<Path>& out) const {
    Frame& f = p.stack.back();
    uint64_t cont = 0;
    const uint64_t candidates = f.phase == kStart ? ~uint64_t{0} : f.alive;
    for (size_t i = 0; i < n.literals.size(); ++i)
      if ((candidates >> i & 1) && n.literals[i].size() > f.pos && static_cast<uint8_t>(n.literals[i][f.pos]) == c)
        cont |= uint64_t{1} << i;
    if (cont) {
      f.phase = kIn;
      f.alive = cont;
      ++f.pos;
      out.push_back(std::move(p));
    } else if (f.phase == kIn && literal_complete(n, f)) {
      finish(std::move(p), out, true, c);
    }
  }

  void step_any(Path p, uint8_t c, std::vector<Path>& out) const {
    Frame& f = p.stack.back();
    const bool could_end = f.phase != kStart && f.any.can_end();
    JsonRecognizer next = f.any;
    if (next.feed(c)) {
      f.any = next;
      f.phase = kIn;
      if (f.any.complete()) return finish(std::move(p), out, false, c);
      out.push_back(std::move(p));
    } else if (could_end) {
      finish(std::move(p), out, true, c);
    }
  }

  bool required_left(const SchemaNode& n, const Frame& f) const {
    for (size_t j = static_cast<size_t>(f.next_prop); j < n.props.size(); ++j)
      if (n.props[j].required) return true;
    return false;
  }

  void step_object(Path p, const SchemaNode& n, uint8_t c, std::vector<Path>& out) const {
    Frame& f = p.stack.back();
    switch (f.phase) {
      case kStart:
        if (c != '{') return;
        f.phase = kObjKeyOrClose;
        break;
      case kObjKeyOrClose:
      case kObjAfterMember:
        if (c == '}') {
          if (!required_left(n, f)) finish(std::move(p), out, false, c);
          return;
        }
        if (f.phase == kObjAfterMember) {
          if (c != ',' || static_cast<size_t>(f.next_prop) >= n.props.size()) return;
          f.phase = kObjNextKey;
          break;
        }
        [[fallthrough]];
      case kObjNextKey: {
        if (c != '"') return;
        // The next member is any one from next_prop up to and including the first required one.
        f.alive = 0;
        for (size_t j = static_cast<size_t>(f.next_prop); j < n.props.size(); ++j) {
          f.alive |= uint64_t{1} << j;
          if (n.props[j].required) break;
        }
        if (!f.alive) return;
        f.phase = kObjKey;
        f.pos = 0;
        break;
      }
      case kObjKey: {
        uint64_t cont = 0;
        int ended = -1;
        for (size_t j = 0; j < n.props.size(); ++j) {
          if (!(f.alive >> j & 1)) continue;
          const std::string& key = n.props[j].key;
          if (key.size() > f.pos && static_cast<uint8_t>(key[f.pos]) == c) cont |= uint64_t{1} << j;
          if (key.size() == f.pos) ended = static_cast<int>(j);
        }
        if (cont) {
          f.alive = cont;
          ++f.pos;
        } else if (c == '"' && ended >= 0) {
          f.next_prop = ended + 1;
          f.count = ended;  // the member whose value comes next
          f.phase = kObjColon;
        } else {
          return;
        }
        break;
      }
      case kObjColon: {
        if (c != ':') return;
        f.phase = kObjAfterMember;
        const int child = n.props[static_cast<size_t>(f.count)].node;
        return push_value(std::move(p), child, out);
      }
    }
    out.push_back(std::move(p));
  }

  void step_array(Path p, const SchemaNode& n, uint8_t c, std::vector<Path>& out) const {
    Frame& f = p.stack.back();
    switch (f.phase) {
      case kStart:
        if (c != '[') return;
        f.phase = kArrFirst;
        f.count = 0;
        out.push_back(std::move(p));
        return;
      case kArrFirst:
        if (c == ']') {
          if (n.min_items == 0) finish(std::move(p), out, false, c);
          return;
        }
        if (n.max_items == 0) return;
        break;  // the first item starts with c
      case kArrAfterItem:
        if (c == ',' && (n.max_items < 0 || f.count < n.max_items)) {
          f.phase = kArrNextItem;
          out.push_back(std::move(p));
        } else if (c == ']' && f.count >= n.min_items) {
          finish(std::move(p), out, false, c);
        }
        return;
      default:  // kArrNextItem: the next item starts with c
        break;
    }
    f.phase = kArrAfterItem;
    std::vector<Path> pushed;
    push_value(std::move(p), n.items, pushed);
    for (Path& q : pushed) step(std::move(q), c, out);
  }

  const CompiledSchema& s_;
};

bool path_can_end(const CompiledSchema& s, const Path& p) {
  if (p.stack.empty()) return true;
  if (p.stack.size() != 1) return false;
  const Frame& f = p.stack.back();
  const SchemaNode& n = s.nodes[static_cast<size_t>(f.node)];
  switch (n.kind) {
    case Kind::Number:
    case Kind::Integer: return f.phase != kStart && number_can_end(f.sub);
    case Kind::Literals: return f.phase != kStart && literal_complete(n, f);
    case Kind::Any: return f.phase != kStart && f.any.can_end();
    default: return false;
  }
}

}  // namespace

SchemaRecognizer::SchemaRecognizer(std::shared_ptr<const CompiledSchema> schema) : schema_(std::move(schema)) {
  STRATA_CHECK(schema_ && schema_->root >= 0);
  Stepper(*schema_).push_value(Path{}, schema_->root, paths_);
}

bool SchemaRecognizer::feed(uint8_t c) {
  std::vector<Path> next;
  const Stepper stepper(*schema_);
  for (Path& p : paths_) {
    stepper.step(std::move(p), c, next);
    if (next.size() > kMaxPaths) next.resize(kMaxPaths);
  }
  paths_ = std::move(next);
  return !paths_.empty();
}

bool SchemaRecognizer::can_end() const {
  for (const Path& p : paths_)
    if (path_can_end(*schema_, p)) return true;
  return false;
}

SchemaConstraint::SchemaConstraint(const tokenizer::Tokenizer& tokenizer, std::shared_ptr<const CompiledSchema> schema)
    : vocab_(tokenizer), state_(std::move(schema)) {}

Status SchemaConstraint::restrict(std::span<float> logits) {
  allowed_pieces(vocab_, state_, allowed_);
  if (mask_logits(vocab_, allowed_, state_.can_end(), logits) == 0)
    return error("format: no token of this model can continue output the JSON schema allows");
  return Status::ok();
}

void SchemaConstraint::accept(int32_t token) { state_.feed(output_piece(vocab_, token)); }

}  // namespace strata::constrain
