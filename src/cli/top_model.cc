#include "cli/top_model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

namespace ironbus::cli::top {
namespace {

using nlohmann::json;

// /admin numbers are unsigned, but a hand-written or future object may hold a negative or a
// float: read any number, clamp, never throw.
uint64_t U64(const json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  if (it == obj.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()));
  if (it->is_number_float()) {
    const double d = it->get<double>();
    return d > 0 && d < 1.8e19 ? static_cast<uint64_t>(d) : 0;
  }
  return 0;
}

int64_t I64(const json& obj, const char* key, int64_t fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return fallback;
  if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? fallback : static_cast<int64_t>(u);
  }
  return it->get<int64_t>();
}

std::string Str(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool Bool(const json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

const json& Member(const json& obj, const char* key) {
  static const json kEmpty = json::object();
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

// A Prometheus sample value as a non-negative integer ("12", "0.000", "+Inf" -> 0).
uint64_t SampleValue(std::string_view v) {
  const std::string s(v);
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(d) || d <= 0) return 0;
  return d >= 1.8e19 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(d);
}

// The value of label `label` in `{a="x",b="y"}`, or "" (label values here never hold quotes).
std::string_view LabelValue(std::string_view labels, std::string_view label) {
  const std::string needle = std::string(label) + "=\"";
  const size_t at = labels.find(needle);
  if (at == std::string_view::npos) return {};
  const size_t start = at + needle.size();
  const size_t end = labels.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : labels.substr(start, end - start);
}

// Shed counters that mean a message was refused or dropped. The retry budget only defers a
// redelivery (never drops), so it is not a shed here.
bool IsDroppingShed(std::string_view name) {
  if (name == "ironbus_retry_shed_total") return false;
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  return ends_with("_shed_total") || ends_with("_sheds_total");
}

uint64_t SatSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

}  // namespace

Result<LiveSnapshot> ParseAdmin(std::string_view body) {
  const json admin = json::parse(body.begin(), body.end(), nullptr, false);
  if (admin.is_discarded() || !admin.is_object()) return Status::InvalidArgument("/admin is not a JSON object");
  if (I64(admin, "schema_version", 0) != 1) return Status::InvalidArgument("/admin is not schema_version 1");
  if (!admin.contains("log") || !admin.contains("consumers") || !admin["consumers"].is_array()) {
    return Status::InvalidArgument("/admin has no log or consumers");
  }
  const json& log = Member(admin, "log");
  const json& broker = Member(admin, "broker");
  const json& segments = Member(admin, "segments");
  const json& resilience = Member(admin, "resilience");
  const json& recovery = Member(admin, "recovery");
  const json& dlq = Member(admin, "dlq");

  LiveSnapshot s;
  s.version = Str(admin, "version");
  if (auto it = admin.find("uptime_s"); it != admin.end() && it->is_number()) s.uptime_s = it->get<double>();
  s.frozen = Bool(log, "frozen") || Bool(resilience, "frozen");
  s.frozen_reason = Str(log, "frozen_reason");
  s.durability = Str(log, "durability");
  s.connections_open = U64(broker, "connections_open");
  // "segments" is the spec's spelling; "log" is what every v1 broker also sends.
  s.durable_head = segments.contains("head_offset") ? U64(segments, "head_offset") : U64(log, "head_offset");
  s.earliest_retained = segments.contains("earliest_retained_offset") ? U64(segments, "earliest_retained_offset")
                                                                      : U64(log, "first_offset");
  s.segment_count = segments.contains("count") ? U64(segments, "count") : U64(log, "segments");
  s.durable_record_count =
      segments.contains("durable_record_count") ? U64(segments, "durable_record_count") : U64(log, "records");
  s.durable_record_bytes =
      segments.contains("durable_record_bytes") ? U64(segments, "durable_record_bytes") : U64(log, "bytes");
  s.committed = U64(broker, "committed_offset");
  s.consumer_lag = U64(broker, "consumer_lag");
  s.produced = U64(broker, "produced");
  s.delivered = U64(broker, "delivered");
  s.redelivered = U64(broker, "redelivered");
  s.acks = U64(broker, "acks");
  s.dead_lettered = U64(broker, "dead_lettered");
  s.dlq_records = U64(dlq, "records");
  s.dlq_last_dead_lettered_offset = I64(dlq, "last_dead_lettered_offset", -1);
  s.last_skip_offset = I64(resilience, "last_skip_offset", -1);
  s.records_skipped = U64(resilience, "records_skipped");
  s.bytes_skipped = U64(resilience, "bytes_skipped");
  s.recovery_truncated_bytes = U64(resilience, "recovery_truncated_bytes");
  s.recovery_data_loss_bytes = U64(recovery, "data_loss_bytes");
  for (const json& g : admin["consumers"]) {
    if (!g.is_object()) continue;
    s.consumers.push_back({Str(g, "name"), U64(g, "committed_offset"), U64(g, "consumer_lag"), U64(g, "in_flight")});
  }
  return s;
}

MetricsView ParseMetrics(std::string_view text) {
  MetricsView m;
  std::map<double, uint64_t> buckets;  // finite le -> cumulative
  uint64_t inf_bucket = 0;
  std::set<std::string, std::less<>> loss_reasons;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#' || line.substr(0, 8) != "ironbus_") continue;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, std::min(brace, line.find(' ')));
    const std::string_view labels =
        brace != std::string_view::npos && brace < space ? line.substr(brace, space - brace) : std::string_view{};
    const uint64_t value = SampleValue(line.substr(space + 1));
    m.present = true;
    if (name == "ironbus_produced_bytes_total") {
      m.produced_bytes = value;
    } else if (name == "ironbus_fsync_duration_seconds_bucket") {
      const std::string le(LabelValue(labels, "le"));
      if (le == "+Inf") {
        inf_bucket = value;
      } else if (!le.empty()) {
        char* end = nullptr;
        const double bound = std::strtod(le.c_str(), &end);
        if (end != le.c_str() && std::isfinite(bound)) buckets[bound] = value;
      }
    } else if (name == "ironbus_produce_rejected_total") {
      m.produce_rejected = value;
    } else if (name == "ironbus_truncations_total") {
      m.truncations = value;
    } else if (name == "ironbus_recovery_loss_records" || name == "ironbus_recovery_loss_bytes") {
      const std::string_view reason = LabelValue(labels, "reason");
      if (value > 0) loss_reasons.emplace(reason);
      if (name == "ironbus_recovery_loss_records" && reason != "torn_tail") m.lost_records += value;
    } else if (IsDroppingShed(name)) {
      m.sheds += value;
    }
  }
  m.loss_reasons = loss_reasons.size();
  if (!buckets.empty()) {
    for (const auto& [bound, count] : buckets) {
      m.fsync_bounds_s.push_back(bound);
      m.fsync_cumulative.push_back(count);
    }
    m.fsync_cumulative.push_back(std::max(inf_bucket, m.fsync_cumulative.back()));
  }
  return m;
}

std::optional<double> HistogramQuantile(const std::vector<double>& bounds, const std::vector<uint64_t>& cumulative,
                                        double q) {
  if (cumulative.size() != bounds.size() + 1 || bounds.empty()) return std::nullopt;
  const uint64_t total = cumulative.back();
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  for (size_t i = 0; i < cumulative.size(); ++i) {
    if (static_cast<double>(cumulative[i]) < rank) continue;
    if (i == bounds.size()) return bounds.back();  // in +Inf: only "above the last bound" is known
    const double lower = i == 0 ? 0.0 : bounds[i - 1];
    const double below = i == 0 ? 0.0 : static_cast<double>(cumulative[i - 1]);
    const double in_bucket = static_cast<double>(cumulative[i]) - below;
    if (in_bucket <= 0) return bounds[i];
    return lower + (bounds[i] - lower) * (rank - below) / in_bucket;
  }
  return bounds.back();
}

Rates ComputeRates(const LiveSnapshot* prev, const LiveSnapshot& cur, double elapsed_s) {
  Rates r;
  const MetricsView& m = cur.metrics;
  std::vector<uint64_t> window = m.fsync_cumulative;
  const bool restarted = prev != nullptr && (cur.produced < prev->produced || cur.delivered < prev->delivered ||
                                             cur.acks < prev->acks || cur.uptime_s < prev->uptime_s);
  if (prev != nullptr && !restarted && elapsed_s > 0) {
    r.valid = true;
    r.elapsed_s = elapsed_s;
    r.produced_per_s = static_cast<double>(cur.produced - prev->produced) / elapsed_s;
    r.delivered_per_s = static_cast<double>(cur.delivered - prev->delivered) / elapsed_s;
    r.acks_per_s = static_cast<double>(cur.acks - prev->acks) / elapsed_s;
    const MetricsView& pm = prev->metrics;
    if (m.present && pm.present && m.produced_bytes >= pm.produced_bytes) {
      r.bytes_valid = true;
      r.produced_mb_per_s = static_cast<double>(m.produced_bytes - pm.produced_bytes) / 1e6 / elapsed_s;
    }
    // Bucket deltas give the latency of this window only, not the whole run.
    if (pm.present && pm.fsync_bounds_s == m.fsync_bounds_s && pm.fsync_cumulative.size() == window.size()) {
      r.fsync_since_start = false;
      for (size_t i = 0; i < window.size(); ++i) window[i] = SatSub(window[i], pm.fsync_cumulative[i]);
    }
  }
  r.fsyncs = window.empty() ? 0 : window.back();
  r.fsync_p50_s = HistogramQuantile(m.fsync_bounds_s, window, 0.50);
  r.fsync_p99_s = HistogramQuantile(m.fsync_bounds_s, window, 0.99);
  return r;
}

nlohmann::json LiveJson(const LiveSnapshot& s, const Rates& rates, const std::string& source) {
  json consumers = json::array();
  for (const GroupRow& g : s.consumers) {
    consumers.push_back({{"name", g.name},
                         {"committed_offset", g.committed_offset},
                         {"consumer_lag", g.consumer_lag},
                         {"in_flight", g.in_flight}});
  }
  auto ms = [](const std::optional<double>& v) { return v ? json(*v * 1e3) : json(nullptr); };
  return {{"schema", "ironbus.cli.top.v1"},
          {"mode", "live"},
          {"source", source},
          {"frozen", s.frozen},
          {"durable_head", s.durable_head},
          {"committed", s.committed},
          {"earliest_retained", s.earliest_retained},
          {"segment_count", s.segment_count},
          {"durable_record_count", s.durable_record_count},
          {"durable_record_bytes", s.durable_record_bytes},
          {"produced", s.produced},
          {"produced_bytes", s.metrics.produced_bytes},
          {"delivered", s.delivered},
          {"redelivered", s.redelivered},
          {"acks", s.acks},
          {"dead_lettered", s.dead_lettered},
          {"dlq_records", s.dlq_records},
          {"dlq_last_dead_lettered_offset", s.dlq_last_dead_lettered_offset},
          {"last_skip_offset", s.last_skip_offset},
          {"records_skipped", s.records_skipped},
          {"bytes_skipped", s.bytes_skipped},
          {"consumers", consumers},
          // Optional extras (spec 1.4: adding optional fields keeps v1).
          {"version", s.version},
          {"uptime_s", s.uptime_s},
          {"metrics_present", s.metrics.present},
          {"produce_rejected", s.metrics.produce_rejected},
          {"sheds", s.metrics.sheds},
          {"fsync_since_start", rates.fsync_since_start},
          {"fsync_p50_ms", ms(rates.fsync_p50_s)},
          {"fsync_p99_ms", ms(rates.fsync_p99_s)},
          {"ok", true},
          {"exit_code", 0}};
}

nlohmann::json OfflineJson(const OfflineSnapshot& s) {
  return {{"schema", "ironbus.cli.top.v1"},
          {"mode", "offline"},
          {"source", s.data_dir},
          {"segment_count", s.segment_count},
          {"durable_head", s.durable_head},
          {"loss_events", s.loss_events},
          {"loss_bytes", s.loss_bytes},
          {"loss_records_estimate", s.loss_records_estimate},
          {"quarantine_blobs", s.quarantine_blobs},
          {"quarantine_bytes", s.quarantine_bytes},
          // Optional extras.
          {"earliest_retained", s.earliest_retained},
          {"durable_record_count", s.record_count},
          {"durable_record_bytes", s.record_bytes},
          {"torn_tail_bytes", s.torn_tail_bytes},
          {"frozen", s.frozen},
          {"ok", true},
          {"exit_code", 0}};
}

}  // namespace ironbus::cli::top
