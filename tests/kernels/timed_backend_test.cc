// tests/kernels/timed_backend_test.cc: the op-timing wrapper computes exactly what the backend it wraps computes,
// counts each op under its backend, op and weight shape, starts again on reset, and never records a step.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/backend_cpu.h"
#include "kernels/timed_backend.h"

namespace strata::kernels {
namespace {

TensorView f32_weight(const std::vector<float>& w, int64_t k, int64_t rows) {
  TensorView v;
  v.type = DType::F32;
  v.ne = {k, rows, 1, 1};
  v.data = reinterpret_cast<const uint8_t*>(w.data());
  v.device = kHostDevice;
  return v;
}

const OpTime* row(const std::vector<OpTime>& rows, const std::string& key) {
  auto it = std::find_if(rows.begin(), rows.end(), [&](const OpTime& t) { return t.key == key; });
  return it == rows.end() ? nullptr : &*it;
}

TEST(TimedBackend, ComputesWhatItWrapsAndCountsEachOp) {
  CpuBackend cpu(1);
  TimedBackend timed(cpu);
  EXPECT_EQ(timed.device(), cpu.device());
  const int64_t k = 8, rows = 4;
  std::vector<float> w(k * rows), x(2 * k), y_direct(2 * rows), y_timed(2 * rows), z(2 * rows, 1.0f);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i) - 0.3f;
  const TensorView wv = f32_weight(w, k, rows);
  const ActView xv{cpu.device(), x.data(), 2, k};
  cpu.matmul(wv, xv, {cpu.device(), y_direct.data(), 2, rows});
  timed.matmul(wv, xv, {cpu.device(), y_timed.data(), 2, rows});
  timed.matmul(wv, xv.rows_from(0, 1), {cpu.device(), y_timed.data(), 1, rows});
  EXPECT_EQ(y_direct, y_timed);
  timed.add({cpu.device(), z.data(), 2, rows}, {cpu.device(), y_timed.data(), 2, rows});
  for (size_t i = 0; i < z.size(); ++i) EXPECT_EQ(z[i], 1.0f + y_direct[i]);

  const std::vector<OpTime> rows_now = timed.times();
  ASSERT_EQ(rows_now.size(), 3u);
  const OpTime* batch = row(rows_now, "cpu matmul F32 8x4 (batch)");
  const OpTime* one = row(rows_now, "cpu matmul F32 8x4");
  const OpTime* add = row(rows_now, "cpu add");
  ASSERT_TRUE(batch && one && add);
  EXPECT_EQ(batch->count, 1u);
  EXPECT_EQ(one->count, 1u);
  EXPECT_EQ(add->count, 1u);
  EXPECT_TRUE(std::is_sorted(rows_now.begin(), rows_now.end(),
                             [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; }));

  timed.reset();
  EXPECT_TRUE(timed.times().empty());
  const int32_t token = 0;
  const int64_t pos = 0;
  const StepInputs in{std::span(&token, 1), std::span(&pos, 1)};
  EXPECT_FALSE(timed.begin_capture(1, in));  // a recorded step could not be timed op by op
  EXPECT_FALSE(timed.replay(1, in));
}

}  // namespace
}  // namespace strata::kernels
