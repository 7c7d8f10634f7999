#include "storage/log_options.h"

#include <string>

namespace ironbus::storage {

const char* DiskFullPolicyName(DiskFullPolicy policy) {
  switch (policy) {
    case DiskFullPolicy::kDropNew: return "drop-new";
    case DiskFullPolicy::kDropOldest: return "drop-oldest";
    case DiskFullPolicy::kBlock: return "block";
  }
  return "drop-new";
}

Status LogOptions::Validate() const {
  if (max_segment_bytes < format::kMinSegmentBytes) {
    return Status::InvalidArgument("max_segment_bytes " + std::to_string(max_segment_bytes) + " is below the minimum " +
                                   std::to_string(format::kMinSegmentBytes));
  }
  if (max_record_bytes < format::kMinRecordFrameSize || max_record_bytes > format::kMaxRecordBytesCeiling) {
    return Status::InvalidArgument("max_record_bytes " + std::to_string(max_record_bytes) + " is outside [" +
                                   std::to_string(format::kMinRecordFrameSize) + ", " +
                                   std::to_string(format::kMaxRecordBytesCeiling) + "]");
  }
  if (flush_interval_ms < 0) return Status::InvalidArgument("flush_interval_ms is negative");
  if (retention.max_age_ms < 0) return Status::InvalidArgument("retention max_age_ms is negative");
  if (capacity.block_timeout_ms < 0) return Status::InvalidArgument("block_timeout_ms is negative");
  switch (durability) {
    case Durability::kSync:
      break;
    case Durability::kInterval:
      // With neither trigger nothing would ever sync: that is kNone under another name.
      if (flush_interval_ms == 0 && flush_max_bytes == 0) {
        return Status::InvalidArgument("interval durability needs flush_interval_ms or flush_max_bytes above 0");
      }
      break;
    case Durability::kNone:
      if (!relaxed_durability_acknowledged) {
        return Status::InvalidArgument(
            "durability none can lose every acknowledged record since the last roll on power loss; "
            "set relaxed_durability_acknowledged to accept that");
      }
      break;
  }
  return Status::Ok();
}

}  // namespace ironbus::storage
