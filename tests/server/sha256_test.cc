// tests/server/sha256_test.cc: SHA-256 against the FIPS 180-4 example vectors, whole and fed in pieces.
#include <string>

#include <gtest/gtest.h>

#include "server/sha256.h"

namespace strata::server {
namespace {

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in uneven pieces across block boundaries.
  Sha256 h;
  const std::string a(1'000'000, 'a');
  size_t at = 0;
  for (size_t piece = 1; at < a.size(); piece = piece * 3 % 1031 + 1) {
    size_t n = std::min(piece, a.size() - at);
    h.update(std::string_view(a).substr(at, n));
    at += n;
  }
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace strata::server
