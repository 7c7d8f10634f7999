// `serve` (spec/cli-config-ops.md section 2): opens the data directory under its exclusive
// lock, runs recovery, starts the appender (group commit) and the TCP broker, prints the
// listening address, data directory and recovery summary, and runs until SIGINT or SIGTERM;
// then it stops accepting, answers what it received, syncs, closes and exits 0.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <string>
#include <vector>

#include "cli/data_dir.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/verbs.h"
#include "format/record_format.h"
#include "io/posix_file_system.h"
#include "queue/groups.h"
#include "recovery/open_data_dir.h"
#include "server/broker.h"
#include "storage/appender.h"

namespace ironbus::cli {
namespace {

struct ServeFlags {
  std::string data_dir;
  std::string addr = "127.0.0.1:7777";
  std::string profile = "balanced";
  uint64_t max_segment_bytes = 0;  // 0 = the profile's
  std::string durability = "sync";
  int64_t flush_interval_ms = 1000;
  uint64_t flush_max_bytes = 1024 * 1024;
  bool async_loss_ack = false;
  std::string compression = "lz4";
  uint64_t max_retained_bytes = 0;
  int64_t max_age_ms = 0;
  uint64_t max_messages = 0;
  int io_threads = 2;
  size_t max_connections = 256;
  // Delivery and groups (spec/cli-config-ops.md 4.5, 4.6).
  uint64_t max_deliver = 5;
  bool allow_unlimited_deliver = false;
  std::string backoff_ms = "100,500,2000,10000,30000";
  uint64_t visibility_timeout_ms = 30'000;
  uint64_t checkpoint_interval = 1024;
  uint32_t consumer_credit = 64;
  uint64_t consumer_credit_bytes = 8ull << 20;
  uint32_t max_in_flight = 1024;
  size_t max_groups = 1024;
  std::vector<std::string> key_shared_groups;
  std::vector<std::string> broadcast_groups;
  size_t dedup_max_ids = 100'000;
  int64_t dedup_window_ms = 120'000;
  size_t dedup_max_producers = 4096;
  bool json = false;
};

// "100,500,2000" -> {100, 500, 2000}; a single 0 disables backoff.
Result<std::vector<uint64_t>> ParseBackoff(const std::string& text) {
  std::vector<uint64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 12) {
      return Status::InvalidArgument("--backoff-ms needs comma-separated integers (ms), got \"" + text + "\"");
    }
    out.push_back(std::stoull(item));
    start = comma + 1;
  }
  if (out.size() == 1 && out[0] == 0) out.clear();
  return out;
}

Result<queue::QueueOptions> QueueOptionsFrom(const ServeFlags& flags) {
  queue::QueueOptions o;
  constexpr uint64_t kUnlimitedDeliver = 4294967295ull;
  if (flags.max_deliver == 0 || flags.max_deliver == kUnlimitedDeliver) {
    if (!flags.allow_unlimited_deliver) {
      return Status::InvalidArgument("--max-deliver " + std::to_string(flags.max_deliver) +
                                     " means unlimited redelivery; pass --allow-unlimited-deliver to accept that");
    }
    o.max_deliver = 0;
    o.allow_unlimited_deliver = true;
  } else if (flags.max_deliver > kUnlimitedDeliver) {
    return Status::InvalidArgument("--max-deliver must be at most 4294967294");
  } else {
    o.max_deliver = static_cast<uint32_t>(flags.max_deliver);
  }
  ASSIGN_OR_RETURN(o.backoff_ms, ParseBackoff(flags.backoff_ms));
  if (flags.visibility_timeout_ms < 1) return Status::InvalidArgument("--visibility-timeout-ms must be at least 1");
  o.visibility_timeout_ms = flags.visibility_timeout_ms;
  o.hard_cap_ms = std::max<uint64_t>(300'000, flags.visibility_timeout_ms);
  o.checkpoint_interval = flags.checkpoint_interval;
  if (flags.max_in_flight < 1) return Status::InvalidArgument("--max-in-flight must be at least 1");
  o.max_in_flight = flags.max_in_flight;
  o.max_groups = flags.max_groups;
  o.key_shared_groups = flags.key_shared_groups;
  o.broadcast_groups = flags.broadcast_groups;
  for (const std::string& g : flags.broadcast_groups) {
    if (g.empty()) return Status::InvalidArgument("--broadcast-group: the default group can never be broadcast");
  }
  RETURN_IF_ERROR(o.Validate());
  return o;
}

int Usage(const std::string& message) {
  std::cerr << "error: " << message << '\n';
  return kExitUsage;
}

std::string Summary(const std::string& label, const storage::Log& log, const recovery::LossReport& report) {
  const auto stats = log.stats();
  const auto totals = report.Totals();
  std::string out = label + ": " + std::to_string(stats.segment_count) + " segment(s), " +
                    std::to_string(stats.record_count) + " record(s), offsets [" + std::to_string(stats.first_offset) +
                    ", " + std::to_string(stats.durable_offset) + "), " + std::to_string(report.events.size()) +
                    " loss event(s): " + std::to_string(totals.data_loss_bytes) + " byte(s) of data loss, " +
                    std::to_string(totals.torn_tail_bytes) + " torn-tail byte(s) (not data loss)";
  for (const auto& e : report.events) {
    out += "\n  segment " + std::to_string(e.segment_id) + " bytes [" + std::to_string(e.byte_offset_start) + ", " +
           std::to_string(e.byte_offset_end) + ") reason=" + std::string(recovery::LossReasonMetricLabel(e.reason));
    if (e.end_lost_offset > e.first_lost_offset) {
      out += " offsets [" + std::to_string(e.first_lost_offset) + ", " + std::to_string(e.end_lost_offset) + ")";
    }
    if (e.accepted) out += " (accepted)";
  }
  return out;
}

// Waits for SIGINT or SIGTERM. The signals are blocked in every thread (the mask is set
// before any thread starts) and taken here synchronously, so no handler runs async code.
int WaitForStopSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return SIGTERM;
    if (sig == SIGHUP) {
      std::cerr << "ironbus: SIGHUP: no configuration file is loaded; nothing to reload\n";
      continue;
    }
    return sig;
  }
}

int RunServe(const ServeFlags& flags) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  storage::LogOptions log_options;
  if (flags.profile == "edge-tiny") log_options.max_segment_bytes = format::kEdgeSegmentBytes;
  if (flags.max_segment_bytes != 0) log_options.max_segment_bytes = flags.max_segment_bytes;
  if (log_options.max_segment_bytes < 4096) return Usage("--max-segment-bytes must be at least 4096");
  if (flags.durability == "interval") {
    log_options.durability = storage::Durability::kInterval;
  } else if (flags.durability == "none" || flags.durability == "async") {
    if (!flags.async_loss_ack) {
      return Usage("--durability-level " + flags.durability +
                   " acknowledges writes a power cut can lose; pass --async-loss-ack to accept that");
    }
    log_options.durability = storage::Durability::kNone;
    log_options.relaxed_durability_acknowledged = true;
  }
  log_options.flush_interval_ms = flags.flush_interval_ms;
  log_options.flush_max_bytes = flags.flush_max_bytes;
  log_options.compression = flags.compression == "none" ? format::Compression::kNone : format::Compression::kLz4;
  log_options.retention = {flags.max_retained_bytes, flags.max_age_ms, flags.max_messages};
  if (Status s = log_options.Validate(); !s.ok()) return Usage(s.message());
  auto queue_options = QueueOptionsFrom(flags);
  if (!queue_options.ok()) return Usage(queue_options.status().message());

  const std::string host = flags.addr.substr(0, flags.addr.rfind(':'));
  if (host != "127.0.0.1" && host != "localhost" && host != "[::1]") {
    return Usage("--addr " + flags.addr + ": only loopback addresses are allowed until TLS exists");
  }

  const std::string dir = flags.data_dir.empty() ? DefaultDataDir() : flags.data_dir;
  io::FileSystem& fs = io::DefaultFileSystem();
  auto exists = fs.Exists(dir);
  auto is_dir = fs.IsDirectory(dir);
  if (exists.ok() && *exists && is_dir.ok() && !*is_dir) return Usage(dir + " exists and is not a directory");

  recovery::RecoveryOptions recovery_options;
  recovery_options.max_segment_bytes = log_options.max_segment_bytes;
  auto opened = recovery::OpenDataDir(&fs, dir, recovery_options, log_options, SystemClock::Default());
  if (!opened.ok()) return Fail("serve", flags.json, kExitInternal, opened.status().message());

  for (const auto& w : opened->warnings) std::cerr << "WARN: " << w << '\n';
  if (log_options.durability != storage::Durability::kSync) {
    std::cerr << "WARN: durability level " << flags.durability
              << ": acknowledged writes can be lost on a power cut (invariant I2 waived)\n";
  }
  const storage::Log& log = *opened->log;
  const std::string dlq_summary =
      opened->dlq_log ? Summary("dlq recovery", *opened->dlq_log, opened->dlq_report) : std::string();
  auto groups = queue::Groups::Open(&fs, dir, opened->log.get(), std::move(opened->dlq_log), *queue_options,
                                    SystemClock::Default());
  if (!groups.ok()) return Fail("serve", flags.json, kExitInternal, "consumer state: " + groups.status().message());
  // The broker is built after the appender; its wake-up for long-polling consumers is reached
  // through this pointer once it exists.
  std::atomic<server::Broker*> broker_for_wakeups{nullptr};
  storage::AppenderOptions appender_options;
  // Consumer-safe retention: a segment goes only once every group committed past it.
  appender_options.retention_floor = [g = groups->get()] { return g->RetentionFloor(); };
  appender_options.on_appended = [&broker_for_wakeups] {
    if (server::Broker* b = broker_for_wakeups.load()) b->NotifyAppended();
  };
  auto appender = storage::Appender::Start(opened->log.get(), SystemClock::Default(), appender_options);
  if (!appender.ok()) return Fail("serve", flags.json, kExitInternal, appender.status().message());
  server::BrokerOptions broker_options;
  const size_t colon = flags.addr.rfind(':');
  broker_options.host = flags.addr.substr(0, colon);
  if (broker_options.host.size() > 2 && broker_options.host.front() == '[') {
    broker_options.host = broker_options.host.substr(1, broker_options.host.size() - 2);
  }
  try {
    const unsigned long port = std::stoul(flags.addr.substr(colon + 1));
    if (port > 65535) throw std::out_of_range("port");
    broker_options.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    return Usage("--addr needs host:port, got \"" + flags.addr + "\"");
  }
  broker_options.io_threads = flags.io_threads;
  broker_options.max_connections = flags.max_connections;
  broker_options.credit = broker_options.credit_cap = std::max<uint32_t>(1, flags.consumer_credit);
  broker_options.credit_bytes = broker_options.credit_bytes_cap = flags.consumer_credit_bytes;
  broker_options.dedup.max_ids = flags.dedup_max_ids;
  broker_options.dedup.window_ms = flags.dedup_window_ms;
  broker_options.dedup.max_producers = flags.dedup_max_producers;
  server::Broker broker(opened->log.get(), appender->get(), groups->get(), broker_options);
  if (Status s = broker.Start(); !s.ok()) return Fail("serve", flags.json, kExitInternal, s.message());
  broker_for_wakeups = &broker;
  const std::string listen_addr = broker.address();
  if (flags.json) {
    PrintJsonLine({{"schema", "ironbus.cli.serve-status.v1"},
                   {"addr", listen_addr},
                   {"data_dir", dir},
                   {"health_addr", nullptr},
                   {"max_connections", broker_options.max_connections},
                   {"durability", flags.durability},
                   {"durable_offset", log.durable_offset()},
                   {"frozen", log.frozen()},
                   {"recovery", nlohmann::json::parse(opened->report.ToJson(), nullptr, false)},
                   {"exit_code", 0}});
  } else {
    std::cout << "ironbus listening on " << listen_addr << ", data dir " << dir << '\n';
    std::cout << Summary("recovery", log, opened->report) << '\n';
    if (!dlq_summary.empty()) std::cout << dlq_summary << '\n';
    std::cout << "materialized-config profile=" << flags.profile << " addr=" << listen_addr << " data_dir=" << dir
              << " max_connections=" << broker_options.max_connections
              << " segment_size=" << log_options.max_segment_bytes << " durability_level=" << flags.durability
              << " power_loss_safe=" << (log_options.durability == storage::Durability::kSync ? "true" : "false")
              << " compression=" << flags.compression << " max_deliver=" << queue_options->max_deliver
              << " backoff_ms=" << flags.backoff_ms << " visibility_timeout_ms=" << queue_options->visibility_timeout_ms
              << " consumer_credit=" << broker_options.credit << " max_in_flight=" << queue_options->max_in_flight
              << " storage=disk\n";
    std::cout.flush();
  }
  if (log.frozen()) {
    std::cerr << "WARN: the log is frozen read-only: " << log.frozen_status().message()
              << " (run `ironbus repair --data-dir " << dir << " --apply` with the broker stopped)\n";
  }

  const int sig = WaitForStopSignal();
  // A second SIGINT/SIGTERM during the drain skips the rest of it (spec 8). Every acked
  // record is already durable (acks follow the fdatasync); only unacked work is abandoned.
  std::thread([] {
    const int again = WaitForStopSignal();
    std::cerr << "WARN: second " << (again == SIGINT ? "SIGINT" : "SIGTERM")
              << " during the drain: exiting without finishing it (unacknowledged requests are dropped)\n";
    std::_Exit(kExitInternal);
  }).detach();
  // Stop accepting, answer every request already received (in-flight fdatasyncs included),
  // then drain the appender with a final sync and close the logs.
  broker.Stop();  // ends with every group's cursor checkpoint written
  broker_for_wakeups = nullptr;
  (void)(*appender)->Stop();
  Status closed = opened->log->Close();
  if (Status dlq_closed = (*groups)->Close(); closed.ok()) closed = dlq_closed;
  if (!closed.ok() && !opened->log->frozen()) {
    return Fail("serve", flags.json, kExitInternal, "clean stop failed: " + closed.message());
  }
  std::cerr << "ironbus stopped on " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << '\n';
  return kExitOk;
}

}  // namespace

void RegisterServe(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  auto* serve = app.add_subcommand("serve", "Run the broker in the foreground until SIGINT/SIGTERM");
  serve->add_option("--data-dir", flags->data_dir,
                    "Data directory (default ${XDG_DATA_HOME:-$HOME/.local/share}/ironbus)")
      ->envname("IRONBUS_DATA_DIR");
  serve->add_option("--addr", flags->addr, "Wire-protocol listen address (default 127.0.0.1:7777)")
      ->envname("IRONBUS_ADDR");
  serve->add_option("--profile", flags->profile, "balanced (default), edge-tiny (8 MiB segments), throughput")
      ->check(CLI::IsMember({"balanced", "edge-tiny", "throughput"}));
  serve->add_option("--max-segment-bytes", flags->max_segment_bytes, "Segment roll size (default 64 MiB)");
  serve->add_option("--durability-level", flags->durability, "sync (default), interval, async, none")
      ->check(CLI::IsMember({"sync", "interval", "async", "none"}));
  serve->add_option("--flush-interval-ms", flags->flush_interval_ms, "interval level: time trigger (ms)");
  serve->add_option("--flush-max-bytes", flags->flush_max_bytes, "interval level: byte trigger");
  serve->add_flag("--async-loss-ack", flags->async_loss_ack, "Accept acked-write loss on power cut (async/none)");
  serve->add_option("--compression", flags->compression, "lz4 (default) or none")
      ->check(CLI::IsMember({"none", "lz4"}));
  serve->add_option("--max-retained-bytes", flags->max_retained_bytes, "Retention by record bytes (0 = off)");
  serve->add_option("--max-age-ms", flags->max_age_ms, "Retention by age (0 = off)");
  serve->add_option("--max-messages", flags->max_messages, "Retention by record count (0 = off)");
  serve->add_option("--io-threads", flags->io_threads, "Network threads (default 2)")->check(CLI::Range(1, 64));
  serve->add_option("--max-connections", flags->max_connections, "Client connections served at once (default 256)")
      ->envname("IRONBUS_MAX_CONNECTIONS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  serve->add_option("--max-deliver", flags->max_deliver,
                    "Deliveries before a message moves to the dead-letter queue (default 5)")
      ->envname("IRONBUS_MAX_DELIVER");
  serve->add_flag("--allow-unlimited-deliver", flags->allow_unlimited_deliver,
                  "Accept --max-deliver 0 (never dead-letter)");
  serve->add_option("--backoff-ms", flags->backoff_ms, "Nack backoff schedule, ms per attempt (default 100,500,2000,10000,30000)")
      ->envname("IRONBUS_BACKOFF_MS");
  serve->add_option("--visibility-timeout-ms,--visibility-timeout", flags->visibility_timeout_ms,
                    "Lease length before an unacked message is redelivered (default 30000)")
      ->envname("IRONBUS_VISIBILITY_TIMEOUT_MS");
  serve->add_option("--checkpoint-interval", flags->checkpoint_interval,
                    "Cursor advance (messages) between cursor checkpoints (default 1024)");
  serve->add_option("--consumer-credit", flags->consumer_credit, "Messages one consumer may hold unacked (default 64)")
      ->check(CLI::Range(1u, 1u << 20));
  serve->add_option("--consumer-credit-bytes", flags->consumer_credit_bytes,
                    "Payload bytes one consumer may hold unacked (default 8 MiB, 0 = unlimited)");
  serve->add_option("--max-in-flight", flags->max_in_flight, "Offsets past a group's cursor it may lease (default 1024)");
  serve->add_option("--max-groups", flags->max_groups, "Named consumer groups (default 1024, 0 = unlimited)");
  serve->add_option("--key-shared-group", flags->key_shared_groups, "A key_shared group (repeatable)");
  serve->add_option("--broadcast-group", flags->broadcast_groups, "A broadcast group (repeatable)");
  serve->add_option("--dedup-max-ids", flags->dedup_max_ids, "Producer msg_id window: ids per producer (default 100000)");
  serve->add_option("--dedup-window-ms", flags->dedup_window_ms, "Producer msg_id window: age (default 120000, 0 = off)");
  serve->add_option("--dedup-max-producers", flags->dedup_max_producers, "Producer windows kept (default 4096)");
  serve->add_flag("--json", flags->json, "Print ironbus.cli.serve-status.v1 instead of the banner");
  serve->callback([flags, exit_code] { *exit_code = RunServe(*flags); });
}

}  // namespace ironbus::cli
