#include "cli/top_render.h"

#include <cstdio>

namespace ironbus::cli::top {
namespace {

// Group names and error texts come from the broker or the network: control bytes or UTF-8
// would break the column arithmetic (and could drive the terminal), so show them as '?'.
std::string Printable(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  return out;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Ms(const std::optional<double>& seconds) {
  if (!seconds) return "-";
  return Fixed(*seconds * 1e3, *seconds < 0.01 ? 2 : 1) + "ms";
}

std::string N(uint64_t v) { return std::to_string(v); }
std::string N(int64_t v) { return std::to_string(v); }

// Collects lines, cutting each to the width (a cut line ends in '>' so it is visibly cut).
class Lines {
 public:
  explicit Lines(size_t width) : width_(width) {}
  void Add(std::string line) {
    if (width_ > 0 && line.size() > width_) {
      line.resize(width_);
      line.back() = '>';
    }
    lines_.push_back(std::move(line));
  }
  std::vector<std::string>& lines() { return lines_; }

 private:
  size_t width_;
  std::vector<std::string> lines_;
};

std::string Throughput(const Rates& r) {
  if (!r.valid) return "msgs/s=- MB/s=- (rates need two polls)";
  return "msgs/s=" + Fixed(r.produced_per_s, 1) + " MB/s=" + (r.bytes_valid ? Fixed(r.produced_mb_per_s, 3) : "-") +
         " deliv/s=" + Fixed(r.delivered_per_s, 1) + " acks/s=" + Fixed(r.acks_per_s, 1);
}

// A line of its own: with big rates the two would not fit in 80 columns together.
std::string Fsync(const Rates& r, const LiveSnapshot& s) {
  if (!s.metrics.present) return "fsync: - (no /metrics)";
  if (r.fsyncs == 0) return r.fsync_since_start ? "fsync: none yet" : "fsync: none in window";
  return "fsync p50=" + Ms(r.fsync_p50_s) + " p99=" + Ms(r.fsync_p99_s) + " over " + N(r.fsyncs) + " fsyncs" +
         (r.fsync_since_start ? " (since start)" : "");
}

}  // namespace

std::string GroupLabel(const std::string& name) { return name.empty() ? "(default)" : Printable(name); }

std::vector<std::string> RenderLive(const LiveView& v, size_t width, size_t height) {
  Lines out(width);
  out.Add("ironbus top -- LIVE (broker /admin v1 at " + Printable(v.addr) + ")");
  if (!v.reachable) {
    // The facts first (unreachable, retrying, how old the data is); the cause may be cut.
    std::string status = "status: broker unreachable, retrying every " + std::to_string(v.interval_s) + "s";
    if (v.snapshot) status += ", data " + std::to_string(static_cast<uint64_t>(v.stale_s)) + "s old";
    out.Add(status + ": " + Printable(v.error));
  } else {
    out.Add("status: ok, refresh every " + std::to_string(v.interval_s) + "s" +
            (v.rates.valid ? ", rates over the last " + Fixed(v.rates.elapsed_s, 1) + "s" : std::string()));
  }
  // The footer is always the last line; the groups get what the fixed panels leave.
  const std::string footer = v.interactive ? "read-only view: nothing is changed. q or Ctrl-C quits"
                                           : "read-only view: nothing is changed";
  if (!v.snapshot) {
    out.Add("(no data yet)");
    out.Add(footer);
    return out.lines();
  }
  const LiveSnapshot& s = *v.snapshot;
  out.Add("broker: [source: /admin broker]");
  out.Add("  ironbus " + Printable(s.version) + " up " + N(static_cast<uint64_t>(s.uptime_s)) + "s writer=" +
          (s.frozen ? "FROZEN" : "healthy") + " durability=" + Printable(s.durability) +
          " connections=" + N(s.connections_open));
  out.Add("  produced=" + N(s.produced) + " delivered=" + N(s.delivered) + " redelivered=" + N(s.redelivered) +
          " acks=" + N(s.acks) + " committed=" + N(s.committed) + " lag=" + N(s.consumer_lag));
  out.Add("log: [source: /admin segments]");
  out.Add("  head=" + N(s.durable_head) + " earliest=" + N(s.earliest_retained) + " segments=" + N(s.segment_count) +
          " records=" + N(s.durable_record_count) + " bytes=" + N(s.durable_record_bytes));
  out.Add("throughput: [source: /admin counter deltas, /metrics fsync histogram]");
  out.Add("  " + Throughput(v.rates));
  out.Add("  " + Fsync(v.rates, s));
  out.Add("dlq: [source: /admin dlq]");
  out.Add("  records=" + N(s.dlq_records) + " dead_lettered=" + N(s.dead_lettered) +
          " last_dead_lettered_offset=" + N(s.dlq_last_dead_lettered_offset));
  out.Add("resilience: [source: /admin resilience, /metrics]");
  std::string frozen = s.frozen ? "YES (" + Printable(s.frozen_reason) + ")" : "no";
  out.Add("  frozen=" + frozen + " skipped=" + N(s.records_skipped) + " records/" + N(s.bytes_skipped) +
          " bytes last_skip=" + N(s.last_skip_offset));
  if (s.metrics.present) {
    out.Add("  loss: events=" + N(s.metrics.loss_reasons) + " data_loss_bytes=" + N(s.recovery_data_loss_bytes) +
            " lost_records=" + N(s.metrics.lost_records) + " sheds: rejected=" + N(s.metrics.produce_rejected) +
            " shed=" + N(s.metrics.sheds));
  } else {
    out.Add("  loss: data_loss_bytes=" + N(s.recovery_data_loss_bytes) + " sheds: - (no /metrics)");
  }
  out.Add("consumers (per-group lag + in-flight) [source: /admin consumers]");

  // Rows left for groups: everything but the footer. When they do not all fit, the last
  // row becomes "+N more groups" so the count of hidden groups is never lost.
  size_t rows = s.consumers.size();
  if (height > 0) {
    const size_t used = out.lines().size() + 1;  // + footer
    const size_t room = height > used ? height - used : 0;
    if (rows > room) rows = room == 0 ? 0 : room - 1;
  }
  for (size_t i = 0; i < rows; ++i) {
    const GroupRow& g = s.consumers[i];
    out.Add("  " + GroupLabel(g.name) + ": committed=" + N(g.committed_offset) + " lag=" + N(g.consumer_lag) +
            " in_flight=" + N(g.in_flight));
  }
  if (s.consumers.empty()) {
    if (height == 0 || out.lines().size() + 1 < height) out.Add("  (no groups)");
  } else if (rows < s.consumers.size()) {
    if (height == 0 || out.lines().size() + 1 < height) {
      out.Add("  +" + N(static_cast<uint64_t>(s.consumers.size() - rows)) + " more groups");
    }
  }
  out.Add(footer);
  std::vector<std::string>& lines = out.lines();
  // A terminal shorter than the fixed panels: keep the top, and the footer as the last line.
  if (height > 0 && lines.size() > height) {
    lines.resize(height);
    lines.back() = width > 0 && footer.size() > width ? footer.substr(0, width) : footer;
  }
  return lines;
}

std::vector<std::string> RenderOffline(const OfflineSnapshot& s, size_t width, size_t height) {
  Lines out(width);
  out.Add("ironbus top -- OFFLINE (file-derived view of " + Printable(s.data_dir) + ")");
  out.Add("offline: a file-derived view; throughput, fsync latency and in-flight panels");
  out.Add("  do not exist offline (live view: ironbus top --admin-addr <host:port>)");
  out.Add("log: [source: segment files]");
  out.Add("  head=" + N(s.durable_head) + " earliest=" + N(s.earliest_retained) + " segments=" + N(s.segment_count) +
          " records=" + N(s.record_count) + " bytes=" + N(s.record_bytes));
  out.Add("resilience: [source: recovery dry run, loss report]");
  out.Add("  frozen=" + (s.frozen ? "YES (" + Printable(s.frozen_reason) + ")" : std::string("no")) +
          " loss_events=" + N(s.loss_events) + " loss_bytes=" + N(s.loss_bytes) +
          " torn_tail_bytes=" + N(s.torn_tail_bytes) + " loss_records_estimate=" + N(s.loss_records_estimate));
  out.Add("quarantine: [source: <data-dir>/quarantine/]");
  out.Add("  blobs=" + N(s.quarantine_blobs) + " bytes=" + N(s.quarantine_bytes));
  if (s.loss_events > 0) out.Add("  to inspect the damage: ironbus scrub --data-dir " + Printable(s.data_dir));
  out.Add("read-only view: nothing on disk is changed");
  std::vector<std::string>& lines = out.lines();
  if (height > 0 && lines.size() > height) lines.resize(height);
  return lines;
}

}  // namespace ironbus::cli::top
