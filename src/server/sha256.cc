// server/sha256.cc: SHA-256 through OpenSSL's EVP interface, and hashing a file in 1 MiB reads.
#include "server/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <vector>

#include "core/check.h"

namespace strata::server {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  // Failing here means OpenSSL itself is broken (no memory, or no SHA-256): nothing sensible to return.
  STRATA_CHECK(ctx_->md != nullptr && EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view data) {
  if (!data.empty()) STRATA_CHECK(EVP_DigestUpdate(ctx_->md, data.data(), data.size()) == 1);
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  STRATA_CHECK(EVP_DigestFinal_ex(ctx_->md, digest, &len) == 1 && len == 32);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

Result<std::string> sha256_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return error("{}: cannot open for hashing", path);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) h.update(std::string_view(buf.data(), n));
  if (std::ferror(f.get())) return error("{}: read error while hashing", path);
  return h.hex_digest();
}

}  // namespace strata::server
