// tests/streaming/page_cache_test.cc: a streamed run reads no model bytes through the page cache: after it,
// mincore() finds none of the file's data pages cached, where a buffered load caches nearly all of them.
#include <unistd.h>

#include <filesystem>

#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

// A scratch directory in the build tree: /tmp may be tmpfs, whose pages are always "in the cache".
class BuildTreeDir {
 public:
  BuildTreeDir() {
    path_ = (std::filesystem::path(testing::strata_binary()).parent_path() /
             ("streaming-page-cache-" + std::to_string(::getpid())))
                .string();
    std::filesystem::create_directories(path_);
  }
  ~BuildTreeDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Pages of [offset, end of file) that the page cache holds.
size_t cached_pages(const std::string& path, uint64_t offset) {
  return strata::testing::cached_pages(path, offset, std::filesystem::file_size(path));
}

void drop_cache(const std::string& path) { strata::testing::drop_cached_pages(path); }

TEST(PageCache, StreamedRunsLeaveNoModelPagesCached) {
  BuildTreeDir dir;
  model::SynthSpec spec;
  spec.layers = 4;
  spec.dim = 256;
  spec.heads = 4;
  spec.vocab = 512;
  spec.experts = 4;
  spec.experts_used = 2;
  const std::string path = write_synth(spec, dir.path(), "m.gguf");
  Loaded l = load_model(path);
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const size_t data_pages = (std::filesystem::file_size(path) - l.file.data_offset) / page;
  ASSERT_GT(data_pages, 500u);
  drop_cache(path);
  if (cached_pages(path, l.file.data_offset) > data_pages / 100)
    GTEST_SKIP() << "this filesystem keeps the file cached after POSIX_FADV_DONTNEED; nothing to measure";

  auto least = plan_memory(l.model, streamed_config(l.model));
  ASSERT_TRUE(least.is_ok());
  auto part = config_for_budget(l.model, least->total() + l.file.total_tensor_bytes() / 3);
  ASSERT_TRUE(part.is_ok());
  for (const StreamConfig& c : {streamed_config(l.model), *part}) {
    // O_DIRECT through each reader, and the buffered fallback (pages dropped after each read).
    for (auto [kind, direct] : {std::pair{io::ReaderKind::Auto, true}, {io::ReaderKind::Pread, true}, {io::ReaderKind::Auto, false}}) {
      StreamConfig k = c;
      k.io.kind = kind;
      k.io.direct = direct;
      drop_cache(path);
      auto w = make_stream(l, k);
      ASSERT_NE(w, nullptr);
      run_tokens(l.model, *w, w.get(), {1, 2, 3, 4, 5, 6}, 3);
      const StreamStats s = w->stats();
      EXPECT_GT(s.bytes_read, l.file.total_tensor_bytes() / 2);
      const std::string what = std::string(io::reader_kind_name(kind)) + (s.direct_io ? " with O_DIRECT" : " buffered");
      // Direct reads never enter the cache; buffered ones leave it as each read is reaped, so check
      // once the source is gone (its destructor reaps the prefetches still in flight).
      if (s.direct_io) {
        EXPECT_EQ(cached_pages(path, l.file.data_offset), 0u) << what << ", during the run";
      }
      w.reset();
      EXPECT_EQ(cached_pages(path, l.file.data_offset), 0u) << what << ": the run left model pages in the page cache";
    }
  }
  // The check can fail: a buffered load caches the file.
  auto resident = ResidentWeights::load(l.file, l.model);
  ASSERT_TRUE(resident.is_ok());
  EXPECT_GT(cached_pages(path, l.file.data_offset), data_pages * 9 / 10);
}

}  // namespace
}  // namespace strata::streaming::test
