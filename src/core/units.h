// core/units.h: byte sizes as people write them ("512M", "8G") and as we print them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace strata {

// Parses "123", "512K", "512M", "8G", "1.5G", "2T" (binary units; optional trailing "B"/"iB").
Result<uint64_t> parse_size(std::string_view text);

// "1.50 GiB", "12.0 MiB", "512 B".
std::string format_bytes(uint64_t bytes);

constexpr uint64_t kKiB = 1024ull;
constexpr uint64_t kMiB = 1024ull * 1024;
constexpr uint64_t kGiB = 1024ull * 1024 * 1024;

}  // namespace strata
