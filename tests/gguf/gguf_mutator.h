// tests/gguf/gguf_mutator.h: the GGUF mutation campaign shared by the plain and the ASan test: valid seed files,
// deterministic damage (flips, extreme fields, cuts, inserts, deletes, splices), and the checks on each result.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/alloc_tracker.h"
#include "gguf/gguf_test_util.h"
#include "support/test_support.h"

namespace strata::gguf::test {

// splitmix64: tiny, and the same sequence on every platform and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }

 private:
  uint64_t state_;
};

struct Seed {
  std::string name;
  std::vector<uint8_t> bytes;
  std::vector<size_t> u32_fields, u64_fields;  // offsets of every u32/u64 field (tags, counts, lengths, dims...)
};

inline Seed make_seed(std::string name, const FileSpec& spec, uint32_t version = 3) {
  RawGguf r = encode_reference(spec);
  auto written = make_writer(spec).to_bytes();
  EXPECT_TRUE(written) << name << ": " << written.status().message();
  EXPECT_TRUE(written && *written == r.bytes) << name << ": writer and reference encoding differ";
  r.bytes[4] = static_cast<uint8_t>(version);
  return {std::move(name), std::move(r.bytes), std::move(r.u32_fields), std::move(r.u64_fields)};
}

inline std::vector<Seed> make_seeds() {
  std::vector<Seed> seeds;
  FileSpec all;
  all.metadata = every_type_metadata();
  all.tensors = {make_tensor("f32", {4, 3}, kF32, 1), make_tensor("f16", {5}, kF16, 2),
                 make_tensor("q8", {32, 2}, kQ8_0, 3)};
  seeds.push_back(make_seed("every_type", all));

  FileSpec vocab;  // tokenizer-shaped arrays, 64-byte alignment, a 4-D tensor
  vocab.alignment = 64;
  std::vector<Value> tokens, scores, types;
  for (int i = 0; i < 40; ++i) {
    tokens.push_back(Value::string(fmt::format("t{}", i * 7)));
    scores.push_back(Value::of_f32(-0.5f * static_cast<float>(i)));
    types.push_back(Value::of_i32(i % 3));
  }
  vocab.metadata = {{"general.architecture", Value::string("llama")},
                    {"general.alignment", Value::of_u32(64)},
                    {"tokenizer.ggml.tokens", array_of(ValueType::STRING, tokens)},
                    {"tokenizer.ggml.scores", array_of(ValueType::FLOAT32, scores)},
                    {"tokenizer.ggml.token_type", array_of(ValueType::INT32, types)},
                    {"llama.block_count", Value::of_u32(2)}};
  vocab.tensors = {make_tensor("token_embd.weight", {8, 40}, kF16, 4), make_tensor("blk.0.w", {2, 3, 2, 2}, kF32, 5),
                   make_tensor("blk.1.w", {64}, kQ8_0, 6), make_tensor("output_norm.weight", {8}, kF32, 7)};
  seeds.push_back(make_seed("vocab", vocab));

  FileSpec meta_only;  // no tensors at all
  meta_only.metadata = {{"a", Value::string("only metadata")}, {"b", Value::boolean(true)},
                        {"c", array_of(ValueType::ARRAY, {array_of(ValueType::UINT16, {Value::u64(ValueType::UINT16, 9)})})}};
  seeds.push_back(make_seed("metadata_only", meta_only));

  FileSpec v2;  // version 2, 256-byte alignment
  v2.alignment = 256;
  v2.metadata = {{"general.alignment", Value::of_u32(256)}, {"x", Value::i64(ValueType::INT64, -1)}};
  v2.tensors = {make_tensor("a", {3}, kF32, 8), make_tensor("b", {2, 2}, kF16, 9)};
  seeds.push_back(make_seed("v2_align256", v2, 2));
  return seeds;
}

constexpr uint64_t kExtremeU64[] = {0, 1, 31, 32, uint64_t{1} << 31, (uint64_t{1} << 32) - 1, uint64_t{1} << 32,
                                    uint64_t{1} << 62, uint64_t{1} << 63, ~uint64_t{0} - 31, ~uint64_t{0}};
constexpr uint32_t kExtremeU32[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 0x03000000u, 0x80000000u, 0xFFFFFFFFu};

template <typename T>
void overwrite(std::vector<uint8_t>& b, size_t at, T v) {
  if (at + sizeof(T) <= b.size()) std::memcpy(b.data() + at, &v, sizeof(T));
}

// One to three kinds of damage, chosen by the rng.
inline std::vector<uint8_t> mutate(const std::vector<Seed>& seeds, Rng& rng) {
  const Seed& seed = seeds[rng.below(seeds.size())];
  std::vector<uint8_t> b = seed.bytes;
  const int n_ops = 1 + static_cast<int>(rng.below(3));
  for (int op = 0; op < n_ops; ++op) {
    switch (rng.below(8)) {
      case 0:  // flip bits in a few bytes
        for (uint64_t i = 0, n = 1 + rng.below(8); i < n && !b.empty(); ++i)
          b[rng.below(b.size())] ^= static_cast<uint8_t>(1 + rng.below(255));
        break;
      case 1: {  // a u64 field (count, length, dim, offset) to an extreme
        if (seed.u64_fields.empty()) break;
        uint64_t v = rng.below(4) == 0 ? rng.next() : kExtremeU64[rng.below(std::size(kExtremeU64))];
        overwrite(b, seed.u64_fields[rng.below(seed.u64_fields.size())], v);
        break;
      }
      case 2:  // a u32 field (version, type tag, n_dims, tensor type) to an extreme
        overwrite(b, seed.u32_fields[rng.below(seed.u32_fields.size())], kExtremeU32[rng.below(std::size(kExtremeU32))]);
        break;
      case 3:  // truncate
        b.resize(rng.below(b.size() + 1));
        break;
      case 4: {  // insert random bytes
        std::vector<uint8_t> ins(1 + rng.below(16));
        for (auto& x : ins) x = static_cast<uint8_t>(rng.next());
        b.insert(b.begin() + static_cast<ptrdiff_t>(rng.below(b.size() + 1)), ins.begin(), ins.end());
        break;
      }
      case 5: {  // delete a range
        if (b.empty()) break;
        size_t at = rng.below(b.size());
        size_t n = std::min<size_t>(1 + rng.below(16), b.size() - at);
        b.erase(b.begin() + static_cast<ptrdiff_t>(at), b.begin() + static_cast<ptrdiff_t>(at + n));
        break;
      }
      case 6: {  // splice: this file's head onto another seed's tail
        const Seed& other = seeds[rng.below(seeds.size())];
        size_t i = rng.below(b.size() + 1), j = rng.below(other.bytes.size() + 1);
        b.resize(i);
        b.insert(b.end(), other.bytes.begin() + static_cast<ptrdiff_t>(j), other.bytes.end());
        break;
      }
      default: {  // duplicate a chunk somewhere else
        if (b.empty()) break;
        size_t from = rng.below(b.size());
        size_t n = std::min<size_t>(1 + rng.below(64), b.size() - from);
        std::vector<uint8_t> chunk(b.begin() + static_cast<ptrdiff_t>(from), b.begin() + static_cast<ptrdiff_t>(from + n));
        b.insert(b.begin() + static_cast<ptrdiff_t>(rng.below(b.size() + 1)), chunk.begin(), chunk.end());
        break;
      }
    }
  }
  return b;
}

// What an accepted file must satisfy, whatever bytes it came from.
inline ::testing::AssertionResult consistent(const GgufFile& f, size_t file_size) {
  auto fail = [] { return ::testing::AssertionFailure(); };
  if (f.version != 2 && f.version != 3) return fail() << "version " << f.version;
  if (f.alignment == 0 || (f.alignment & (f.alignment - 1)) != 0) return fail() << "alignment " << f.alignment;
  if (f.key_index.size() != f.metadata.size() || f.tensor_index.size() != f.tensors.size())
    return fail() << "index sizes disagree (duplicates slipped through)";
  if (!f.tensors.empty() && (f.data_offset % f.alignment != 0 || f.data_offset > file_size))
    return fail() << "data offset " << f.data_offset;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const TensorInfo& t : f.tensors) {
    if (t.dims.empty() || t.dims.size() > static_cast<size_t>(kMaxDims)) return fail() << t.name << " dims";
    for (int64_t d : t.dims)
      if (d < 1) return fail() << t.name << " dim " << d;
    auto layout = test_types()(t.type_id);
    if (!layout) return fail() << t.name << " unknown type accepted";
    if (t.size_bytes != static_cast<uint64_t>(t.n_elements()) / layout->block_elems * layout->block_bytes)
      return fail() << t.name << " size " << t.size_bytes;
    if (t.offset % f.alignment != 0 || t.file_offset != f.data_offset + t.offset) return fail() << t.name << " offset";
    if (t.file_offset > file_size || t.size_bytes > file_size - t.file_offset) return fail() << t.name << " past end";
    spans.emplace_back(t.offset, t.offset + t.size_bytes);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) return fail() << "overlap accepted";
  return ::testing::AssertionSuccess();
}

// Anything the reader accepts, the writer writes back and the reader reads again identically.
inline ::testing::AssertionResult rewrites_identically(const GgufFile& f) {
  Writer w(f.alignment);
  for (const auto& [k, v] : f.metadata) w.set(k, v);
  for (const auto& t : f.tensors)
    w.add_tensor(t.name, t.dims, t.type_id, t.size_bytes, [](std::span<uint8_t> out) {
      std::fill(out.begin(), out.end(), 0);
      return Status::ok();
    });
  auto bytes = w.to_bytes();
  if (!bytes) return ::testing::AssertionFailure() << "writer refused an accepted file: " << bytes.status().message();
  auto g = parse_memory(*bytes, test_types());
  if (!g) return ::testing::AssertionFailure() << "rewritten file does not parse: " << g.status().message();
  // A non-default alignment always came with its key, so the writer adds none.
  if (g->metadata.size() != f.metadata.size())
    return ::testing::AssertionFailure() << "metadata count changed";
  for (size_t i = 0; i < f.metadata.size(); ++i) {
    if (g->metadata[i].first != f.metadata[i].first) return ::testing::AssertionFailure() << "key order changed";
    auto same = same_value(g->metadata[i].second, f.metadata[i].second, f.metadata[i].first);
    if (!same) return same;
  }
  if (g->tensors.size() != f.tensors.size() || g->alignment != f.alignment)
    return ::testing::AssertionFailure() << "directory changed";
  for (size_t i = 0; i < f.tensors.size(); ++i)
    if (g->tensors[i].name != f.tensors[i].name || g->tensors[i].dims != f.tensors[i].dims ||
        g->tensors[i].type_id != f.tensors[i].type_id || g->tensors[i].size_bytes != f.tensors[i].size_bytes)
      return ::testing::AssertionFailure() << "tensor " << f.tensors[i].name << " changed";
  return ::testing::AssertionSuccess();
}

struct CampaignStats {
  size_t cases = 0, accepted = 0, rejected = 0, file_checks = 0;
  size_t largest_allocation = 0;    // bytes, over all cases
  double worst_allocation_ratio = 0;  // largest allocation / input size, inputs of 256 bytes or more
  double slowest_case_ms = 0;
};

// Parses one input from memory (and, when `file_dir` is set, from a file: both must agree), checking the result.
inline void check_case(std::span<const uint8_t> input, const std::string& file_dir, CampaignStats& stats,
                       const std::string& label) {
  ++stats.cases;
  // An allocation of exactly the input's size, so under ASan any read past its end lands in a redzone (a vector
  // that was cut keeps its capacity, and reads into that slack go unnoticed).
  auto exact = std::make_unique<uint8_t[]>(input.size());
  std::copy(input.begin(), input.end(), exact.get());
  std::span<const uint8_t> bytes(exact.get(), input.size());
  auto t0 = std::chrono::steady_clock::now();
  size_t largest = 0;
  Result<GgufFile> r = Status::error("not parsed");
  {
    LargestAllocation tracker;
    r = parse_memory(bytes, test_types());
    largest = tracker.bytes();
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  stats.slowest_case_ms = std::max(stats.slowest_case_ms, ms);
  stats.largest_allocation = std::max(stats.largest_allocation, largest);
  if (bytes.size() >= 256)  // tiny inputs make the ratio meaningless (an error message outweighs them)
    stats.worst_allocation_ratio = std::max(stats.worst_allocation_ratio, double(largest) / double(bytes.size()));
  // A file of n bytes may cost ~48 bytes per 1-byte array element; anything past 64x means a count was trusted.
  EXPECT_LE(largest, 64 * bytes.size() + 64 * 1024) << label << ": allocated " << largest << " for " << bytes.size();
  if (r) {
    ++stats.accepted;
    EXPECT_TRUE(consistent(*r, bytes.size())) << label;
    EXPECT_TRUE(rewrites_identically(*r)) << label;
  } else {
    ++stats.rejected;
    EXPECT_FALSE(r.status().message().empty()) << label;
    EXPECT_NE(r.status().message(), "<memory>: ") << label;
  }
  if (!file_dir.empty()) {
    ++stats.file_checks;
    const std::string path = file_dir + "/case.gguf";
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    auto rf = read_file(path, test_types());
    ASSERT_EQ(rf.is_ok(), r.is_ok()) << label << ": file and memory parsing disagree: " << rf.status().message()
                                     << " / " << r.status().message();
    if (!rf) {  // same message after the source name
      std::string mem = r.status().message().substr(std::string("<memory>").size());
      EXPECT_EQ(rf.status().message(), path + mem) << label;
    }
  }
}

// Systematic single-field damage (every u32/u64 field of every seed to every extreme; skipped when `systematic`
// is false), then `n_random` random mutants. `file_every` > 0 also parses every n-th case from a file.
inline CampaignStats run_campaign(size_t n_random, uint64_t rng_seed, size_t file_every, bool systematic = true) {
  CampaignStats stats;
  const std::vector<Seed> seeds = make_seeds();
  const std::string dir = testing::temp_dir();
  for (const Seed& s : seeds) {
    if (!systematic) break;
    const size_t accepted_before = stats.accepted;
    check_case(s.bytes, dir, stats, s.name + " (intact)");
    EXPECT_EQ(stats.accepted, accepted_before + 1) << "seed " << s.name << " does not parse";
    for (size_t at : s.u64_fields)
      for (uint64_t v : kExtremeU64) {
        std::vector<uint8_t> b = s.bytes;
        overwrite(b, at, v);
        check_case(b, "", stats, s.name + " u64@" + std::to_string(at) + "=" + std::to_string(v));
      }
    for (size_t at : s.u32_fields)
      for (uint32_t v : kExtremeU32) {
        std::vector<uint8_t> b = s.bytes;
        overwrite(b, at, v);
        check_case(b, "", stats, s.name + " u32@" + std::to_string(at) + "=" + std::to_string(v));
      }
  }
  Rng rng(rng_seed);
  for (size_t i = 0; i < n_random; ++i) {
    std::vector<uint8_t> b = mutate(seeds, rng);
    const bool via_file = file_every > 0 && i % file_every == 0;
    check_case(b, via_file ? dir : "", stats, "random case " + std::to_string(i) + " (rng seed " + std::to_string(rng_seed) + ")");
    if (::testing::Test::HasFatalFailure()) break;
  }
  return stats;
}

inline void print_stats(const CampaignStats& s) {
  std::printf("cases %zu: accepted %zu, rejected %zu, via file %zu; largest allocation %zu bytes (%.1fx input); "
              "slowest case %.2f ms\n",
              s.cases, s.accepted, s.rejected, s.file_checks, s.largest_allocation, s.worst_allocation_ratio,
              s.slowest_case_ms);
}

}  // namespace strata::gguf::test
