// tests/gguf/gguf_test.cc: round trips through gguf::Writer and the reader: every value type, versions 2 and 3,
// alignment, the tensor directory, the writer's own refusals, and the real stories260K file.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "gguf/gguf_test_util.h"
#include "support/test_support.h"

namespace strata::gguf::test {
namespace {

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

FileSpec every_type_spec() {
  FileSpec spec;
  spec.metadata = every_type_metadata();
  spec.tensors.push_back(make_tensor("a.weight", {4, 3}, kF32, 1));
  spec.tensors.push_back(make_tensor("b.weight", {5}, kF16, 2));
  spec.tensors.push_back(make_tensor("c.weight", {32, 2}, kQ8_0, 3));
  return spec;
}

void expect_same_metadata(const FileSpec& spec, const GgufFile& f) {
  ASSERT_EQ(f.metadata.size(), spec.metadata.size());
  ASSERT_EQ(f.key_index.size(), spec.metadata.size());
  for (size_t i = 0; i < spec.metadata.size(); ++i) {
    EXPECT_EQ(f.metadata[i].first, spec.metadata[i].first) << "metadata is kept in file order";
    EXPECT_TRUE(same_value(f.metadata[i].second, spec.metadata[i].second, spec.metadata[i].first));
    ASSERT_NE(f.find(spec.metadata[i].first), nullptr);
    EXPECT_EQ(f.find(spec.metadata[i].first), &f.metadata[i].second);
  }
  EXPECT_EQ(f.find("no.such.key"), nullptr);
}

void expect_tensors_match(const FileSpec& spec, const GgufFile& f, std::span<const uint8_t> file_bytes) {
  ASSERT_EQ(f.tensors.size(), spec.tensors.size());
  for (size_t i = 0; i < spec.tensors.size(); ++i) {
    const TensorSpec& want = spec.tensors[i];
    const TensorInfo& got = f.tensors[i];
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.dims, want.dims);
    EXPECT_EQ(got.type_id, want.type_id);
    EXPECT_EQ(got.size_bytes, want.data.size()) << want.name;
    EXPECT_EQ(got.offset % f.alignment, 0u) << want.name;
    EXPECT_EQ(got.file_offset, f.data_offset + got.offset);
    ASSERT_LE(got.file_offset + got.size_bytes, file_bytes.size());
    EXPECT_TRUE(std::equal(want.data.begin(), want.data.end(), file_bytes.begin() + got.file_offset))
        << "data of " << want.name << " is at its file_offset";
    EXPECT_EQ(f.find_tensor(want.name), &got);
  }
}

TEST(GgufRoundTrip, WriterMatchesReferenceEncodingAndParsesBack) {
  FileSpec spec = every_type_spec();
  auto bytes = make_writer(spec).to_bytes();
  ASSERT_TRUE(bytes) << bytes.status().message();
  EXPECT_EQ(*bytes, encode_reference(spec).bytes) << "writer output differs from the format's reference encoding";

  auto f = parse_memory(*bytes, test_types());
  ASSERT_TRUE(f) << f.status().message();
  EXPECT_EQ(f->version, 3u);
  EXPECT_EQ(f->alignment, kDefaultAlignment);
  EXPECT_EQ(f->file_size, bytes->size());
  expect_same_metadata(spec, *f);
  expect_tensors_match(spec, *f, *bytes);
}

TEST(GgufRoundTrip, ThroughAFileWithReadFile) {
  FileSpec spec = every_type_spec();
  const std::string path = testing::temp_dir() + "/every_type.gguf";
  Status st = make_writer(spec).write(path);
  ASSERT_TRUE(st) << st.message();
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp")) << "the temporary file is renamed away";
  std::vector<uint8_t> on_disk = slurp(path);
  EXPECT_EQ(on_disk, *make_writer(spec).to_bytes()) << "write() and to_bytes() agree";

  auto f = read_file(path, test_types());
  ASSERT_TRUE(f) << f.status().message();
  EXPECT_EQ(f->path, path);
  EXPECT_EQ(f->file_size, on_disk.size());
  EXPECT_GT(f->header_bytes_read, 0u);
  EXPECT_LE(f->header_bytes_read, on_disk.size());
  expect_same_metadata(spec, *f);
  expect_tensors_match(spec, *f, on_disk);
}

TEST(GgufRoundTrip, VersionTwoSharesTheLayout) {
  FileSpec spec = every_type_spec();
  std::vector<uint8_t> bytes = *make_writer(spec).to_bytes();
  ASSERT_EQ(bytes[4], 3);
  bytes[4] = 2;  // the version field: little-endian u32 at offset 4
  auto f = parse_memory(bytes, test_types());
  ASSERT_TRUE(f) << f.status().message();
  EXPECT_EQ(f->version, 2u);
  expect_same_metadata(spec, *f);
  expect_tensors_match(spec, *f, bytes);
}

TEST(GgufRoundTrip, FloatsAreStoredAtTheirDeclaredWidth) {
  FileSpec spec;
  spec.metadata = {{"f32.tenth", Value::f64(ValueType::FLOAT32, 0.1)},
                   {"f64.tenth", Value::f64(ValueType::FLOAT64, 0.1)},
                   {"f32.inf", Value::f64(ValueType::FLOAT32, -INFINITY)},
                   {"f32.nan", Value::f64(ValueType::FLOAT32, NAN)},
                   {"f32.denormal", Value::f64(ValueType::FLOAT32, 1e-40)},
                   {"f32.int", Value::u64(ValueType::FLOAT32, 3)}};
  auto f = parse_memory(*make_writer(spec).to_bytes(), test_types());
  ASSERT_TRUE(f) << f.status().message();
  EXPECT_EQ(*f->find("f32.tenth")->as_number(), static_cast<double>(0.1f));
  EXPECT_NE(*f->find("f32.tenth")->as_number(), 0.1) << "an f32 really is 32 bits wide";
  EXPECT_EQ(*f->find("f64.tenth")->as_number(), 0.1);
  EXPECT_EQ(*f->find("f32.inf")->as_number(), -INFINITY);
  EXPECT_TRUE(std::isnan(*f->find("f32.nan")->as_number()));
  EXPECT_EQ(*f->find("f32.denormal")->as_number(), static_cast<double>(1e-40f));
  EXPECT_EQ(*f->find("f32.int")->as_number(), 3.0);
}

TEST(GgufRoundTrip, TypedGetters) {
  FileSpec spec;
  spec.metadata = {{"n", Value::of_u32(42)}, {"s", Value::string("llama")}, {"x", Value::of_f32(0.5f)},
                   {"neg", Value::of_i32(-3)}};
  auto f = parse_memory(*make_writer(spec).to_bytes(), test_types());
  ASSERT_TRUE(f) << f.status().message();
  EXPECT_EQ(f->get_int("n")->value(), 42);
  EXPECT_EQ(f->get_int("neg")->value(), -3);
  EXPECT_EQ(f->get_number("n")->value(), 42.0);
  EXPECT_EQ(f->get_number("x")->value(), 0.5);
  EXPECT_EQ(f->get_string("s")->value(), "llama");
  EXPECT_FALSE(f->get_int("missing")->has_value());
  auto wrong = f->get_int("s");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.status().message().find("'s'"), std::string::npos) << wrong.status().message();
  EXPECT_FALSE(f->get_string("n"));
  EXPECT_FALSE(f->get_number("s"));
}

TEST(GgufRoundTrip, SetReplacesAKeyInPlace) {
  Writer w;
  w.set("a", Value::of_u32(1));
  w.set("b", Value::of_u32(2));
  w.set("a", Value::string("again"));
  auto f = parse_memory(*w.to_bytes(), test_types());
  ASSERT_TRUE(f) << f.status().message();
  ASSERT_EQ(f->metadata.size(), 2u);
  EXPECT_EQ(f->metadata[0].first, "a");
  EXPECT_EQ(*f->metadata[0].second.as_string(), "again");
}

// Offsets, sizes and data placement for several types and shapes at alignments 32, 64 and 256.
TEST(GgufRoundTrip, AlignmentAndTensorDirectory) {
  for (uint64_t alignment : {uint64_t{32}, uint64_t{64}, uint64_t{256}}) {
    SCOPED_TRACE(alignment);
    FileSpec spec;
    spec.alignment = alignment;
    spec.metadata = {{"general.architecture", Value::string("test")}};
    if (alignment != kDefaultAlignment)
      spec.metadata.emplace_back("general.alignment", Value::of_u32(static_cast<uint32_t>(alignment)));
    spec.tensors = {make_tensor("f32.1d", {3}, kF32, 1),          make_tensor("f32.2d", {5, 7}, kF32, 2),
                    make_tensor("f32.3d", {2, 3, 4}, kF32, 3),    make_tensor("f32.4d", {2, 2, 2, 2}, kF32, 4),
                    make_tensor("f16.2d", {7, 3}, kF16, 5),       make_tensor("q8_0.2d", {64, 3}, kQ8_0, 6),
                    make_tensor("f16.one", {1}, kF16, 7)};
    auto bytes = make_writer(spec).to_bytes();
    ASSERT_TRUE(bytes) << bytes.status().message();
    EXPECT_EQ(*bytes, encode_reference(spec).bytes);
    auto f = parse_memory(*bytes, test_types());
    ASSERT_TRUE(f) << f.status().message();
    EXPECT_EQ(f->alignment, alignment);
    EXPECT_EQ(f->data_offset % alignment, 0u);

    // Sizes by hand from the layouts: F32 4 B, F16 2 B, Q8_0 34 B per 32 elements.
    const uint64_t want_sizes[] = {12, 140, 96, 64, 42, 3 * 2 * 34, 2};
    const int64_t want_elems[] = {3, 35, 24, 16, 21, 192, 1};
    uint64_t offset = 0, total = 0;
    for (size_t i = 0; i < f->tensors.size(); ++i) {
      const TensorInfo& t = f->tensors[i];
      EXPECT_EQ(t.size_bytes, want_sizes[i]) << t.name;
      EXPECT_EQ(t.n_elements(), want_elems[i]) << t.name;
      EXPECT_EQ(t.offset, offset) << t.name << ": tensors are packed at aligned offsets";
      offset = (offset + want_sizes[i] + alignment - 1) / alignment * alignment;
      total += want_sizes[i];
    }
    EXPECT_EQ(f->total_tensor_bytes(), total);
    EXPECT_EQ(f->tensors.back().file_offset + f->tensors.back().size_bytes, bytes->size());
    expect_tensors_match(spec, *f, *bytes);
  }
}

TEST(GgufRoundTrip, WriterRecordsANonDefaultAlignment) {
  FileSpec spec;
  spec.alignment = 128;
  spec.tensors = {make_tensor("x", {5}, kF32, 1), make_tensor("y", {3}, kF32, 2)};
  auto f = parse_memory(*make_writer(spec).to_bytes(), test_types());
  ASSERT_TRUE(f) << f.status().message();
  EXPECT_EQ(f->alignment, 128u);
  ASSERT_NE(f->find("general.alignment"), nullptr);
  EXPECT_EQ(f->find("general.alignment")->type(), ValueType::UINT32);
  EXPECT_EQ(f->tensors[1].offset, 128u);
  EXPECT_EQ(f->data_offset % 128, 0u);

  Writer w32;  // the default alignment is implied, so no key is written
  w32.add_tensor_bytes("x", {1}, kF32, {0, 0, 0, 0});
  EXPECT_EQ(parse_memory(*w32.to_bytes(), test_types())->find("general.alignment"), nullptr);
}

void expect_writer_refuses(const Writer& w, const std::string& needle) {
  auto bytes = w.to_bytes();
  ASSERT_FALSE(bytes) << "writer accepted a file it should refuse (" << needle << ")";
  EXPECT_NE(bytes.status().message().find(needle), std::string::npos) << bytes.status().message();
}

TEST(GgufWriter, RefusesWhatTheReaderWouldReject) {
  { Writer w(48); expect_writer_refuses(w, "alignment 48"); }
  { Writer w(0); expect_writer_refuses(w, "alignment 0"); }
  { Writer w(64); w.set("general.alignment", Value::of_u32(128)); expect_writer_refuses(w, "general.alignment"); }
  { Writer w; w.set("general.alignment", Value::of_i32(32)); expect_writer_refuses(w, "general.alignment"); }
  { Writer w; w.set("k", Value::u64(ValueType::UINT8, 300)); expect_writer_refuses(w, "'k'"); }
  { Writer w; w.set("k", Value::i64(ValueType::INT8, -129)); expect_writer_refuses(w, "i8 value -129"); }
  { Writer w; w.set("k", Value::i64(ValueType::UINT64, -1)); expect_writer_refuses(w, "u64 value -1"); }
  { Writer w; w.set("k", Value::u64(ValueType::INT64, UINT64_MAX)); expect_writer_refuses(w, "does not fit"); }
  { Writer w; w.set("k", Value::u64(ValueType::STRING, 1)); expect_writer_refuses(w, "holds no string"); }
  { Writer w; w.set("k", Value::f64(ValueType::UINT32, 1.5)); expect_writer_refuses(w, "does not fit"); }
  { Writer w; w.set("", Value::of_u32(1)); expect_writer_refuses(w, "length 0"); }
  {
    Writer w;
    w.set("k", array_of(ValueType::UINT32, {Value::of_u32(1), Value::string("x")}));
    expect_writer_refuses(w, "element 1 is string in an array of u32");
  }
  {
    Value v = array_of(ValueType::UINT8, {});
    for (int i = 0; i < kMaxArrayDepth; ++i) v = array_of(ValueType::ARRAY, {v});
    Writer w;
    w.set("deep", v);
    expect_writer_refuses(w, "nested deeper");
  }
  { Writer w; w.add_tensor_bytes("t", {1}, kF32, {0, 0, 0, 0}); w.add_tensor_bytes("t", {1}, kF32, {0, 0, 0, 0});
    expect_writer_refuses(w, "duplicate tensor name 't'"); }
  { Writer w; w.add_tensor_bytes("t", {4, 0}, kF32, {}); expect_writer_refuses(w, "dimension 0"); }
  { Writer w; w.add_tensor_bytes("t", {1, 1, 1, 1, 1}, kF32, {0, 0, 0, 0}); expect_writer_refuses(w, "5 dimensions"); }
  { Writer w; w.add_tensor_bytes("t", {}, kF32, {}); expect_writer_refuses(w, "0 dimensions"); }
  { Writer w; w.add_tensor_bytes("", {1}, kF32, {0, 0, 0, 0}); expect_writer_refuses(w, "name has length 0"); }
}

TEST(GgufWriter, AFailedFillLeavesNoFile) {
  const std::string path = testing::temp_dir() + "/failed.gguf";
  Writer w;
  w.add_tensor("ok", {2}, kF32, 8, [](std::span<uint8_t> out) { std::fill(out.begin(), out.end(), 1); return Status::ok(); });
  w.add_tensor("bad", {2}, kF32, 8, [](std::span<uint8_t>) { return error("source went away"); });
  Status st = w.write(path);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("source went away"), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_FALSE(w.write(testing::temp_dir() + "/no/such/dir/x.gguf")) << "an unwritable path is an error";
}

// A header larger than the reader's 1 MiB window: values that straddle windows must come back whole, and the
// reader must stop at the header rather than read the weights.
TEST(GgufRoundTrip, HeaderLargerThanTheReadWindow) {
  FileSpec spec;
  std::string big(3 * 1024 * 1024 + 17, 'x');
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + i % 26);
  std::vector<Value> tokens;
  for (int i = 0; i < 60000; ++i) tokens.push_back(Value::string("tok" + std::to_string(i)));
  spec.metadata = {{"big", Value::string(big)}, {"tokens", array_of(ValueType::STRING, std::move(tokens))},
                   {"after", Value::of_u32(7)}};
  spec.tensors = {make_tensor("w", {1024, 1024}, kF32, 9)};  // 4 MiB of data after the header
  const std::string path = testing::temp_dir() + "/big_header.gguf";
  ASSERT_TRUE(make_writer(spec).write(path));
  auto f = read_file(path, test_types());
  ASSERT_TRUE(f) << f.status().message();
  expect_same_metadata(spec, *f);
  expect_tensors_match(spec, *f, slurp(path));
  EXPECT_GE(f->header_bytes_read + kDefaultAlignment, f->data_offset);
  EXPECT_LE(f->header_bytes_read, f->data_offset + (1u << 20)) << "the reader reads at most one window past the header";
}

// The real model in ../shared: 5 layers, dim 64, 8 heads, 4 KV heads, vocab 512, F32 weights (shared/README.md).
TEST(GgufRealFile, Stories260K) {
  const std::string path = testing::shared_path("models/stories260K.gguf");
  auto f = read_file(path, test_types());
  ASSERT_TRUE(f) << f.status().message();
  EXPECT_EQ(f->version, 3u);
  EXPECT_EQ(f->get_string("general.architecture")->value(), "llama");
  EXPECT_EQ(f->get_int("llama.block_count")->value(), 5);
  EXPECT_EQ(f->get_int("llama.embedding_length")->value(), 64);
  EXPECT_EQ(f->get_int("llama.attention.head_count")->value(), 8);
  EXPECT_EQ(f->get_int("llama.attention.head_count_kv")->value(), 4);
  for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                          "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "llama.context_length", "llama.feed_forward_length", "llama.rope.dimension_count",
                          "llama.attention.layer_norm_rms_epsilon"})
    EXPECT_NE(f->find(key), nullptr) << key;
  const Array* tokens = f->find("tokenizer.ggml.tokens")->as_array();
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->elem_type, ValueType::STRING);
  EXPECT_EQ(tokens->items.size(), 512u);
  EXPECT_EQ(f->find("tokenizer.ggml.scores")->as_array()->items.size(), 512u);

  // token_embd, output_norm, output, and nine tensors per block.
  EXPECT_EQ(f->tensors.size(), 3u + 9u * 5u);
  const TensorInfo* embd = f->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{64, 512}));
  const TensorInfo* k = f->find_tensor("blk.4.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->dims, (std::vector<int64_t>{64, 4 * (64 / 8)})) << "K projects to n_kv_heads * head_dim";
  uint64_t end = 0;
  for (const auto& t : f->tensors) {
    EXPECT_EQ(t.type_id, kF32) << t.name;
    EXPECT_EQ(t.size_bytes, static_cast<uint64_t>(t.n_elements()) * 4) << t.name;
    end = std::max(end, t.file_offset + t.size_bytes);
  }
  EXPECT_EQ(end, f->file_size) << "the last tensor ends the file";
  EXPECT_LT(f->header_bytes_read, f->file_size) << "reading the header does not read the weights";
}

}  // namespace
}  // namespace strata::gguf::test
