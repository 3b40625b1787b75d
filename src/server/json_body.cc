// server/json_body.cc: request bodies parsed in time linear in their size: keys appended to each object
// through a hash index instead of nlohmann's ordered_map (a linear search per key, so 400k keys took
// minutes), and at most kMaxJsonKeys keys per object.
#include <string>
#include <unordered_map>
#include <vector>

#include "server/json_util.h"

namespace strata::server {

namespace {

// A SAX handler building an ordered Json. Order is kept (replies and schemas need it); a repeated key
// keeps its first position and takes the last value, as nlohmann's own parser does.
class BoundedBuilder {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool v) { return put(Json(v)); }
  bool number_integer(number_integer_t v) { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) { return put(Json(v)); }
  bool string(string_t& v) { return put(Json(std::move(v))); }
  bool binary(binary_t& v) { return put(Json::binary(std::move(v))); }

  bool start_object(std::size_t) { return open(Json::object()); }
  bool start_array(std::size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(string_t& k) {
    Frame& f = stack_.back();
    if (f.keys.size() >= kMaxJsonKeys && !f.keys.count(k)) {
      error_ = fmt::format("invalid JSON: an object has more than {} keys", kMaxJsonKeys);
      return false;
    }
    f.key = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." → keep the readable part.
    const std::string what = e.what();
    const size_t at = what.find("] ");
    error_ = "invalid JSON: " + (at == std::string::npos ? what : what.substr(at + 2));
    return false;
  }

  Json& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* value;                                   // the object or array being filled
    std::unordered_map<std::string, size_t> keys;  // objects: key → index in the object
    std::string key;                               // objects: the key of the next value
  };

  // Places a value where the parser is: the root, the next array item, or the value of the last key.
  Json* place(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Frame& f = stack_.back();
    if (f.value->is_array()) {
      f.value->get_ref<Json::array_t&>().push_back(std::move(v));
      return &f.value->get_ref<Json::array_t&>().back();
    }
    auto& object = f.value->get_ref<Json::object_t&>();
    auto [it, added] = f.keys.try_emplace(f.key, object.size());
    if (!added) {
      Json& existing = (object.begin() + static_cast<std::ptrdiff_t>(it->second))->second;
      existing = std::move(v);
      return &existing;
    }
    // ordered_map is a vector of pairs: appending past its linear key search is what makes this linear.
    object.emplace_back(std::move(f.key), std::move(v));
    return &object.back().second;
  }
  bool put(Json v) {
    place(std::move(v));
    return true;
  }
  bool open(Json container) {
    // A child is filled only while it is the innermost frame, so its parent does not grow (and move it) meanwhile.
    stack_.push_back(Frame{place(std::move(container)), {}, {}});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  Json root_;
  std::vector<Frame> stack_;
  std::string error_;
};

}  // namespace

Result<Json> parse_json_bounded(std::string_view body) {
  BoundedBuilder builder;
  const bool ok = Json::sax_parse(body.begin(), body.end(), &builder, nlohmann::detail::input_format_t::json,
                                  /*strict=*/true);
  if (!ok) return error("{}", builder.error().empty() ? std::string("invalid JSON") : builder.error());
  return std::move(builder.root());
}

}  // namespace strata::server
