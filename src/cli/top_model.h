// The pure half of `ironbus top` (spec/cli-config-ops.md 10.1): the broker's /admin v1 JSON and
// /metrics text parsed into one snapshot, rates from two snapshots, and the --json object. No
// I/O, no clock, no terminal: top.cc fetches, top_render.h draws, top_screen.h loops.
//
// Rates come only from counter deltas between two polls (never counter / uptime): counters
// survive a broker restart (spec 6.1), so a since-start average would lie. A counter that went
// down means the broker restarted between polls; those rates are then not shown.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace ironbus::cli::top {

struct GroupRow {
  std::string name;  // "" is the default group
  uint64_t committed_offset = 0;
  uint64_t consumer_lag = 0;
  uint64_t in_flight = 0;
};

// What top reads from /metrics. `present` is false when /metrics could not be read; the
// panels that need it then say so instead of showing zeros.
struct MetricsView {
  bool present = false;
  uint64_t produced_bytes = 0;                 // ironbus_produced_bytes_total
  std::vector<double> fsync_bounds_s;          // finite bucket upper bounds, ascending
  std::vector<uint64_t> fsync_cumulative;      // one per bound, then +Inf (size = bounds + 1)
  uint64_t produce_rejected = 0;               // ironbus_produce_rejected_total
  uint64_t sheds = 0;                          // every *_shed(s)_total that drops a message
  uint64_t lost_records = 0;                   // ironbus_recovery_loss_records, all but torn_tail
  uint64_t loss_reasons = 0;                   // reasons with any recovery loss (torn_tail included)
  uint64_t truncations = 0;                    // ironbus_truncations_total (consumer cursors moved up)
};

// One poll of a live broker.
struct LiveSnapshot {
  std::string version;
  double uptime_s = 0;
  bool frozen = false;
  std::string frozen_reason;
  std::string durability;
  uint64_t connections_open = 0;
  // log
  uint64_t durable_head = 0;
  uint64_t earliest_retained = 0;
  uint64_t segment_count = 0;
  uint64_t durable_record_count = 0;
  uint64_t durable_record_bytes = 0;
  // broker counters
  uint64_t committed = 0;  // the default group's
  uint64_t consumer_lag = 0;
  uint64_t produced = 0;
  uint64_t delivered = 0;
  uint64_t redelivered = 0;
  uint64_t acks = 0;
  uint64_t dead_lettered = 0;
  // dlq
  uint64_t dlq_records = 0;
  int64_t dlq_last_dead_lettered_offset = -1;
  // resilience
  int64_t last_skip_offset = -1;
  uint64_t records_skipped = 0;
  uint64_t bytes_skipped = 0;
  uint64_t recovery_truncated_bytes = 0;
  uint64_t recovery_data_loss_bytes = 0;
  std::vector<GroupRow> consumers;
  MetricsView metrics;
};

// InvalidArgument unless `body` is an /admin object with schema_version 1 and the "log" and
// "consumers" members every v1 broker sends. Missing optional fields read as zero.
Result<LiveSnapshot> ParseAdmin(std::string_view body);

// Prometheus text. Never fails: unknown lines are ignored; present is set when any
// ironbus_ sample was read.
MetricsView ParseMetrics(std::string_view text);

// Quantile q (0..1) of a cumulative histogram, interpolated inside the bucket the way
// Prometheus' histogram_quantile does. nullopt when the histogram is empty. A rank that falls in
// +Inf returns the highest finite bound (the histogram cannot say more).
std::optional<double> HistogramQuantile(const std::vector<double>& bounds, const std::vector<uint64_t>& cumulative,
                                        double q);

struct Rates {
  bool valid = false;  // false on the first poll, after a broker restart, or elapsed <= 0
  double elapsed_s = 0;
  double produced_per_s = 0;
  double produced_mb_per_s = 0;  // producer-logical bytes, 1 MB = 1e6 bytes; needs /metrics
  bool bytes_valid = false;
  double delivered_per_s = 0;
  double acks_per_s = 0;
  // fsync latency over the window (or since the broker started when there is no window).
  bool fsync_since_start = true;
  uint64_t fsyncs = 0;
  std::optional<double> fsync_p50_s;
  std::optional<double> fsync_p99_s;
};

// `prev` is the previous poll (nullptr on the first), `elapsed_s` the time between the two.
Rates ComputeRates(const LiveSnapshot* prev, const LiveSnapshot& cur, double elapsed_s);

// The ironbus.cli.top.v1 live object (spec 10.1 fields, plus optional extras), ok/exit_code 0.
nlohmann::json LiveJson(const LiveSnapshot& s, const Rates& rates, const std::string& source);

// What the offline view knows: file-derived only.
struct OfflineSnapshot {
  std::string data_dir;
  uint64_t segment_count = 0;
  uint64_t durable_head = 0;
  uint64_t earliest_retained = 0;
  uint64_t record_count = 0;
  uint64_t record_bytes = 0;
  bool frozen = false;  // recovery would open it frozen (loss over a cap)
  std::string frozen_reason;
  uint64_t loss_events = 0;
  uint64_t loss_bytes = 0;             // data-loss bytes (torn tails excluded)
  uint64_t torn_tail_bytes = 0;
  uint64_t loss_records_estimate = 0;
  uint64_t quarantine_blobs = 0;
  uint64_t quarantine_bytes = 0;
};

nlohmann::json OfflineJson(const OfflineSnapshot& s);

}  // namespace ironbus::cli::top
