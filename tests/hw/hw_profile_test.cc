// tests/hw/hw_profile_test.cc: measuring the machine, the JSON form and the fingerprint-keyed cache.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/reader.h"
#include "planner/model_shapes.h"  // hardware profiles of real machines (header only)
#include "hw/measure.h"
#include "support/test_support.h"

namespace strata::planner {
namespace {

// A quick request: small buffers and short samples keep the test to a couple of seconds on 2 cores.
ProfileRequest quick_request(const std::string& dir) {
  ProfileRequest r;
  r.storage_dir = dir;
  r.scratch_file_bytes = 64 * kMiB;
  r.memory_test_bytes = 64 * kMiB;
  r.seconds_per_sample = 0.03;
  return r;
}

bool has_scratch_files(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().starts_with(".strata-profile-")) return true;
  return false;
}

TEST(Profile, MeasuresThisMachineAndRemovesTheScratchFile) {
  const std::string dir = strata::testing::temp_dir();
  auto p = measure_hardware(quick_request(dir));
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_FALSE(p->cpu.model.empty());
  EXPECT_GE(p->cpu.n_logical, 1);
  EXPECT_GE(p->cpu.n_physical, 1);
  EXPECT_GT(p->cpu.fma_gflops, 0.1);
  EXPECT_GT(p->memory.total_bytes, 256 * kMiB);
  EXPECT_GT(p->memory.available_bytes, 0u);
  EXPECT_LE(p->memory.available_bytes, p->memory.total_bytes);
  EXPECT_GT(p->memory.read_bytes_per_s, 1e8);  // any machine streams RAM faster than 100 MB/s
  ASSERT_TRUE(p->storage.has_value());
  EXPECT_EQ(p->storage->sequential.size(), 9u);  // three block sizes x three queue depths
  for (const auto& s : p->storage->sequential) EXPECT_GT(s.bytes_per_s, 0) << s.block_bytes << " qd " << s.queue_depth;
  EXPECT_GT(p->storage->random_read_latency_us, 0);
  EXPECT_FALSE(p->storage->filesystem.empty());
  // Measured through the streamer's reader, so the table ranks what streaming will get.
  EXPECT_EQ(p->storage->reader, io::io_uring_available() ? "io_uring" : "pread");
  EXPECT_FALSE(has_scratch_files(dir)) << "the scratch file must be removed";
  EXPECT_EQ(p->fingerprint, hardware_fingerprint(dir));
  if (p->gpus.empty()) {
    EXPECT_NE(p->gpu_note.find("no CUDA GPU"), std::string::npos) << p->gpu_note;
  }
  EXPECT_LT(p->measure_seconds, 30);
}

TEST(Profile, StorageErrorsAreReported) {
  auto p = measure_hardware(quick_request("/nonexistent/strata-dir"));
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().message(), "cannot measure storage of '/nonexistent/strata-dir': no such directory");
  const std::string file = strata::testing::temp_dir() + "/plain-file";
  std::ofstream(file) << "x";
  auto q = measure_hardware(quick_request(file));
  ASSERT_FALSE(q.is_ok());
  EXPECT_EQ(q.status().message(), "cannot measure storage of '" + file + "': not a directory");
}

TEST(Profile, JsonRoundTrip) {
  HardwareProfile p = testing::gpu_24g();
  p.fingerprint = "0123456789abcdef";
  p.memory.cgroup_limit_bytes = 48 * kGiB;
  p.cpu.isa = {"avx2", "fma"};
  p.gpus[0].cc_major = 9;
  p.gpus[0].cc_minor = 0;
  p.gpus[0].matvec_bytes_per_s = 1.6e12;
  p.gpus[0].gemm_flops_per_s = 61.5e12;
  p.gpus[0].product_fixed_seconds = 2.5e-6;
  p.gpus[0].layer_ops_seconds = 3e-5;
  p.gpus[0].layer_ops_prompt_seconds = 7e-4;
  ASSERT_TRUE(p.storage.has_value());
  p.storage->reader = "io_uring";
  nlohmann::json j;
  to_json(j, p);
  auto back = profile_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  nlohmann::json j2;
  to_json(j2, *back);
  EXPECT_EQ(j, j2);
  EXPECT_EQ(back->gpus[0].cc_major, 9);
  EXPECT_DOUBLE_EQ(back->gpus[0].matvec_bytes_per_s, 1.6e12);
  EXPECT_DOUBLE_EQ(back->gpus[0].gemm_flops_per_s, 61.5e12);
  EXPECT_DOUBLE_EQ(back->gpus[0].product_fixed_seconds, 2.5e-6);
  EXPECT_DOUBLE_EQ(back->gpus[0].layer_ops_seconds, 3e-5);
  EXPECT_DOUBLE_EQ(back->gpus[0].layer_ops_prompt_seconds, 7e-4);
  EXPECT_EQ(*back->memory.cgroup_limit_bytes, 48 * kGiB);
  EXPECT_DOUBLE_EQ(back->storage->best_bytes_per_s(), 7e9);

  // A hand-written profile may omit what it does not know; wrong types are errors naming the key.
  auto partial = profile_from_json(nlohmann::json::parse(R"({"memory": {"total_bytes": 1024}, "unified_memory": true})"));
  ASSERT_TRUE(partial.is_ok()) << partial.status().message();
  EXPECT_TRUE(partial->unified_memory);
  EXPECT_FALSE(partial->storage.has_value());
  auto bad = profile_from_json(nlohmann::json::parse(R"({"memory": {"total_bytes": "lots"}})"));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("memory.total_bytes"), std::string::npos) << bad.status().message();
  auto bad_gpu = profile_from_json(nlohmann::json::parse(R"({"gpus": [{"compute_capability": "nine"}]})"));
  ASSERT_FALSE(bad_gpu.is_ok());
  EXPECT_NE(bad_gpu.status().message().find("gpus[0].compute_capability"), std::string::npos);
}

TEST(Profile, FileErrors) {
  const std::string dir = strata::testing::temp_dir();
  EXPECT_FALSE(read_profile_file(dir + "/missing.json").is_ok());
  std::ofstream(dir + "/broken.json") << "{not json";
  auto r = read_profile_file(dir + "/broken.json");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("not valid JSON"), std::string::npos);
}

TEST(Profile, CacheDirFollowsXdg) {
  EXPECT_EQ(default_cache_dir("/xdg", "/home/u"), "/xdg/strata");
  EXPECT_EQ(default_cache_dir("relative/ignored", "/home/u"), "/home/u/.cache/strata");
  EXPECT_EQ(default_cache_dir(nullptr, "/home/u"), "/home/u/.cache/strata");
  EXPECT_EQ(default_cache_dir(nullptr, nullptr), "");
  EXPECT_EQ(profile_cache_path("/c", "abc"), "/c/profile-abc.json");
}

TEST(Profile, LoadOrMeasureUsesTheCache) {
  const std::string dir = strata::testing::temp_dir();
  const std::string cache = dir + "/cache";
  const ProfileRequest req = quick_request(dir);
  auto first = load_or_measure_profile(req, cache, false);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  EXPECT_TRUE(first->measured);
  EXPECT_EQ(first->cache_path, profile_cache_path(cache, hardware_fingerprint(dir)));
  ASSERT_TRUE(std::filesystem::exists(first->cache_path));

  const auto t0 = std::chrono::steady_clock::now();
  auto second = load_or_measure_profile(req, cache, false);
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(second.is_ok()) << second.status().message();
  EXPECT_FALSE(second->measured);
  EXPECT_LT(dt, 0.5);
  EXPECT_EQ(second->profile.measured_at, first->profile.measured_at);
  EXPECT_DOUBLE_EQ(second->profile.memory.read_bytes_per_s, first->profile.memory.read_bytes_per_s);

  auto third = load_or_measure_profile(req, cache, /*refresh=*/true);
  ASSERT_TRUE(third.is_ok());
  EXPECT_TRUE(third->measured);

  // A damaged cache file is measured over, not trusted.
  std::ofstream(first->cache_path, std::ios::trunc) << "garbage";
  auto fourth = load_or_measure_profile(req, cache, false);
  ASSERT_TRUE(fourth.is_ok());
  EXPECT_TRUE(fourth->measured);
  EXPECT_TRUE(read_profile_file(first->cache_path).is_ok());
}

}  // namespace
}  // namespace strata::planner
