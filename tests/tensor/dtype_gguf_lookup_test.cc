// tests/tensor/dtype_gguf_lookup_test.cc: the GGUF parser, given the dtype table, rejects a tensor whose type id
// strata does not know, and the message names both the tensor and the id.
#include <gtest/gtest.h>

#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/writer.h"
#include "tensor/dtype.h"

namespace strata {
namespace {

TEST(UnknownType, ParserNamesTensorAndId) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::of_string("llama"));
  w.add_tensor_bytes("token_embd.weight", {32, 2}, static_cast<uint32_t>(DType::Q8_0), std::vector<uint8_t>(68, 0));
  w.add_tensor_bytes("blk.0.ffn_up.weight", {32, 1}, 99, std::vector<uint8_t>(64, 0));
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto parsed = gguf::parse_memory(*bytes, gguf_type_lookup());
  ASSERT_FALSE(parsed.is_ok());
  const std::string& msg = parsed.status().message();
  EXPECT_NE(msg.find("blk.0.ffn_up.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("99"), std::string::npos) << msg;
}

TEST(UnknownType, EveryKnownQuantTypeParses) {
  // The same file with a supported id in place of 99 parses, and sizes follow the table.
  for (const auto& t : all_dtypes()) {
    gguf::Writer w;
    const int64_t k = 512;  // a multiple of every block size
    w.add_tensor_bytes("w", {k, 3}, static_cast<uint32_t>(t.type), std::vector<uint8_t>(t.row_bytes(k) * 3, 0));
    auto bytes = w.to_bytes();
    ASSERT_TRUE(bytes.is_ok());
    auto parsed = gguf::parse_memory(*bytes, gguf_type_lookup());
    ASSERT_TRUE(parsed.is_ok()) << t.name << ": " << parsed.status().message();
    EXPECT_EQ(parsed->tensors[0].size_bytes, t.row_bytes(k) * 3) << t.name;
  }
}

}  // namespace
}  // namespace strata
