// server/sha256.h: SHA-256 (FIPS 180-4), incremental, for blob digests and model digests.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace strata::server {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  // Finishes and returns the digest as 64 lowercase hex characters. The object is then spent.
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> block_{};
  size_t block_len_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view data);
// Hashes a file by streaming it (no size limit).
Result<std::string> sha256_file(const std::string& path);

}  // namespace strata::server
