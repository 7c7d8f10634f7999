// LogOptions: the knobs of one storage::Log (spec/storage.md 4.4, 12, 13, 18; DESIGN.md D8).
// Defaults are the spec's; Validate() refuses what the spec refuses at startup.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "format/compression.h"
#include "format/record_format.h"

namespace ironbus::storage {

// When an append is acknowledged, and so what a power cut may take (spec 12.2).
enum class Durability : uint8_t {
  // Ack after the fdatasync covering the record returned. Zero acked loss. Default.
  kSync,
  // Ack after the write reached the OS; fdatasync at least every flush_interval_ms or
  // flush_max_bytes of unsynced record bytes, whichever comes first. Loses at most one window.
  kInterval,
  // Ack after the write reached the OS; fdatasync only at a seal and at a clean stop.
  // Refused unless relaxed_durability_acknowledged is set.
  kNone,
};

struct RetentionOptions {
  uint64_t max_retained_bytes = 0;  // delete while total record bytes exceed it; 0 = off
  int64_t max_age_ms = 0;           // delete a segment whose newest record is older; 0 = off
  uint64_t max_messages = 0;        // delete while the record count exceeds it; 0 = off
  bool enabled() const { return max_retained_bytes != 0 || max_age_ms != 0 || max_messages != 0; }
};

struct LogOptions {
  // Soft roll size, header included (spec 4.4). At least format::kMinSegmentBytes. Also the
  // preallocation length of a new segment.
  uint64_t max_segment_bytes = format::kDefaultSegmentBytes;
  // Largest whole frame accepted at append (after compression). The spec wants it below
  // max_segment_bytes (checked by config); the log itself copes with a larger record by
  // giving it a segment of its own.
  uint64_t max_record_bytes = format::kDefaultMaxRecordBytes;
  Durability durability = Durability::kSync;
  int64_t flush_interval_ms = 1000;        // kInterval: 0 = no time trigger
  uint64_t flush_max_bytes = 1024 * 1024;  // kInterval: 0 = no byte trigger; both 0 is refused
  // kNone waives "ack implies durable" (I2): the operator must say so explicitly.
  bool relaxed_durability_acknowledged = false;
  // Writer-side compression of payloads the producer sent uncompressed (D8: lz4 from 1 KiB,
  // only when strictly smaller). Producer-compressed payloads pass through untouched.
  format::Compression compression = format::Compression::kLz4;
  RetentionOptions retention;

  // InvalidArgument naming the first bad knob, or Ok.
  Status Validate() const;
};

}  // namespace ironbus::storage
