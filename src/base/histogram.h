// Histogram: a log-linear latency histogram in the style of HdrHistogram (DESIGN.md section 4:
// written here, tested against exact percentiles). Values are non-negative integers, usually
// nanoseconds.
//
// Buckets: values below 2^kSubBucketBits (128) each have their own bucket (exact). Above that,
// every power-of-two range [2^k, 2^(k+1)) is split into 2^kSubBucketBits equal linear
// sub-buckets of width 2^(k - kSubBucketBits). The whole uint64 range fits in kBucketCount
// (7,424) counters: fixed memory, about 58 KiB, allocated once at construction; Record never
// allocates.
//
// Accuracy: Percentile(p) returns the midpoint of the bucket holding the nearest-rank
// percentile (the value at sorted position ceil(p/100 * count), 1-based), clamped to
// [min, max]. A bucket's half-width is at most 2^-(kSubBucketBits+1) of its lower bound, so
// |Percentile(p) - exact| <= kMaxRelativeError * exact (0.39 %). Percentile(0) is min(),
// Percentile(100) is max(), both exact. count, min, max are exact; mean is sum/count in double.
//
// Thread safety: none (External synchronization). Merge two histograms instead of sharing one
// between threads: each thread records into its own and the reporter merges.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ironbus {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << kSubBucketBits;  // 128
  // Direct buckets for [0, 128), then 128 sub-buckets for each k in [7, 63].
  static constexpr size_t kBucketCount = kSubBucketCount + (64 - kSubBucketBits) * kSubBucketCount;
  static constexpr double kMaxRelativeError = 1.0 / static_cast<double>(kSubBucketCount * 2);

  Histogram();

  void Record(uint64_t value) { RecordN(value, 1); }
  // Records `value` `n` times (n = 0 is a no-op).
  void RecordN(uint64_t value, uint64_t n);
  // Adds every value recorded in `other`.
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  // 0 when empty.
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }
  // p in [0, 100] (clamped); 0 when empty. See the accuracy contract above.
  uint64_t Percentile(double p) const;

  // Bucket geometry (exposed for tests): the bucket of a value, and a bucket's inclusive range.
  static size_t BucketIndex(uint64_t value);
  static uint64_t BucketLow(size_t index);
  static uint64_t BucketHigh(size_t index);

 private:
  std::vector<uint64_t> counts_;  // kBucketCount entries
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace ironbus
