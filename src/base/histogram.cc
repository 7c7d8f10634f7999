#include "base/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ironbus {

Histogram::Histogram() : counts_(kBucketCount, 0) {}

size_t Histogram::BucketIndex(uint64_t value) {
  if (value < kSubBucketCount) return static_cast<size_t>(value);
  const int k = 63 - std::countl_zero(value);  // 2^k <= value < 2^(k+1), k >= kSubBucketBits
  const int shift = k - kSubBucketBits;
  const uint64_t sub = (value >> shift) - kSubBucketCount;  // in [0, kSubBucketCount)
  return static_cast<size_t>(kSubBucketCount + static_cast<uint64_t>(shift) * kSubBucketCount + sub);
}

uint64_t Histogram::BucketLow(size_t index) {
  if (index < kSubBucketCount) return index;
  const uint64_t shift = (index - kSubBucketCount) / kSubBucketCount;
  const uint64_t sub = (index - kSubBucketCount) % kSubBucketCount;
  return (kSubBucketCount + sub) << shift;
}

uint64_t Histogram::BucketHigh(size_t index) {
  if (index < kSubBucketCount) return index;
  const uint64_t shift = (index - kSubBucketCount) / kSubBucketCount;
  // Low + width - 1; for the very last bucket this is exactly UINT64_MAX, no overflow.
  return BucketLow(index) + ((uint64_t{1} << shift) - 1);
}

void Histogram::RecordN(uint64_t value, uint64_t n) {
  if (n == 0) return;
  counts_[BucketIndex(value)] += n;
  count_ += n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value) * static_cast<double>(n);
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void Histogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

uint64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;  // also NaN
  if (p >= 100) return max_;
  // Nearest rank, 1-based: the smallest value with at least ceil(p% of count) values <= it.
  const double exact_rank = std::ceil(p / 100.0 * static_cast<double>(count_));
  const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(exact_rank), 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // Midpoint of the bucket: at most half a bucket width from any value in it. Clamping to
      // [min, max] can only move it closer to the exact value, which lies in that range too.
      const uint64_t low = BucketLow(i);
      const uint64_t mid = low + (BucketHigh(i) - low) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;  // unreachable: the counts add up to count_
}

}  // namespace ironbus
