// core/units.cc: parsing and printing of byte sizes.
#include "core/units.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace strata {

Result<uint64_t> parse_size(std::string_view text) {
  std::string s(text);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  if (s.empty()) return error("empty size");
  // Strip an optional "B" / "iB" suffix.
  auto ends_with = [&](std::string_view suf) {
    return s.size() >= suf.size() && std::equal(suf.rbegin(), suf.rend(), s.rbegin(),
                                                [](char a, char b) { return std::toupper(a) == std::toupper(b); });
  };
  if (ends_with("iB")) s.resize(s.size() - 2);
  else if (s.size() > 1 && (s.back() == 'B' || s.back() == 'b') && !std::isdigit(static_cast<unsigned char>(s[s.size() - 2])))
    s.pop_back();
  else if (s.size() > 1 && (s.back() == 'B' || s.back() == 'b')) s.pop_back();
  uint64_t mult = 1;
  if (!s.empty()) {
    switch (std::toupper(static_cast<unsigned char>(s.back()))) {
      case 'K': mult = kKiB; break;
      case 'M': mult = kMiB; break;
      case 'G': mult = kGiB; break;
      case 'T': mult = kGiB * 1024; break;
      default: break;
    }
    if (mult != 1) s.pop_back();
  }
  if (s.empty()) return error("size '{}' has no number", text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(v) || v < 0)
    return error("size '{}' is not a number with an optional K/M/G/T suffix", text);
  double bytes = v * static_cast<double>(mult);
  if (bytes > 1.8e19) return error("size '{}' is too large", text);
  return static_cast<uint64_t>(bytes);
}

std::string format_bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= kGiB) return fmt::format("{:.2f} GiB", b / kGiB);
  if (bytes >= kMiB) return fmt::format("{:.1f} MiB", b / kMiB);
  if (bytes >= kKiB) return fmt::format("{:.1f} KiB", b / kKiB);
  return fmt::format("{} B", bytes);
}

}  // namespace strata
