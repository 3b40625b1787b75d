// tests/gguf/gguf_error_test.cc: every way a GGUF file can be malformed gives an error that names the problem,
// without crashing and without allocating what the file claims.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "gguf/alloc_tracker.h"
#include "gguf/gguf_test_util.h"
#include "support/test_support.h"

namespace strata::gguf::test {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

::testing::AssertionResult fails_with(std::span<const uint8_t> bytes, std::string_view needle) {
  LargestAllocation largest;
  auto r = parse_memory(bytes, test_types());
  if (r) return ::testing::AssertionFailure() << "parsed OK, expected an error containing '" << needle << "'";
  const std::string& msg = r.status().message();
  if (msg.find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "error '" << msg << "' does not contain '" << needle << "'";
  // Every file here is a few hundred bytes: no error path may allocate more than a small multiple of that.
  if (largest.bytes() > 64 * 1024)
    return ::testing::AssertionFailure() << "parsing allocated " << largest.bytes() << " bytes at once (" << msg << ")";
  return ::testing::AssertionSuccess() << msg;
}
::testing::AssertionResult fails_with(const RawGguf& r, std::string_view needle) { return fails_with(r.bytes, needle); }

::testing::AssertionResult parses(const RawGguf& r) {
  auto f = parse_memory(r.bytes, test_types());
  if (!f) return ::testing::AssertionFailure() << f.status().message();
  return ::testing::AssertionSuccess();
}

struct RawTensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type = kF32;
  uint64_t offset = 0;
};

// One u32 key, then the given tensor directory, padding to 32 and `data_bytes` of data.
RawGguf tensor_file(const std::vector<RawTensor>& tensors, uint64_t data_bytes) {
  RawGguf r;
  r.header(3, tensors.size(), 1).kv_u32("general.quantization_version", 2);
  for (const auto& t : tensors) r.tensor_info(t.name, t.dims, t.type, t.offset);
  return r.pad_to(32).zeros(data_bytes);
}

// A header with one key of the given type tag, the payload appended by the caller.
RawGguf one_key(uint32_t type) {
  RawGguf r;
  r.header(3, 0, 1).str("k").u32(type);
  return r;
}

TEST(GgufErrors, ControlFilesParse) {
  EXPECT_TRUE(parses(tensor_file({{"a", {8}, kF32, 0}, {"b", {4, 2}, kF32, 32}}, 64)));
  EXPECT_TRUE(parses(tensor_file({{"q", {64, 3}, kQ8_0, 0}}, 204)));
  EXPECT_TRUE(parses(one_key(4).u32(1)));
}

TEST(GgufErrors, TruncatedAtEveryCutPoint) {
  FileSpec spec;
  spec.metadata = every_type_metadata();
  spec.tensors = {make_tensor("a", {3, 2}, kF32, 1), make_tensor("b", {32}, kQ8_0, 2)};
  const std::vector<uint8_t> full = encode_reference(spec).bytes;
  ASSERT_TRUE(parse_memory(full, test_types()));
  const std::string dir = testing::temp_dir();
  for (size_t cut = 0; cut < full.size(); ++cut) {
    std::span<const uint8_t> prefix(full.data(), cut);
    auto r = parse_memory(prefix, test_types());
    ASSERT_FALSE(r) << "a file cut at " << cut << " of " << full.size() << " bytes parsed";
    const std::string& msg = r.status().message();
    EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("remain") != std::string::npos ||
                msg.find("past the end") != std::string::npos || msg.find("impossible") != std::string::npos)
        << "cut " << cut << ": " << msg;
    if (cut % 13 == 0) {  // the file reader goes through the same checks and names the file
      const std::string path = dir + "/cut.gguf";
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(prefix.data()), prefix.size());
      auto rf = read_file(path, test_types());
      ASSERT_FALSE(rf) << "cut " << cut;
      EXPECT_NE(rf.status().message().find(path), std::string::npos) << rf.status().message();
    }
  }
}

TEST(GgufErrors, WrongMagic) {
  RawGguf r = one_key(4).u32(1);
  std::memcpy(r.bytes.data(), "GGML", 4);
  EXPECT_TRUE(fails_with(r, "not a GGUF file"));
  EXPECT_TRUE(fails_with(std::vector<uint8_t>{}, "truncated"));
  const std::string path = testing::temp_dir() + "/text.gguf";
  std::ofstream(path) << "hello, this is not a model file at all";
  auto f = read_file(path, test_types());
  ASSERT_FALSE(f);
  EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("not a GGUF file"), std::string::npos) << f.status().message();
  EXPECT_FALSE(read_file(path + ".missing", test_types()));
}

TEST(GgufErrors, Versions) {
  auto with_version = [](uint32_t v) {
    RawGguf r;
    r.header(v, 0, 0);
    return r;
  };
  EXPECT_TRUE(fails_with(with_version(1), "version 1 is not supported"));
  EXPECT_TRUE(fails_with(with_version(0), "unsupported GGUF version 0"));
  EXPECT_TRUE(fails_with(with_version(4), "unsupported GGUF version 4"));
  EXPECT_TRUE(fails_with(with_version(0xFFFFFFFF), "unsupported GGUF version 4294967295"));
  EXPECT_TRUE(fails_with(with_version(0x03000000), "big-endian"));  // bytes 00 00 00 03
  EXPECT_TRUE(fails_with(with_version(0x02000000), "big-endian"));
  EXPECT_TRUE(parses(with_version(2)));
  EXPECT_TRUE(parses(with_version(3)));
}

TEST(GgufErrors, AbsurdCounts) {
  for (uint64_t n : {uint64_t{1} << 32, uint64_t{1} << 40, uint64_t{1} << 63, ~uint64_t{0}}) {
    RawGguf t;
    t.header(3, n, 0).zeros(64);
    EXPECT_TRUE(fails_with(t, "tensor count"));
    RawGguf k;
    k.header(3, 0, n).zeros(64);
    EXPECT_TRUE(fails_with(k, "metadata count"));
  }
}

TEST(GgufErrors, AbsurdDimensions) {
  const uint64_t big = uint64_t{1} << 63;
  EXPECT_TRUE(fails_with(tensor_file({{"w", {0}}}, 0), "tensor 'w' dimension 0 is 0"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {4, 0}}}, 32), "tensor 'w' dimension 1 is 0"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {big}}}, 32), "dimension 0 is 9223372036854775808"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {~uint64_t{0}}}}, 32), "dimension 0 is 18446744073709551615"));
  // Each dimension is plausible; their product is not (and would overflow 64 bits at the byte count).
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1u << 26, 1u << 25}}}, 32), "tensor 'w' has an absurd element count"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1u << 25, 1u << 25, 1u << 25}}}, 32), "absurd element count"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1u << 20, 1u << 20, 1u << 20, 1u << 20}}}, 32), "absurd element count"));
  // Within the element limit but far larger than the file: rejected by the bounds check instead.
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1u << 25, 1u << 25}}}, 32), "extends past the end"));
}

TEST(GgufErrors, DimensionCount) {
  EXPECT_TRUE(fails_with(tensor_file({{"w", {}}}, 32), "tensor 'w' has 0 dimensions"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1, 1, 1, 1, 1}}}, 32), "tensor 'w' has 5 dimensions"));
  RawGguf r;
  r.header(3, 1, 0).str("w").u32(0xFFFFFFFF).zeros(64);
  EXPECT_TRUE(fails_with(r, "4294967295 dimensions"));
  EXPECT_TRUE(parses(tensor_file({{"w", {1, 2, 1, 2}}}, 32)));
}

TEST(GgufErrors, OffsetsPastTheEnd) {
  EXPECT_TRUE(fails_with(tensor_file({{"w", {8}, kF32, 32}}, 32), "tensor 'w' (32 bytes at data offset 32) extends past"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {9}, kF32, 0}}, 32), "extends past the end"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1}, kF32, uint64_t{1} << 63}}, 32), "extends past the end"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1}, kF32, ~uint64_t{31}}}, 32), "extends past the end"));
  // The directory ends but the data section the tensors need never starts.
  RawGguf r;
  r.header(3, 1, 0).tensor_info("w", {1}, kF32, 0);
  EXPECT_TRUE(fails_with(r, "data section would start at 64"));
}

TEST(GgufErrors, MisalignedOffsets) {
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1}, kF32, 4}}, 64), "tensor 'w' offset 4 is not a multiple of the alignment 32"));
  RawGguf r;
  r.header(3, 1, 1).kv_u32("general.alignment", 64).tensor_info("w", {1}, kF32, 32).pad_to(64).zeros(128);
  EXPECT_TRUE(fails_with(r, "offset 32 is not a multiple of the alignment 64"));
}

TEST(GgufErrors, OverlappingTensors) {
  EXPECT_TRUE(fails_with(tensor_file({{"a", {8}, kF32, 0}, {"b", {8}, kF32, 0}}, 64), "tensors 'a' and 'b' overlap"));
  EXPECT_TRUE(fails_with(tensor_file({{"a", {16}, kF32, 32}, {"b", {8}, kF32, 0}, {"c", {8}, kF32, 64}}, 128),
                         "tensors 'a' and 'c' overlap (offset 64 < end 96)"));
  EXPECT_TRUE(parses(tensor_file({{"a", {8}, kF32, 32}, {"b", {8}, kF32, 0}}, 64))) << "adjacent is not overlapping";
}

TEST(GgufErrors, UnknownTypes) {
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1}, 99, 0}}, 32), "tensor 'w' has unknown or unsupported type id 99"));
  EXPECT_TRUE(fails_with(tensor_file({{"w", {1}, 0xFFFFFFFF, 0}}, 32), "type id 4294967295"));
  EXPECT_TRUE(fails_with(one_key(13).u32(0), "metadata key 'k': unknown metadata value type 13"));
  EXPECT_TRUE(fails_with(one_key(0xFFFFFFFF).u32(0), "unknown metadata value type 4294967295"));
  EXPECT_TRUE(fails_with(one_key(9).u32(13).u64(1).u32(0), "metadata key 'k': array of unknown value type 13"));
}

TEST(GgufErrors, Duplicates) {
  EXPECT_TRUE(fails_with(tensor_file({{"w", {8}, kF32, 0}, {"w", {8}, kF32, 32}}, 64), "duplicate tensor name 'w'"));
  RawGguf r;
  r.header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2);
  EXPECT_TRUE(fails_with(r, "duplicate metadata key 'k'"));
}

TEST(GgufErrors, EmptyNames) {
  RawGguf r;
  r.header(3, 0, 1).kv_u32("", 1);
  EXPECT_TRUE(fails_with(r, "empty key"));
  EXPECT_TRUE(fails_with(tensor_file({{"", {8}, kF32, 0}}, 32), "tensor 0 has an empty name"));
}

// Lengths and counts that claim gigabytes fail before anything of that size is allocated (fails_with checks).
TEST(GgufErrors, HugeClaimsFailFast) {
  for (uint64_t n : {3 * kGiB, uint64_t{1} << 63, ~uint64_t{0}}) {
    EXPECT_TRUE(fails_with(one_key(8).u64(n).raw("abc"), "metadata key 'k': string claims"));
    EXPECT_TRUE(fails_with(one_key(9).u32(10).u64(n).zeros(16), "metadata key 'k': array claims"));
    EXPECT_TRUE(fails_with(one_key(9).u32(8).u64(n).zeros(16), "array claims"));   // of strings
    EXPECT_TRUE(fails_with(one_key(9).u32(9).u64(n).zeros(16), "array claims"));   // of arrays
    RawGguf key;
    key.header(3, 0, 1).u64(n).raw("k").zeros(32);
    EXPECT_TRUE(fails_with(key, "reading key of metadata entry 0: string claims"));
    RawGguf name;
    name.header(3, 1, 0).u64(n).raw("w").zeros(64);
    EXPECT_TRUE(fails_with(name, "reading name of tensor 0: string claims"));
  }
  // An array of u8 whose count fits the limit but not the file.
  EXPECT_TRUE(fails_with(one_key(9).u32(0).u64(1000).zeros(999), "array claims 1000 elements of u8 but only 999"));
  EXPECT_TRUE(parses(one_key(9).u32(0).u64(1000).zeros(1000)));
}

// The same claims inside a big (sparse) file, where "more than the file holds" does not catch them: the
// parser's own limits must, and reading stays within one 1 MiB window.
TEST(GgufErrors, HugeClaimsInABigFile) {
  const std::string dir = testing::temp_dir();
  auto big_file = [&](const RawGguf& head, uint64_t size) {
    const std::string path = dir + "/sparse.gguf";
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(head.bytes.data()), head.bytes.size());
    std::filesystem::resize_file(path, size);
    return path;
  };
  auto expect_fails = [&](const std::string& path, std::string_view needle) {
    LargestAllocation largest;
    auto f = read_file(path, test_types());
    ASSERT_FALSE(f) << needle;
    EXPECT_NE(f.status().message().find(needle), std::string::npos) << f.status().message();
    EXPECT_LE(largest.bytes(), size_t{2} << 20) << f.status().message();
  };
  expect_fails(big_file(one_key(8).u64(uint64_t{100} << 20), uint64_t{200} << 20), "limit of 67108864");
  expect_fails(big_file(one_key(9).u32(0).u64((uint64_t{1} << 24) + 1), uint64_t{40} << 20), "limit of 16777216");
  RawGguf key;
  key.header(3, 0, 1).u64(uint64_t{1} << 20);
  expect_fails(big_file(key, uint64_t{8} << 20), "limit of 65536");
  RawGguf kvs;
  kvs.header(3, 0, uint64_t{1} << 21);
  expect_fails(big_file(kvs, uint64_t{64} << 20), "metadata count 2097152");
  RawGguf tensors;
  tensors.header(3, uint64_t{1} << 21, 0);
  expect_fails(big_file(tensors, uint64_t{128} << 20), "tensor count 2097152");

  // Counts inside every limit that the file could hold, but whose entries go bad early: containers must grow
  // with what is read, not be sized from the claim (2^24 Values or 2^20 entries would be ~100 MiB to 800 MiB).
  RawGguf bools = one_key(9).u32(7).u64(uint64_t{1} << 24);
  for (int i = 0; i < 5000; ++i) bools.u8(1);
  bools.u8(2);
  expect_fails(big_file(bools, uint64_t{17} << 20), "element 5000: bool value 2");
  RawGguf many_kv;
  many_kv.header(3, 0, uint64_t{1} << 20).kv_u32("a", 1);
  expect_fails(big_file(many_kv, uint64_t{64} << 20), "metadata entry 1 has an empty key");
  RawGguf many_tensors;
  many_tensors.header(3, uint64_t{1} << 20, 0).tensor_info("w", {1}, kF32, 0);
  expect_fails(big_file(many_tensors, uint64_t{64} << 20), "tensor 1 has an empty name");
}

// An 18 MB header holding one 2^24-element u8 array: a full parse stops at the metadata memory limit
// instead of building 2^24 Values (~800 MB), and a parse that only counts long arrays costs nothing.
TEST(GgufErrors, LongArraysAreBoundedOrCounted) {
  const std::string path = testing::temp_dir() + "/amplify.gguf";
  {
    RawGguf head = one_key(9).u32(0).u64(uint64_t{1} << 24);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(head.bytes.data()), static_cast<std::streamsize>(head.bytes.size()));
    const std::string zeros(uint64_t{1} << 20, '\0');
    for (int i = 0; i < 16; ++i) out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  std::filesystem::resize_file(path, uint64_t{18} << 20);
  {
    LargestAllocation largest;
    auto f = read_file(path, test_types());
    ASSERT_FALSE(f);
    EXPECT_NE(f.status().message().find("metadata needs more than 256 MiB"), std::string::npos) << f.status().message();
    EXPECT_LE(largest.bytes(), size_t{256} << 20);
  }
  {
    LargestAllocation largest;
    ParseLimits counted;
    counted.max_kept_array_items = 5;
    auto f = read_file(path, test_types(), counted);
    ASSERT_TRUE(f) << f.status().message();
    const Array* a = f->metadata.at(0).second.as_array();
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->size(), uint64_t{1} << 24);
    EXPECT_TRUE(a->items.empty());
    EXPECT_LE(largest.bytes(), size_t{2} << 20);
  }
}

// A symbolic link is refused when the caller asks (files in a writable store).
TEST(GgufErrors, LinksRefusedOnRequest) {
  const std::string dir = testing::temp_dir();
  RawGguf head;
  head.header(3, 0, 0);
  std::ofstream(dir + "/real.gguf", std::ios::binary).write(reinterpret_cast<const char*>(head.bytes.data()), head.bytes.size());
  std::filesystem::remove(dir + "/link.gguf");
  std::filesystem::create_symlink(dir + "/real.gguf", dir + "/link.gguf");
  EXPECT_TRUE(read_file(dir + "/link.gguf", test_types()));
  ParseLimits no_links;
  no_links.follow_links = false;
  EXPECT_FALSE(read_file(dir + "/link.gguf", test_types(), no_links));
  EXPECT_TRUE(read_file(dir + "/real.gguf", test_types(), no_links));
}

TEST(GgufErrors, BoolsMustBeZeroOrOne) {
  EXPECT_TRUE(fails_with(one_key(7).u8(2), "metadata key 'k': bool value 2 is neither 0 nor 1"));
  EXPECT_TRUE(fails_with(one_key(9).u32(7).u64(2).u8(1).u8(255), "element 1: bool value 255"));
  EXPECT_TRUE(parses(one_key(7).u8(1)));
}

TEST(GgufErrors, ArraysNestedTooDeep) {
  auto nested = [](int levels) {
    RawGguf r = one_key(9);
    for (int i = 1; i < levels; ++i) r.u32(9).u64(1);  // an array holding one array
    r.u32(4).u64(1).u32(7);                              // the innermost: one u32
    return r;
  };
  EXPECT_TRUE(parses(nested(kMaxArrayDepth)));
  EXPECT_TRUE(fails_with(nested(kMaxArrayDepth + 1), "arrays nested deeper than 4 levels"));
  EXPECT_TRUE(fails_with(nested(1000), "nested deeper"));
}

TEST(GgufErrors, RowLengthMustBeAWholeNumberOfBlocks) {
  EXPECT_TRUE(fails_with(tensor_file({{"q", {33, 2}, kQ8_0, 0}}, 256),
                         "tensor 'q' of type Q8_0: row length 33 is not a multiple of the block size 32"));
  EXPECT_TRUE(fails_with(tensor_file({{"q", {16}, kQ8_0, 0}}, 64), "row length 16"));
  EXPECT_TRUE(parses(tensor_file({{"q", {32, 2}, kQ8_0, 0}}, 68)));
}

TEST(GgufErrors, BadAlignmentKey) {
  auto with_alignment = [](const RawGguf& kv) {
    RawGguf r;
    r.header(3, 0, 1);
    r.bytes.insert(r.bytes.end(), kv.bytes.begin(), kv.bytes.end());
    return r;
  };
  RawGguf a48, a0, huge, i32, ok;
  a48.kv_u32("general.alignment", 48);
  a0.kv_u32("general.alignment", 0);
  huge.kv_u32("general.alignment", 1u << 21);
  i32.str("general.alignment").u32(5).u32(32);
  ok.kv_u32("general.alignment", 1u << 20);
  EXPECT_TRUE(fails_with(with_alignment(a48), "general.alignment 48 is not a power of two"));
  EXPECT_TRUE(fails_with(with_alignment(a0), "general.alignment 0 is not a power of two"));
  EXPECT_TRUE(fails_with(with_alignment(huge), "general.alignment 2097152"));
  EXPECT_TRUE(fails_with(with_alignment(i32), "general.alignment must be a u32, found i32"));
  EXPECT_TRUE(parses(with_alignment(ok)));
}

}  // namespace
}  // namespace strata::gguf::test
