// Metrics: a point-in-time snapshot of the broker's counters and gauges, rendered in the
// Prometheus text exposition format 0.0.4 (spec/cli-config-ops.md 6.1-6.2; docs/metrics.md lists
// every exported family and the catalogue entries not exported yet).
//
// CollectMetrics reads only counters the broker maintains incrementally (BrokerStats,
// AppenderStats, LogStats, per-group GroupStats from the queue thread, the recovery report):
// scraping never walks the log or the disk. RenderPrometheus is pure: the same snapshot gives the
// same text, every family has # HELP and # TYPE, samples of a family are contiguous, counters end
// in _total, label values are escaped; every family is emitted even when zero (per-group
// families need at least the default group, which always exists while the broker runs).
//
// Readiness (/readyz, spec 3.6) is a function of the snapshot too: CheckReadiness says ready, or
// the first reason it is not (not recovered, writer frozen, shutting down, a cap reached).
//
// Thread safety: CollectMetrics may run on any thread but an io thread of the broker (it waits
// up to group_stats_timeout for the queue thread). The sources must outlive every call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "recovery/loss_report.h"
#include "server/broker.h"
#include "storage/appender.h"
#include "storage/log.h"

namespace ironbus::server {

struct GroupMetrics {
  std::string name;  // "" = the default group
  std::string mode;  // "competing" | "key_shared" | "broadcast" (the /admin JSON)
  uint64_t committed_offset = 0;
  uint64_t lag = 0;        // durable head - committed, 0 when committed is ahead
  uint64_t in_flight = 0;  // leased, unacked
  uint64_t members = 0;
  uint64_t delivered = 0;
  uint64_t redelivered = 0;
  uint64_t acks = 0;
  uint64_t nacks = 0;
  uint64_t dead_lettered = 0;
  int64_t last_dead_lettered_offset = -1;
  uint64_t truncations = 0;
  uint64_t truncated_records = 0;
  uint64_t checkpoint_failures = 0;
};

struct LossMetrics {
  uint64_t truncated_bytes = 0;  // torn tails included
  uint64_t data_loss_bytes = 0;  // torn tails excluded
  uint64_t records_skipped = 0;
  uint64_t bytes_skipped = 0;
  int64_t last_skip_offset = -1;
  std::map<std::string, uint64_t> bytes_by_reason;    // every reason label, zero when none
  std::map<std::string, uint64_t> records_by_reason;
};

struct MetricsSnapshot {
  // Writer and log.
  bool recovered = true;
  bool writer_healthy = true;
  std::string frozen_reason;  // why not healthy
  bool shutting_down = false;
  std::string durability;     // "sync" | "interval" | "none"
  storage::LogStats log;
  // Capacity (the byte cap and the free-disk watermark, storage::CapacityOptions).
  bool at_capacity = false;
  storage::CapacityOptions capacity;
  storage::RetentionOptions retention;
  uint64_t total_record_bytes = 0;  // what the byte cap counts (appended, unsynced included)
  uint64_t disk_free_bytes = 0;     // statvfs of the data dir at the scrape
  // Broker front end and appender.
  BrokerStats broker;
  size_t max_connections = 0;  // 0 = unknown (no cap check)
  storage::AppenderStats appender;
  size_t append_queue_depth = 0;
  size_t append_queue_capacity = 0;
  // Consumers.
  std::vector<GroupMetrics> groups;  // sorted by name; the default group first
  bool groups_complete = true;       // false when the queue thread did not answer in time
  uint64_t dlq_records = 0;
  // Recovery.
  LossMetrics loss;
  // Self.
  std::string version;
  int64_t start_time_unix_s = 0;
  double uptime_s = 0;
};

struct MetricsSources {
  storage::Log* log = nullptr;            // required
  storage::Appender* appender = nullptr;  // optional
  Broker* broker = nullptr;               // optional
  queue::Groups* groups = nullptr;        // optional (dlq depth)
  const recovery::LossReport* loss_report = nullptr;  // optional: the report of this start's recovery
  size_t max_connections = 0;
  std::string version;
  int64_t start_time_unix_s = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::function<bool()> shutting_down;  // optional
  std::chrono::milliseconds group_stats_timeout{500};
};

MetricsSnapshot CollectMetrics(const MetricsSources& sources);
// Every loss-report total, per reason too (LossReasonMetricLabel), zero-filled.
LossMetrics LossMetricsFrom(const recovery::LossReport* report);
std::string RenderPrometheus(const MetricsSnapshot& snapshot);

struct Readiness {
  bool ready = true;
  std::string reason;  // "ready", or why not (the /readyz body)
};
Readiness CheckReadiness(const MetricsSnapshot& snapshot);

// Prometheus label-value escaping: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace ironbus::server
