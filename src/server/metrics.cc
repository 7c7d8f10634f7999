// Rendering follows the exposition format 0.0.4 by hand: families are written one at a time, so
// samples of a family are contiguous by construction.
#include "server/metrics.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace ironbus::server {
namespace {

constexpr recovery::LossReason kAllReasons[] = {
    recovery::LossReason::kTornTail,         recovery::LossReason::kCorruptRecordHeader,
    recovery::LossReason::kCorruptRecordBody, recovery::LossReason::kCorruptSegmentHeader,
    recovery::LossReason::kSequenceGap,      recovery::LossReason::kScrubberSuspect,
    recovery::LossReason::kUnresolvedDictId, recovery::LossReason::kUnknownKeyId,
    recovery::LossReason::kAeadTagMismatch,
};

std::string_view DurabilityName(storage::Durability d) {
  switch (d) {
    case storage::Durability::kSync:
      return "sync";
    case storage::Durability::kInterval:
      return "interval";
    default:
      return "none";
  }
}

struct Label {
  std::string_view name;
  std::string_view value;
};

class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // our own constant text: no backslash or newline to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(std::string_view name, std::string_view value, std::initializer_list<Label> labels = {}) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const Label& l : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += l.name;
        out_ += "=\"";
        out_ += EscapeLabelValue(l.value);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void Sample(std::string_view name, uint64_t v, std::initializer_list<Label> labels = {}) {
    Sample(name, std::to_string(v), labels);
  }
  void SampleSigned(std::string_view name, int64_t v, std::initializer_list<Label> labels = {}) {
    Sample(name, std::to_string(v), labels);
  }
  void SampleDouble(std::string_view name, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    Sample(name, std::string_view(buf));
  }
  // One unlabelled sample family.
  void Counter(std::string_view name, std::string_view help, uint64_t v) {
    Family(name, "counter", help);
    Sample(name, v);
  }
  void Gauge(std::string_view name, std::string_view help, uint64_t v) {
    Family(name, "gauge", help);
    Sample(name, v);
  }
  void GaugeSigned(std::string_view name, std::string_view help, int64_t v) {
    Family(name, "gauge", help);
    SampleSigned(name, v);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

const GroupMetrics* DefaultGroup(const MetricsSnapshot& s) {
  for (const GroupMetrics& g : s.groups) {
    if (g.name.empty()) return &g;
  }
  return nullptr;
}

template <typename F>
uint64_t SumGroups(const MetricsSnapshot& s, F field) {
  uint64_t total = 0;
  for (const GroupMetrics& g : s.groups) total += field(g);
  return total;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

LossMetrics LossMetricsFrom(const recovery::LossReport* report) {
  LossMetrics m;
  for (recovery::LossReason r : kAllReasons) {
    m.bytes_by_reason[std::string(recovery::LossReasonMetricLabel(r))] = 0;
    m.records_by_reason[std::string(recovery::LossReasonMetricLabel(r))] = 0;
  }
  if (report == nullptr) return m;
  const recovery::LossTotals totals = report->Totals();
  m.truncated_bytes = totals.total_bytes_skipped;
  m.data_loss_bytes = totals.data_loss_bytes;
  m.records_skipped = totals.records_lost;
  m.bytes_skipped = totals.total_bytes_skipped;
  for (const recovery::LossEvent& e : report->events) {
    const std::string label(recovery::LossReasonMetricLabel(e.reason));
    m.bytes_by_reason[label] += e.bytes_skipped();
    m.records_by_reason[label] += e.records_lost_estimate;
    if (e.end_lost_offset > e.first_lost_offset) {
      m.last_skip_offset = std::max<int64_t>(m.last_skip_offset, static_cast<int64_t>(e.end_lost_offset - 1));
    }
  }
  return m;
}

MetricsSnapshot CollectMetrics(const MetricsSources& src) {
  MetricsSnapshot s;
  s.version = src.version;
  s.start_time_unix_s = src.start_time_unix_s;
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - src.started).count();
  s.max_connections = src.max_connections;
  s.shutting_down = src.shutting_down && src.shutting_down();
  s.loss = LossMetricsFrom(src.loss_report);
  // Order matters for consistency within one scrape: producer counters are read before the log
  // head (an ack follows durability, so produced <= flushed holds in every snapshot).
  if (src.appender != nullptr) {
    s.appender = src.appender->stats();
    s.append_queue_depth = src.appender->queued();
    s.append_queue_capacity = src.appender->capacity();
  }
  if (src.broker != nullptr) s.broker = src.broker->stats();
  if (src.log != nullptr) {
    s.log = src.log->stats();
    s.writer_healthy = !src.log->frozen();
    if (!s.writer_healthy) s.frozen_reason = src.log->frozen_status().message();
    s.durability = std::string(DurabilityName(src.log->options().durability));
    s.at_capacity = src.log->at_capacity();
    s.capacity = src.log->capacity();
    s.retention = src.log->retention();
    s.total_record_bytes = src.log->total_record_bytes();
    if (Result<uint64_t> free_bytes = src.log->AvailableBytesNow(); free_bytes.ok()) s.disk_free_bytes = *free_bytes;
  } else {
    s.recovered = false;
  }
  if (src.groups != nullptr && src.groups->dlq() != nullptr) s.dlq_records = src.groups->dlq()->record_count();
  if (src.broker != nullptr) {
    auto group_stats = src.broker->GroupStatsSnapshot(src.group_stats_timeout);
    s.groups_complete = !group_stats.empty();
    for (auto& [name, gs] : group_stats) {
      GroupMetrics g;
      g.name = name;
      g.mode = gs.mode == queue::GroupMode::kBroadcast   ? "broadcast"
               : gs.mode == queue::GroupMode::kKeyShared ? "key_shared"
                                                         : "competing";
      g.committed_offset = gs.committed;
      g.lag = s.log.durable_offset > gs.committed ? s.log.durable_offset - gs.committed : 0;
      g.in_flight = gs.leases;
      g.members = gs.members;
      g.delivered = gs.delivered;
      g.redelivered = gs.redelivered;
      g.acks = gs.acks;
      g.nacks = gs.nacks;
      g.dead_lettered = gs.dead_lettered;
      g.last_dead_lettered_offset = gs.last_dead_lettered_offset;
      g.truncations = gs.truncations;
      g.truncated_records = gs.truncated_records;
      g.checkpoint_failures = gs.checkpoint_failures;
      s.groups.push_back(std::move(g));
    }
    std::sort(s.groups.begin(), s.groups.end(),
              [](const GroupMetrics& a, const GroupMetrics& b) { return a.name < b.name; });
  }
  return s;
}

Readiness CheckReadiness(const MetricsSnapshot& s) {
  if (!s.recovered) return {false, "not recovered"};
  if (!s.writer_healthy) return {false, "writer frozen: " + s.frozen_reason};
  if (s.shutting_down) return {false, "shutting down"};
  if (s.max_connections > 0 && s.broker.connections_open >= s.max_connections) {
    return {false, "connection cap reached (" + std::to_string(s.broker.connections_open) + " of " +
                       std::to_string(s.max_connections) + ")"};
  }
  if (s.at_capacity) {
    // Under drop-oldest the log frees room itself; this stays set only when nothing could go.
    return {false, "at capacity (" + std::to_string(s.total_record_bytes) + " record bytes, max_total_bytes " +
                       std::to_string(s.capacity.max_total_bytes) + "; " + std::to_string(s.disk_free_bytes) +
                       " bytes free, min_free_bytes " + std::to_string(s.capacity.min_free_bytes) + ")"};
  }
  if (s.append_queue_capacity > 0 && s.append_queue_depth >= s.append_queue_capacity) {
    return {false, "append queue full (" + std::to_string(s.append_queue_depth) + " of " +
                       std::to_string(s.append_queue_capacity) + ")"};
  }
  return {true, "ready"};
}

std::string RenderPrometheus(const MetricsSnapshot& s) {
  Exposition e;
  const GroupMetrics* def = DefaultGroup(s);
  const uint64_t produced = s.appender.records != 0 ? s.appender.records : s.broker.publishes_acked;

  // Throughput and delivery.
  e.Counter("ironbus_produced_total", "Records appended.", produced);
  e.Counter("ironbus_produced_bytes_total", "Producer-logical bytes appended (key + headers + payload, as sent).",
            s.appender.record_bytes);
  // From the same per-group snapshot as the acks, so delivered >= acks in every scrape.
  e.Counter("ironbus_delivered_total", "Deliveries handed out (a redelivery counts again).",
            s.groups_complete ? SumGroups(s, [](const GroupMetrics& g) { return g.delivered; }) : s.broker.delivered);
  e.Counter("ironbus_redelivered_total", "Deliveries that were redeliveries after a lease expired or a nack.",
            SumGroups(s, [](const GroupMetrics& g) { return g.redelivered; }));
  e.Counter("ironbus_acks_total", "Commits by ack (term commits through the same path).",
            SumGroups(s, [](const GroupMetrics& g) { return g.acks; }));
  e.Counter("ironbus_fetches_total", "Flow and Fetch requests served.", s.broker.fetches);
  e.Counter("ironbus_groups_evicted_total", "Idle named groups dropped from memory (group_idle_evict_ms).",
            s.broker.groups_evicted);

  // Loss, shed and skip.
  e.Counter("ironbus_produce_rejected_total", "Produces refused with an error (nothing written).",
            s.broker.publishes_refused);
  e.Counter("ironbus_codel_backstop_shed_total", "New produces shed because the append queue stayed full.",
            s.broker.publishes_shed);
  e.Counter("ironbus_dead_lettered_total", "Messages parked after max_deliver.",
            SumGroups(s, [](const GroupMetrics& g) { return g.dead_lettered; }));
  e.Counter("ironbus_dlq_records_total", "Records in the DLQ sink (found at open plus appended since).",
            s.dlq_records);
  e.Counter("ironbus_truncations_total", "Consumer cursors moved up past records retention removed.",
            SumGroups(s, [](const GroupMetrics& g) { return g.truncations; }));
  e.Counter("ironbus_truncated_records_total", "Records skipped by those truncations.",
            SumGroups(s, [](const GroupMetrics& g) { return g.truncated_records; }));

  // fdatasync latency: the spec's fixed buckets, cumulative as Prometheus wants them.
  auto sync_histogram = [&](std::string_view name, std::string_view help) {
    e.Family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < storage::kSyncBucketBoundsNs.size(); ++i) {
      cumulative += s.appender.sync_buckets[i];
      char le[32];
      std::snprintf(le, sizeof le, "%g", static_cast<double>(storage::kSyncBucketBoundsNs[i]) / 1e9);
      e.Sample(bucket, cumulative, {{"le", le}});
    }
    cumulative += s.appender.sync_buckets.back();
    e.Sample(bucket, cumulative, {{"le", "+Inf"}});
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.9f", static_cast<double>(s.appender.sync_nanos) / 1e9);
    e.Sample(std::string(name) + "_sum", std::string_view(sum));
    e.Sample(std::string(name) + "_count", cumulative);
  };
  sync_histogram("ironbus_fsync_duration_seconds", "The fdatasync behind a durable ack (batch and interval syncs).");
  sync_histogram("ironbus_fsync_seconds", "Deprecated: the same as ironbus_fsync_duration_seconds.");

  // Edge resources: flash wear.
  e.Counter("ironbus_fsyncs_total", "fdatasyncs the appender issued.", s.appender.syncs);
  e.Counter("ironbus_append_batches_total", "Group-commit batches that appended at least one record.",
            s.appender.batches);
  e.Gauge("ironbus_append_queue_depth", "Produce requests queued for the appender.", s.append_queue_depth);
  e.Gauge("ironbus_produce_saturated", "1 once any produce has been shed or refused.",
          (s.broker.publishes_shed + s.broker.publishes_refused) > 0 ? 1 : 0);

  // Capacity: the byte cap, the free-disk watermark and what the disk-full policy did.
  e.Gauge("ironbus_at_capacity", "1 while publishes are refused (or held) at the byte cap or free-disk watermark.",
          s.at_capacity ? 1 : 0);
  e.Gauge("ironbus_log_bytes", "Record bytes the log holds (what max_total_bytes counts).", s.total_record_bytes);
  e.Gauge("ironbus_max_total_bytes", "The byte cap in effect (0 = unlimited).", s.capacity.max_total_bytes);
  e.Gauge("ironbus_disk_free_bytes", "Bytes available on the data directory's file system.", s.disk_free_bytes);
  e.Gauge("ironbus_min_free_bytes", "The free-disk watermark in effect (0 = off).", s.capacity.min_free_bytes);
  e.Counter("ironbus_produce_at_capacity_total", "Produces refused at capacity (byte cap, watermark, ENOSPC).",
            s.appender.refused_at_capacity);
  e.Counter("ironbus_segments_reaped_total", "Segments deleted by retention and at the cap (force-reaped included).",
            s.appender.segments_reaped);
  e.Counter("ironbus_segments_force_reaped_total",
            "Unconsumed segments deleted by drop-oldest at the cap (data loss by policy).",
            s.appender.segments_force_reaped);
  e.Counter("ironbus_force_reaped_records_total", "Records in those force-reaped segments.",
            s.appender.records_force_reaped);
  e.Counter("ironbus_produce_holds_total", "Publishes held at the cap under disk_full_policy block.",
            s.appender.holds);
  e.Counter("ironbus_produce_hold_timeouts_total", "Held publishes refused after block_timeout_ms.",
            s.appender.hold_timeouts);

  // Connections.
  e.Gauge("ironbus_connections_open", "Client connections open now.", s.broker.connections_open);
  e.Family("ironbus_connections_total", "counter", "Client connections by outcome.");
  e.Sample("ironbus_connections_total", s.broker.connections_accepted, {{"state", "accepted"}});
  e.Sample("ironbus_connections_total", s.broker.connections_refused, {{"state", "refused"}});
  e.Family("ironbus_connections_closed_total", "counter", "Connections the broker closed, by reason.");
  e.Sample("ironbus_connections_closed_total", s.broker.framing_errors, {{"reason", "framing_error"}});
  e.Sample("ironbus_connections_closed_total", s.broker.idle_closed, {{"reason", "idle"}});
  e.Sample("ironbus_connections_closed_total", s.broker.slow_closed, {{"reason", "slow_reader"}});
  e.Sample("ironbus_connections_closed_total", s.broker.handshake_timeouts, {{"reason", "handshake_timeout"}});
  e.Family("ironbus_tls_handshakes_total", "counter", "TLS handshakes by result (0 when TLS is off).");
  e.Sample("ironbus_tls_handshakes_total", s.broker.tls_handshakes, {{"result", "ok"}});
  e.Sample("ironbus_tls_handshakes_total", s.broker.tls_handshake_failures, {{"result", "failed"}});
  // spec/security.md 4: every refusal at accept, by reason (the global cap included).
  e.Family("ironbus_connections_rejected_total", "counter", "Connections refused at accept, by reason.");
  e.Sample("ironbus_connections_rejected_total", s.broker.connections_refused, {{"reason", "max_connections"}});
  e.Sample("ironbus_connections_rejected_total", s.broker.preauth_rate_limited, {{"reason", "rate_limited"}});
  e.Sample("ironbus_connections_rejected_total", s.broker.preauth_half_open_cap, {{"reason", "half_open_cap"}});
  e.Sample("ironbus_connections_rejected_total", s.broker.preauth_locked_out, {{"reason", "locked_out"}});
  e.Gauge("ironbus_preauth_connections", "Connections accepted and not yet authenticated (pre-auth defences on).",
          s.broker.preauth_half_open);
  e.Family("ironbus_authentications_total", "counter", "Connect authentications by result (0 without --auth-config).");
  e.Sample("ironbus_authentications_total", s.broker.auth_successes, {{"result", "success"}});
  e.Sample("ironbus_authentications_total", s.broker.auth_failures, {{"result", "failure"}});
  e.Counter("ironbus_authz_denials_total", "Verbs refused for lack of scope (the connection is closed).",
            s.broker.authz_denials);

  // Core gauges.
  e.Gauge("ironbus_flushed_offset", "Durable log head.", s.log.durable_offset);
  e.Gauge("ironbus_committed_offset", "Default group's committed cursor.", def ? def->committed_offset : 0);
  e.Gauge("ironbus_consumer_lag", "Durable head minus the default group's commit.", def ? def->lag : 0);
  e.Gauge("ironbus_in_flight", "Default group's leased, unacked messages.", def ? def->in_flight : 0);
  e.Gauge("ironbus_writer_healthy", "1 live, 0 frozen (produces refused).", s.writer_healthy ? 1 : 0);
  int64_t last_dead = -1;
  for (const GroupMetrics& g : s.groups) last_dead = std::max(last_dead, g.last_dead_lettered_offset);
  e.GaugeSigned("ironbus_last_dead_lettered_offset", "Last dead-lettered offset, -1 if none.", last_dead);

  auto per_group = [&](std::string_view name, std::string_view type, std::string_view help, auto field) {
    e.Family(name, type, help);
    for (const GroupMetrics& g : s.groups) e.Sample(name, field(g), {{"group", g.name}});
  };
  per_group("ironbus_group_committed_offset", "gauge", "Committed cursor per group (default group is group=\"\").",
            [](const GroupMetrics& g) { return g.committed_offset; });
  per_group("ironbus_group_consumer_lag", "gauge", "Durable head minus the group's commit.",
            [](const GroupMetrics& g) { return g.lag; });
  per_group("ironbus_group_in_flight", "gauge", "Leased, unacked messages per group.",
            [](const GroupMetrics& g) { return g.in_flight; });
  per_group("ironbus_group_members", "gauge", "Connections subscribed to the group.",
            [](const GroupMetrics& g) { return g.members; });
  per_group("ironbus_group_delivered_total", "counter", "Deliveries per group (a redelivery counts again).",
            [](const GroupMetrics& g) { return g.delivered; });
  per_group("ironbus_group_redelivered_total", "counter", "Redeliveries per group.",
            [](const GroupMetrics& g) { return g.redelivered; });
  per_group("ironbus_group_dead_lettered_total", "counter", "Messages dead-lettered per group.",
            [](const GroupMetrics& g) { return g.dead_lettered; });

  // Recovery and loss (this start's recovery report).
  e.Gauge("ironbus_recovery_truncated_bytes", "Bytes dropped at the last recovery, torn tails included.",
          s.loss.truncated_bytes);
  e.Gauge("ironbus_recovery_data_loss_bytes", "Bytes of previously durable data lost at the last recovery.",
          s.loss.data_loss_bytes);
  e.Family("ironbus_recovery_loss_bytes", "gauge", "Bytes dropped at the last recovery, per reason.");
  for (const auto& [reason, v] : s.loss.bytes_by_reason) e.Sample("ironbus_recovery_loss_bytes", v, {{"reason", reason}});
  e.Family("ironbus_recovery_loss_records", "gauge", "Records lost at the last recovery (estimate), per reason.");
  for (const auto& [reason, v] : s.loss.records_by_reason) {
    e.Sample("ironbus_recovery_loss_records", v, {{"reason", reason}});
  }
  e.Gauge("ironbus_records_skipped", "Records lost to skips at the last recovery.", s.loss.records_skipped);
  e.Gauge("ironbus_bytes_skipped", "Bytes skipped at the last recovery.", s.loss.bytes_skipped);
  e.GaugeSigned("ironbus_last_skip_offset", "Highest offset any skip reached, -1 if none.", s.loss.last_skip_offset);

  // Log shape.
  e.Gauge("ironbus_segment_count", "Segments in the log.", s.log.segment_count);
  e.Gauge("ironbus_durable_record_bytes", "Readable record bytes retained in the log.", s.log.record_bytes);

  // Durability posture.
  e.Family("ironbus_durability_level_info", "gauge", "Always 1; the label is the active durability level.");
  e.Sample("ironbus_durability_level_info", uint64_t{1}, {{"level", s.durability}});
  e.Gauge("ironbus_durability_power_loss_unsafe", "1 under a relaxed durability level.",
          s.durability == "sync" ? 0 : 1);

  // Self.
  e.Family("ironbus_build_info", "gauge", "Always 1; the label is the build version.");
  e.Sample("ironbus_build_info", uint64_t{1}, {{"version", s.version}});
  e.GaugeSigned("ironbus_start_time_seconds", "Unix time the broker started.", s.start_time_unix_s);
  e.Family("ironbus_uptime_seconds", "gauge", "Seconds since start (monotonic).");
  e.SampleDouble("ironbus_uptime_seconds", s.uptime_s);
  return e.Take();
}

}  // namespace ironbus::server
