// core/status.h: Status and Result<T>, the error values every layer returns for bad input and I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace strata {

// What went wrong, for a caller to branch on (the message is for people and is never parsed).
enum class ErrorKind : uint8_t {
  InvalidArgument,    // the request or a value in it is malformed or not allowed
  NotFound,           // a named file, model, blob or key does not exist
  OutOfRange,         // well formed but past a limit (context length, an index)
  ResourceExhausted,  // memory, disk or another budget falls short of what was asked
  Unavailable,        // busy or shutting down; the same request may work later
  Cancelled,          // the caller went away or asked to stop
  Io,                 // the OS refused a read, write, open or the like
  Corruption,         // stored or received bytes are not what they claim to be (a bad GGUF, a digest mismatch)
  Internal,           // a broken invariant: a bug
};

// "invalid argument", "not found", ...
std::string_view kind_name(ErrorKind kind);

// A Status is OK or carries a kind and a one-line message naming the file, key or tensor and the bad value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  // An error of `kind`; error(message) is an invalid argument, the commonest kind.
  static Status error(ErrorKind kind, std::string message) { return Status(kind, std::move(message)); }
  static Status error(std::string message) { return invalid_argument(std::move(message)); }

  static Status invalid_argument(std::string m) { return Status(ErrorKind::InvalidArgument, std::move(m)); }
  static Status not_found(std::string m) { return Status(ErrorKind::NotFound, std::move(m)); }
  static Status out_of_range(std::string m) { return Status(ErrorKind::OutOfRange, std::move(m)); }
  static Status resource_exhausted(std::string m) { return Status(ErrorKind::ResourceExhausted, std::move(m)); }
  static Status unavailable(std::string m) { return Status(ErrorKind::Unavailable, std::move(m)); }
  static Status cancelled(std::string m) { return Status(ErrorKind::Cancelled, std::move(m)); }
  static Status io_error(std::string m) { return Status(ErrorKind::Io, std::move(m)); }
  static Status corruption(std::string m) { return Status(ErrorKind::Corruption, std::move(m)); }
  static Status internal(std::string m) { return Status(ErrorKind::Internal, std::move(m)); }

  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return is_ok(); }
  const std::string& message() const { return message_; }
  // Meaningful only for a failed status.
  ErrorKind kind() const { return kind_; }

  bool is_invalid_argument() const { return is(ErrorKind::InvalidArgument); }
  bool is_not_found() const { return is(ErrorKind::NotFound); }
  bool is_out_of_range() const { return is(ErrorKind::OutOfRange); }
  bool is_resource_exhausted() const { return is(ErrorKind::ResourceExhausted); }
  bool is_unavailable() const { return is(ErrorKind::Unavailable); }
  bool is_cancelled() const { return is(ErrorKind::Cancelled); }
  bool is_io_error() const { return is(ErrorKind::Io); }
  bool is_corruption() const { return is(ErrorKind::Corruption); }
  bool is_internal() const { return is(ErrorKind::Internal); }

  // Prefixes context ("reading model.gguf: ") to an error, keeping its kind; OK stays OK.
  Status with_context(std::string_view context) const {
    if (is_ok()) return *this;
    return Status(kind_, fmt::format("{}: {}", context, message_));
  }

  // "not found: model 'x' not found", for logs and tests.
  std::string to_string() const;

 private:
  Status(ErrorKind kind, std::string message) : failed_(true), kind_(kind), message_(std::move(message)) {}
  bool is(ErrorKind k) const { return failed_ && kind_ == k; }
  bool failed_ = false;
  ErrorKind kind_ = ErrorKind::Internal;
  std::string message_;
};

// A formatted error of the default kind (invalid argument); name another kind with the overload.
template <typename... Args>
Status error(fmt::format_string<Args...> f, Args&&... args) {
  return Status::error(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
Status error(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  return Status::error(kind, fmt::format(f, std::forward<Args>(args)...));
}

// Result<T> holds a T or a failed Status. C++20 has no std::expected, so this is the small subset we use.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {
    // A Result built from a Status must carry an error; an OK status with no value is a bug.
    if (std::get<Status>(v_).is_ok()) v_ = Status::internal("internal: Result built from OK status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace strata

// Propagate a failed Status from an expression returning Status.
#define STRATA_RETURN_IF_ERROR(expr)              \
  do {                                            \
    ::strata::Status strata_status_ = (expr);     \
    if (!strata_status_.is_ok()) return strata_status_; \
  } while (0)

#define STRATA_CONCAT_INNER(a, b) a##b
#define STRATA_CONCAT(a, b) STRATA_CONCAT_INNER(a, b)

// `STRATA_ASSIGN_OR_RETURN(auto x, f());` binds the value or returns the error.
#define STRATA_ASSIGN_OR_RETURN(lhs, expr) \
  STRATA_ASSIGN_OR_RETURN_IMPL(STRATA_CONCAT(strata_result_, __LINE__), lhs, expr)
#define STRATA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
