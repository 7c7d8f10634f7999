#include "server/admin.h"

#include <algorithm>
#include <cctype>

namespace ironbus::server {

nlohmann::json AdminJson(const MetricsSnapshot& s) {
  using nlohmann::json;
  const uint64_t head = s.log.durable_offset;
  const GroupMetrics* def = nullptr;
  uint64_t delivered = 0, redelivered = 0, acks = 0, dead_lettered = 0;
  int64_t last_dead_lettered = -1;
  json consumers = json::array();
  for (const GroupMetrics& g : s.groups) {
    if (g.name.empty()) def = &g;
    delivered += g.delivered;
    redelivered += g.redelivered;
    acks += g.acks;
    dead_lettered += g.dead_lettered;
    last_dead_lettered = std::max(last_dead_lettered, g.last_dead_lettered_offset);
    consumers.push_back({{"name", g.name},
                         {"mode", g.mode},
                         {"committed_offset", g.committed_offset},
                         {"consumer_lag", g.lag},
                         {"in_flight", g.in_flight},
                         {"members", g.members},
                         {"delivered", g.delivered},
                         {"redelivered", g.redelivered},
                         {"acks", g.acks},
                         {"dead_lettered", g.dead_lettered}});
  }
  json out;
  out["schema_version"] = kAdminSchemaVersion;
  out["version"] = s.version;
  out["uptime_s"] = s.uptime_s;
  out["log"] = {{"head_offset", head},
                {"first_offset", s.log.first_offset},
                {"durable_offset", s.log.durable_offset},
                {"readable_offset", s.log.readable_offset},
                {"segments", s.log.segment_count},
                {"records", s.log.record_count},
                {"bytes", s.log.record_bytes},
                {"durability", s.durability},
                {"frozen", !s.writer_healthy},
                {"frozen_reason", s.frozen_reason}};
  out["broker"] = {{"flushed_offset", head},
                   {"committed_offset", def ? def->committed_offset : 0},
                   {"consumer_lag", def ? def->lag : 0},
                   {"produced", s.broker.publishes_acked},
                   {"delivered", delivered},
                   {"redelivered", redelivered},
                   {"acks", acks},
                   {"dead_lettered", dead_lettered},
                   {"healthy", s.writer_healthy},
                   {"shutting_down", s.shutting_down},
                   {"connections_open", s.broker.connections_open}};
  out["segments"] = {{"count", s.log.segment_count},
                     {"earliest_retained_offset", s.log.first_offset},
                     {"head_offset", head},
                     {"durable_record_count", s.log.record_count},
                     {"durable_record_bytes", s.log.record_bytes}};
  out["recovery"] = {{"truncated_bytes", s.loss.truncated_bytes},
                     {"data_loss_bytes", s.loss.data_loss_bytes},
                     {"records_skipped", s.loss.records_skipped},
                     {"bytes_skipped", s.loss.bytes_skipped},
                     {"last_skip_offset", s.loss.last_skip_offset}};
  out["resilience"] = {{"frozen", !s.writer_healthy},
                       {"last_skip_offset", s.loss.last_skip_offset},
                       {"records_skipped", s.loss.records_skipped},
                       {"bytes_skipped", s.loss.bytes_skipped},
                       {"recovery_truncated_bytes", s.loss.truncated_bytes}};
  out["consumers"] = consumers;
  out["groups"] = consumers;  // spec 6.3: a byte-identical copy, kept for compatibility
  out["groups_complete"] = s.groups_complete;
  out["dlq"] = {{"records", s.dlq_records}, {"last_dead_lettered_offset", last_dead_lettered}};
  out["capacity"] = {{"at_capacity", s.at_capacity},
                     {"log_bytes", s.total_record_bytes},
                     {"max_total_bytes", s.capacity.max_total_bytes},
                     {"disk_free_bytes", s.disk_free_bytes},
                     {"min_free_bytes", s.capacity.min_free_bytes},
                     {"disk_full_policy", storage::DiskFullPolicyName(s.capacity.policy)},
                     {"block_timeout_ms", s.capacity.block_timeout_ms},
                     {"refused_at_capacity", s.appender.refused_at_capacity},
                     {"segments_reaped", s.appender.segments_reaped},
                     {"segments_force_reaped", s.appender.segments_force_reaped},
                     {"holds", s.appender.holds},
                     {"hold_timeouts", s.appender.hold_timeouts}};
  // Spec 6.3 "config": the caps in effect (live keys reflect a SIGHUP reload). No secrets.
  out["config"] = {{"max_total_bytes", s.capacity.max_total_bytes},
                   {"max_retained_bytes", s.retention.max_retained_bytes},
                   {"max_age_ms", s.retention.max_age_ms},
                   {"max_messages", s.retention.max_messages},
                   {"disk_full_policy", storage::DiskFullPolicyName(s.capacity.policy)},
                   {"min_free_bytes", s.capacity.min_free_bytes}};
  return out;
}

std::string RenderAdmin(const MetricsSnapshot& snapshot) { return AdminJson(snapshot).dump() + "\n"; }

bool AdminAcceptable(std::string_view head) {
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t at = 0;
  constexpr std::string_view kPrefix = "application/vnd.ironbus.admin.";
  // Every IronBus admin media type named anywhere in the head (only Accept names one) must be v1.
  while ((at = lower.find(kPrefix, at)) != std::string::npos) {
    at += kPrefix.size();
    if (lower.compare(at, 7, "v1+json") != 0) return false;
  }
  return true;
}

}  // namespace ironbus::server
