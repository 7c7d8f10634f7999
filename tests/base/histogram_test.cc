// Histogram against exact nearest-rank percentiles of the same data (histogram.h contract).
#include "base/histogram.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace ironbus {
namespace {

// The definition the histogram documents: the value at sorted 1-based position ceil(p% * n).
uint64_t ExactPercentile(std::vector<uint64_t> sorted, double p) {
  if (p <= 0) return sorted.front();
  if (p >= 100) return sorted.back();
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = std::clamp<size_t>(static_cast<size_t>(rank), 1, sorted.size()) - 1;
  return sorted[index];
}

bool WithinBound(uint64_t got, uint64_t exact) {
  const double diff = std::fabs(static_cast<double>(got) - static_cast<double>(exact));
  return diff <= Histogram::kMaxRelativeError * static_cast<double>(exact);
}

constexpr double kPercentiles[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.Percentile(50), 0u);
  EXPECT_EQ(h.Percentile(100), 0u);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < Histogram::kSubBucketCount; ++v) h.Record(v);
  for (double p : kPercentiles) {
    std::vector<uint64_t> all(Histogram::kSubBucketCount);
    for (uint64_t v = 0; v < all.size(); ++v) all[v] = v;
    EXPECT_EQ(h.Percentile(p), ExactPercentile(all, p)) << "p" << p;
  }
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), Histogram::kSubBucketCount - 1);
}

TEST(HistogramTest, SingleValueIsReportedExactly) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, uint64_t{123456789}, UINT64_MAX}) {
    Histogram h;
    h.Record(v);
    for (double p : kPercentiles) EXPECT_EQ(h.Percentile(p), v) << v << " p" << p;
    EXPECT_EQ(h.min(), v);
    EXPECT_EQ(h.max(), v);
  }
}

TEST(HistogramTest, ExtremesFitAndBucketsTileTheRange) {
  EXPECT_EQ(Histogram::BucketIndex(UINT64_MAX), Histogram::kBucketCount - 1);
  EXPECT_EQ(Histogram::BucketHigh(Histogram::kBucketCount - 1), UINT64_MAX);
  for (size_t i = 0; i + 1 < Histogram::kBucketCount; ++i) {
    ASSERT_EQ(Histogram::BucketHigh(i) + 1, Histogram::BucketLow(i + 1)) << i;
    ASSERT_EQ(Histogram::BucketIndex(Histogram::BucketLow(i)), i);
    ASSERT_EQ(Histogram::BucketIndex(Histogram::BucketHigh(i)), i);
  }
}

TEST(HistogramTest, OutOfRangePercentilesClamp) {
  Histogram h;
  h.Record(10);
  h.Record(5000);
  EXPECT_EQ(h.Percentile(-5), 10u);
  EXPECT_EQ(h.Percentile(250), 5000u);
  EXPECT_EQ(h.Percentile(std::nan("")), 10u);
}

TEST(HistogramTest, RecordNZeroIsANoOpAndCountsAdd) {
  Histogram h;
  h.RecordN(77, 0);
  EXPECT_EQ(h.count(), 0u);
  h.RecordN(1'000'000, 3);
  h.Record(2'000'000);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_DOUBLE_EQ(h.mean(), 1'250'000.0);
  EXPECT_EQ(h.min(), 1'000'000u);
  EXPECT_EQ(h.max(), 2'000'000u);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(99), 0u);
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(42);  // fixed seed: deterministic
  Histogram a, b, all;
  for (int i = 0; i < 10'000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  a.Merge(Histogram{});
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : kPercentiles) EXPECT_EQ(a.Percentile(p), all.Percentile(p)) << p;
}

TEST(HistogramTest, LatencyLikeDataWithinBound) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency_ns(11.0, 1.5);  // ~60 us median, long tail
  Histogram h;
  std::vector<uint64_t> values;
  for (int i = 0; i < 100'000; ++i) {
    const uint64_t v = static_cast<uint64_t>(latency_ns(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : kPercentiles) {
    const uint64_t exact = ExactPercentile(values, p);
    EXPECT_TRUE(WithinBound(h.Percentile(p), exact)) << "p" << p << " got " << h.Percentile(p) << " exact " << exact;
  }
}

// Property: for any data, every percentile is within kMaxRelativeError of the exact one.
RC_GTEST_PROP(HistogramProperty, PercentileWithinDocumentedRelativeError, ()) {
  const int max_shift = *rc::gen::inRange(0, 64);
  const auto values = *rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
      rc::gen::map(rc::gen::arbitrary<uint64_t>(), [max_shift](uint64_t v) { return v >> max_shift; })));
  const double p = *rc::gen::oneOf(rc::gen::element(0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0),
                                   rc::gen::map(rc::gen::inRange(0, 100'001), [](int x) { return x / 1000.0; }));
  Histogram h;
  for (uint64_t v : values) h.Record(v);
  auto sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const uint64_t exact = ExactPercentile(sorted, p);
  const uint64_t got = h.Percentile(p);
  RC_ASSERT(WithinBound(got, exact));
  RC_ASSERT(h.count() == values.size());
  RC_ASSERT(h.min() == sorted.front());
  RC_ASSERT(h.max() == sorted.back());
}

}  // namespace
}  // namespace ironbus
