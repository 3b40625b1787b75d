// tests/io/reader_test.cc: every reader (io_uring, pread, memory) returns exactly the file's bytes for
// aligned supersets, deep queues and split requests; short reads, EOF, EIO and a file shrinking under us are
// errors that name the file, never silent garbage.
#include <fcntl.h>
#include <random>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "core/aligned_buffer.h"
#include "io/memory_reader.h"
#include "io/reader.h"
#include "support/test_support.h"

namespace strata::io {
namespace {

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

std::string write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::vector<ReaderKind> kinds() {
  std::vector<ReaderKind> k = {ReaderKind::Pread, ReaderKind::Memory};
  if (io_uring_available()) k.push_back(ReaderKind::IoUring);
  return k;
}

std::unique_ptr<Reader> open(ReaderKind kind, const std::string& path, const ReaderOptions& o) {
  if (kind == ReaderKind::Memory) {
    auto r = open_memory_reader(path);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? std::move(r).value() : nullptr;
  }
  ReaderOptions opt = o;
  opt.kind = kind;
  auto r = open_reader(path, opt);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? std::move(r).value() : nullptr;
}

// Waits for every request in flight; tag → status.
std::map<uint64_t, Status> drain(Reader& r) {
  std::map<uint64_t, Status> done;
  while (r.in_flight() > 0) {
    auto c = r.wait();
    EXPECT_TRUE(c.is_ok()) << c.status().message();
    if (!c.is_ok()) break;
    EXPECT_EQ(done.count(c->tag), 0u) << "tag " << c->tag << " completed twice";
    done[c->tag] = c->status;
  }
  return done;
}

// Reads a 50,000-byte file whole, as an aligned 53,248-byte superset, and compares it with `bytes`.
void expect_reads_whole_file(Reader& r, const std::vector<uint8_t>& bytes) {
  AlignedBuffer buf(53248, 4096);
  ASSERT_TRUE(r.submit({0, 53248, 50000, buf.data(), 1}).is_ok());
  auto done = drain(r);
  ASSERT_TRUE(done[1].is_ok()) << done[1].message();
  EXPECT_EQ(std::memcmp(buf.data(), bytes.data(), bytes.size()), 0);
}

TEST(Reader, RandomSupersetsMatchTheFile) {
  const std::string path = write_file(testing::temp_dir() + "/data.bin", random_bytes((3 << 20) + 1234, 1));
  const std::vector<uint8_t> want = random_bytes((3 << 20) + 1234, 1);
  for (ReaderKind kind : kinds()) {
    SCOPED_TRACE(reader_kind_name(kind));
    ReaderOptions o;
    o.block_bytes = 16384;  // requests split into many reads
    o.queue_depth = 3;      // fewer ring entries than reads: the backlog is exercised
    o.n_threads = 3;
    auto r = open(kind, path, o);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->file_size(), want.size());
    std::mt19937 rng(2);
    struct Want {
      uint64_t offset, size;
      AlignedSpan span;
      AlignedBuffer buf;
    };
    std::vector<Want> reads;
    for (int i = 0; i < 60; ++i) {
      const uint64_t offset = rng() % want.size();
      uint64_t size = 1 + rng() % 200000;
      if (i % 10 == 0) size = want.size() - offset;  // up to the last byte: the superset runs past EOF
      size = std::min<uint64_t>(size, want.size() - offset);
      const AlignedSpan span = align_span(offset, size, r->alignment());
      reads.push_back({offset, size, span, AlignedBuffer(span.length, r->alignment())});
    }
    for (size_t i = 0; i < reads.size(); ++i) {
      ReadRequest q{reads[i].span.start, reads[i].span.length, reads[i].span.need, reads[i].buf.data(), 1000 + i};
      ASSERT_TRUE(r->submit(q).is_ok());
    }
    EXPECT_EQ(r->in_flight(), reads.size());
    auto done = drain(*r);
    ASSERT_EQ(done.size(), reads.size());
    for (size_t i = 0; i < reads.size(); ++i) {
      ASSERT_TRUE(done[1000 + i].is_ok()) << done[1000 + i].message();
      EXPECT_EQ(std::memcmp(reads[i].buf.data() + reads[i].span.lead, want.data() + reads[i].offset, reads[i].size), 0)
          << "read " << i;
    }
  }
}

TEST(Reader, NeedPastTheEndIsAClearError) {
  const std::string path = write_file(testing::temp_dir() + "/short.bin", random_bytes(10000, 3));
  for (ReaderKind kind : kinds()) {
    SCOPED_TRACE(reader_kind_name(kind));
    auto r = open(kind, path, {});
    ASSERT_NE(r, nullptr);
    AlignedBuffer buf(16384, 4096);
    ASSERT_TRUE(r->submit({4096, 12288, 12000, buf.data(), 7}).is_ok());  // wants bytes up to 16096 of 10000
    auto done = drain(*r);
    ASSERT_EQ(done.count(7), 1u);
    ASSERT_FALSE(done[7].is_ok());
    EXPECT_NE(done[7].message().find("shorter"), std::string::npos) << done[7].message();
    EXPECT_NE(done[7].message().find("short.bin"), std::string::npos) << done[7].message();
  }
}

TEST(Reader, FileTruncatedAfterOpenIsDetected) {
  for (ReaderKind kind : {ReaderKind::Pread, ReaderKind::IoUring}) {
    if (kind == ReaderKind::IoUring && !io_uring_available()) continue;
    SCOPED_TRACE(reader_kind_name(kind));
    const std::string path = write_file(testing::temp_dir() + "/trunc.bin", random_bytes(1 << 20, 4));
    auto r = open(kind, path, {});
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->check_unchanged().is_ok());
    ASSERT_EQ(::truncate(path.c_str(), 300000), 0);
    const Status changed = r->check_unchanged();
    ASSERT_FALSE(changed.is_ok());
    EXPECT_NE(changed.message().find("changed"), std::string::npos) << changed.message();
    AlignedBuffer buf(1 << 20, 4096);
    ASSERT_TRUE(r->submit({0, 1 << 20, 1 << 20, buf.data(), 1}).is_ok());
    auto done = drain(*r);
    ASSERT_FALSE(done[1].is_ok());
    EXPECT_NE(done[1].message().find("shorter"), std::string::npos) << done[1].message();
  }
}

TEST(Reader, MisalignedRequestsAreRefused) {
  const std::string path = write_file(testing::temp_dir() + "/a.bin", random_bytes(8192, 5));
  for (ReaderKind kind : kinds()) {
    auto r = open(kind, path, {});
    ASSERT_NE(r, nullptr);
    AlignedBuffer buf(8192, 4096);
    EXPECT_FALSE(r->submit({100, 4096, 4096, buf.data(), 1}).is_ok());
    EXPECT_FALSE(r->submit({0, 4096, 4096, buf.data() + 8, 1}).is_ok());
    EXPECT_FALSE(r->submit({0, 4096, 5000, buf.data(), 1}).is_ok());
    EXPECT_EQ(r->in_flight(), 0u);
  }
}

TEST(MemoryReader, InjectedFaults) {
  const std::vector<uint8_t> bytes = random_bytes(1 << 20, 6);
  auto faults = std::make_shared<MemoryFaults>();
  auto stats = std::make_shared<MemoryReaderStats>();
  auto r = make_memory_reader(bytes, "model.gguf", faults, stats);
  AlignedBuffer buf(1 << 20, 4096);
  const auto read = [&](uint64_t offset, uint64_t length) {
    EXPECT_TRUE(r->submit({offset, length, length, buf.data(), 9}).is_ok());
    auto c = r->wait();
    EXPECT_TRUE(c.is_ok());
    return c.is_ok() ? c->status : c.status();
  };
  // Short reads are resubmitted until complete.
  faults->max_read_bytes = 1000;
  ASSERT_TRUE(read(65536, 65536).is_ok());
  EXPECT_EQ(std::memcmp(buf.data(), bytes.data() + 65536, 65536), 0);
  EXPECT_GE(stats->reads, 66u);
  faults->max_read_bytes = 0;
  // EIO on a range.
  faults->eio_begin = 200000;
  faults->eio_end = 200001;
  Status s = read(196608, 8192);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("Input/output error"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("model.gguf"), std::string::npos) << s.message();
  EXPECT_TRUE(read(0, 8192).is_ok());
  faults->eio_begin = faults->eio_end = UINT64_MAX;
  // A file that shrank.
  faults->visible_size = 5000;
  s = read(0, 8192);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("shorter"), std::string::npos) << s.message();
  faults->visible_size = UINT64_MAX;
  // Everything failing after the next request.
  faults->fail_after_requests = 1;
  EXPECT_TRUE(read(0, 4096).is_ok());
  EXPECT_FALSE(read(0, 4096).is_ok());
}

TEST(Reader, BufferedReadsWhenDirectIsOff) {
  const std::vector<uint8_t> bytes = random_bytes(50000, 8);
  const std::string path = write_file(testing::temp_dir() + "/b.bin", bytes);
  for (ReaderKind kind : kinds()) {
    if (kind == ReaderKind::Memory) continue;
    ReaderOptions o;
    o.direct = false;
    auto r = open(kind, path, o);
    ASSERT_NE(r, nullptr);
    EXPECT_FALSE(r->direct());
    expect_reads_whole_file(*r, bytes);
  }
}

TEST(Reader, FallsBackWhereODirectIsRefused) {
  // Older tmpfs refuses O_DIRECT (Linux 6.6 and later accept it): there the reader falls back to buffered
  // reads. Where no filesystem at hand refuses it, there is nothing to fall back from.
  const std::string path = "/dev/shm/strata-reader-test-" + std::to_string(::getpid());
  const std::vector<uint8_t> bytes = random_bytes(50000, 8);
  write_file(path, bytes);
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT);
  if (fd >= 0 || !std::filesystem::exists(path)) {
    if (fd >= 0) ::close(fd);
    std::filesystem::remove(path);
    GTEST_SKIP() << "no filesystem here refuses O_DIRECT";
  }
  auto r = open(ReaderKind::Auto, path, {});
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->direct());
  expect_reads_whole_file(*r, bytes);
  std::filesystem::remove(path);
}

TEST(Reader, OptionsAreChecked) {
  const std::string path = write_file(testing::temp_dir() + "/o.bin", random_bytes(4096, 9));
  ReaderOptions o;
  o.block_bytes = 1000;
  EXPECT_FALSE(open_reader(path, o).is_ok());
  o = {};
  o.queue_depth = 0;
  EXPECT_FALSE(open_reader(path, o).is_ok());
  EXPECT_FALSE(open_reader(path + ".missing", {}).is_ok());
  EXPECT_TRUE(parse_reader_kind("io_uring").is_ok());
  EXPECT_FALSE(parse_reader_kind("mmap").is_ok());
}

}  // namespace
}  // namespace strata::io
