// LogOptions: the knobs of one storage::Log (spec/storage.md 4.4, 12, 13, 18; DESIGN.md D8).
// Defaults are the spec's; Validate() refuses what the spec refuses at startup.
#pragma once

#include <cstdint>
#include <memory>

#include "base/status.h"
#include "format/compression.h"
#include "format/key_ring.h"
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

// What a publish meets at the byte cap or the free-disk watermark (spec/consumers.md 12.2).
enum class DiskFullPolicy : uint8_t {
  // Refuse the publish before anything is written ("at capacity"); it succeeds again once
  // consumers and retention free room. Default.
  kDropNew,
  // Delete the oldest sealed segment even when a group has not consumed it, then accept; the
  // groups behind get one truncation signal. Opt-in: it loses unconsumed data by design.
  kDropOldest,
  // Hold the publish (and, behind it, the whole append queue) until room frees, at most
  // block_timeout_ms, then refuse it as kDropNew would. Opt-in.
  kBlock,
};

// The byte cap and the free-disk watermark. Live-settable (Log::SetCapacity, SIGHUP).
struct CapacityOptions {
  // Cap on the record bytes the log holds (appended-but-unsynced included); at or above it a
  // publish meets `policy`. 0 = unlimited. An empty log always takes one record.
  uint64_t max_total_bytes = 0;
  // Free-disk watermark: with fewer bytes than this available on the data directory's file
  // system, a publish meets `policy`, so the log stops before the disk is full. 0 = off.
  uint64_t min_free_bytes = 0;
  DiskFullPolicy policy = DiskFullPolicy::kDropNew;
  int64_t block_timeout_ms = 5000;  // kBlock only
  bool enabled() const { return max_total_bytes != 0 || min_free_bytes != 0; }
};

// "drop-new", "drop-oldest", "block".
const char* DiskFullPolicyName(DiskFullPolicy policy);

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
  // Open-time values; Log::SetRetention / SetCapacity change the running ones.
  RetentionOptions retention;
  CapacityOptions capacity;
  // At-rest encryption (spec/security.md 5). Null or without an active key: new segments are
  // plaintext, byte for byte as without this feature. With an active key: every new segment
  // is written under it with the ring's suite. Segments written under other loaded ids stay
  // readable; a segment whose id is not loaded is served as a hole (recovery reports it).
  std::shared_ptr<const format::KeyRing> keys;

  // InvalidArgument naming the first bad knob, or Ok.
  Status Validate() const;
};

}  // namespace ironbus::storage
