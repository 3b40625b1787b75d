// core/status.cc: the names of error kinds.
#include "core/status.h"

namespace strata {

std::string_view kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument: return "invalid argument";
    case ErrorKind::NotFound: return "not found";
    case ErrorKind::OutOfRange: return "out of range";
    case ErrorKind::ResourceExhausted: return "resource exhausted";
    case ErrorKind::Unavailable: return "unavailable";
    case ErrorKind::Cancelled: return "cancelled";
    case ErrorKind::Io: return "I/O error";
    case ErrorKind::Corruption: return "corruption";
    case ErrorKind::Internal: return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  return fmt::format("{}: {}", kind_name(kind_), message_);
}

}  // namespace strata
