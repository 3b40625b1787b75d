// server/sha256.h: SHA-256, incremental, for blob digests and model digests (OpenSSL's EVP underneath,
// which uses the CPU's SHA extensions or vector code: ~1-2 GB/s where a portable loop does 0.2).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace strata::server {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  // Finishes and returns the digest as 64 lowercase hex characters. The object is then spent.
  std::string hex_digest();

 private:
  struct Ctx;  // the EVP digest context (kept out of this header)
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_hex(std::string_view data);
// Hashes a file by streaming it (no size limit).
Result<std::string> sha256_file(const std::string& path);

}  // namespace strata::server
