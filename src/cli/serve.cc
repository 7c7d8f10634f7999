// `serve` (spec/cli-config-ops.md section 2): resolves the configuration (config::Load: defaults
// < profile < --config file < IRONBUS_* env < flags, whole-config validation and the RAM guard,
// all before the data dir is touched or a port opens), opens the data directory under its
// exclusive lock, runs recovery, starts the appender (group commit) and the TCP broker, prints
// the listening address, data directory, recovery summary and materialized-config line, and runs
// until SIGINT or SIGTERM; SIGHUP re-reads the config file and reports what changed (Reload).
// On a stop signal it stops accepting, answers what it received, syncs, closes and exits 0.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <string>
#include <vector>

#include "base/log.h"
#include "cli/data_dir.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/reload.h"
#include "cli/serve_security.h"
#include "cli/sd_notify.h"
#include "cli/verbs.h"
#include "config/config.h"
#include "io/posix_file_system.h"
#include "queue/groups.h"
#include "recovery/open_data_dir.h"
#include "server/broker.h"
#include "server/health_server.h"
#include "server/metrics.h"
#include "storage/appender.h"
#include "storage/key_file.h"

#ifndef IRONBUS_VERSION
#define IRONBUS_VERSION "0.0.0"
#endif

namespace ironbus::cli {
namespace {

// The command-line half of serve: every knob of the key table is registered as a flag whose
// raw text goes to config::Load as the top layer, so a flag, its env var and its file key are
// parsed and validated by the same code.
struct ServeArgs {
  std::string config_path;
  bool allow_unknown_config = false;
  bool json = false;
  std::string profile;
  CLI::Option* profile_option = nullptr;
  std::map<std::string, std::string> texts;                // by KeySpec::name
  std::map<std::string, bool> switches;                    // kBool keys
  std::map<std::string, std::vector<std::string>> lists;   // kStringList keys
  std::vector<std::pair<CLI::Option*, const config::KeySpec*>> options;

  config::Inputs ToInputs() const {
    config::Inputs in;
    in.config_path = config_path;
    in.allow_unknown_config = allow_unknown_config;
    in.env = config::EnvFromProcess();
    if (profile_option->count() > 0) in.flags.emplace_back("--profile", profile);
    for (const auto& [option, key] : options) {
      if (option->count() == 0) continue;
      const std::string name(key->name), flag(key->flag);
      if (key->kind == config::Kind::kBool) {
        in.flags.emplace_back(flag, switches.at(name) ? "true" : "false");
      } else if (key->kind == config::Kind::kStringList) {
        for (const std::string& v : lists.at(name)) in.flags.emplace_back(flag, v);
      } else {
        in.flags.emplace_back(flag, texts.at(name));
      }
    }
    return in;
  }
};

// The value placeholder in --help: the unit or the choices.
std::string TypeName(const config::KeySpec& key) {
  switch (key.kind) {
    case config::Kind::kBytes: return "BYTES";
    case config::Kind::kMillis: return "MS";
    case config::Kind::kCount: return "N";
    case config::Kind::kBool: return "";
    case config::Kind::kEnum: return std::string(key.choices);
    case config::Kind::kU64List: return "MS,MS,...";
    default: return "TEXT";
  }
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
// SIGHUP runs `on_hup` on this thread and keeps waiting: it never stops the broker (spec 8).
int WaitForStopSignal(const std::function<void()>& on_hup) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return SIGTERM;
    if (sig == SIGHUP) {
      on_hup();
      continue;
    }
    return sig;
  }
}


int RunServe(const ServeArgs& args) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  // Every check runs here, before the data dir is touched and before any port opens (spec 4.9).
  const config::Inputs inputs = args.ToInputs();
  config::Loaded loaded = config::Load(inputs);
  for (const std::string& w : loaded.warnings) std::cerr << "WARN: " << w << '\n';
  if (!loaded.ok()) {
    for (size_t i = 0; i + 1 < loaded.errors.size(); ++i) std::cerr << "error: " << loaded.errors[i] << '\n';
    return Usage(loaded.errors.back());
  }
  if (args.allow_unknown_config && args.config_path.empty()) {
    std::cerr << "WARN: --allow-unknown-config has no effect without --config\n";
  }
  config::Config& cfg = loaded.config;
  // Structured logs on stderr follow the resolved config from here on (spec 4.8, docs/logging.md):
  // `auto` is JSON when stderr is not a TTY. config::Validate checked both names.
  logging::Configure(logging::ParseLevel(cfg.log_level).value_or(logging::Level::kInfo),
                     logging::ResolveFormat(cfg.log_format).value_or(logging::Format::kText));
  cfg.data_dir = ResolvedDataDir(cfg);
  storage::LogOptions log_options = config::ToLogOptions(cfg);
  if (Status s = log_options.Validate(); !s.ok()) return Usage(s.message());
  // At-rest keys (spec/security.md 5.6, 6.2): a configured key that is missing, unreadable,
  // not owner-only or not 32 bytes stops the start here, before any listener opens. The DLQ
  // log inherits them (queue/groups.cc), so dead letters are encrypted too.
  {
    const format::AeadSuite suite = cfg.encryption_suite == "aes-256-gcm"         ? format::AeadSuite::kAes256Gcm
                                    : cfg.encryption_suite == "chacha20-poly1305" ? format::AeadSuite::kChaCha20Poly1305
                                                                                   : format::DetectAeadSuite();
    auto keys = storage::LoadKeyRing(cfg.encryption_key_file, cfg.encryption_old_key_files, suite);
    if (!keys.ok()) return Usage(keys.status().message());
    log_options.keys = std::move(keys).value();
    if (log_options.keys != nullptr) {
      // Ids and the suite only: key bytes are never logged (spec/security.md 6.4).
      logging::Info("encryption.at_rest",
                    {{"active_key_id", log_options.keys->active_id()},
                     {"suite", std::string(format::AeadSuiteName(log_options.keys->suite()))},
                     {"keys_loaded", static_cast<uint64_t>(log_options.keys->ids().size())}});
    }
  }
  const queue::QueueOptions queue_options = config::ToQueueOptions(cfg);
  if (Status s = queue_options.Validate(); !s.ok()) return Usage(s.message());
  const bool json = args.json;
  std::optional<server::HealthOptions> health_options;
  if (!cfg.health_addr.empty()) {
    auto parsed = server::HealthOptions::FromAddress(cfg.health_addr, cfg.health_allow_public);
    if (!parsed.ok()) return Usage("--health-addr: " + parsed.status().message());
    health_options = *parsed;
    health_options->liveness_window = std::chrono::milliseconds(cfg.health_liveness_window_ms);
    health_options->enable_admin = cfg.enable_admin;
    // An address that does not resolve, or a public one without --health-allow-public, is a
    // configuration error (exit 1, spec 4.9), found here before any listener opens.
    if (Status s = server::HealthServer::CheckAddress(*health_options); !s.ok()) {
      return Usage("--health-addr " + cfg.health_addr + ": " + s.message());
    }
  }

  // TLS material loads before anything opens: a bad certificate or key refuses the start.
  // TLS material, the identity table and the audit log load before anything opens: a bad
  // certificate, key or table, or a secret file others can read, refuses the start.
  const bool loopback_bind = config::BindIsLoopback(cfg.addr);
  auto security = LoadServeSecurity(cfg, loopback_bind);
  if (!security.ok()) return Usage(security.status().message());
  if (!loopback_bind && !security->tls) {
    logging::Warn("security.plaintext_wire",
                  {{"addr", cfg.addr},
                   {"msg", "--insecure-plaintext-wire: this non-loopback listener is NOT encrypted; credentials "
                           "and records cross the network in clear"}});
  }
  const auto& tls = security->tls;

  const std::string& dir = cfg.data_dir;
  io::FileSystem& fs = io::DefaultFileSystem();
  auto exists = fs.Exists(dir);
  auto is_dir = fs.IsDirectory(dir);
  if (exists.ok() && *exists && is_dir.ok() && !*is_dir) return Usage(dir + " exists and is not a directory");

  recovery::RecoveryOptions recovery_options;
  recovery_options.max_segment_bytes = log_options.max_segment_bytes;
  SdNotify("STATUS=recovering " + dir);
  auto opened = recovery::OpenDataDir(&fs, dir, recovery_options, log_options, SystemClock::Default());
  if (!opened.ok()) return Fail("serve", json, kExitInternal, opened.status().message());

  // Loss events and best-effort recovery failures were logged by OpenDataDir (recovery.*).
  const storage::Log& log = *opened->log;
  const std::string dlq_summary =
      opened->dlq_log ? Summary("dlq recovery", *opened->dlq_log, opened->dlq_report) : std::string();
  auto groups = queue::Groups::Open(&fs, dir, opened->log.get(), std::move(opened->dlq_log), queue_options,
                                    SystemClock::Default());
  if (!groups.ok()) return Fail("serve", json, kExitInternal, "consumer state: " + groups.status().message());
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
  if (!appender.ok()) return Fail("serve", json, kExitInternal, appender.status().message());
  server::BrokerOptions broker_options;
  // config::Validate checked host:port and loopback already.
  const size_t colon = cfg.addr.rfind(':');
  broker_options.host = cfg.addr.substr(0, colon);
  if (broker_options.host.size() > 2 && broker_options.host.front() == '[') {
    broker_options.host = broker_options.host.substr(1, broker_options.host.size() - 2);
  }
  broker_options.port = static_cast<uint16_t>(std::stoul(cfg.addr.substr(colon + 1)));
  broker_options.io_threads = static_cast<int>(cfg.io_threads);
  broker_options.socket_send_buffer_bytes = static_cast<int>(cfg.socket_send_buffer_bytes);
  ApplyServeSecurity(cfg, &*security, &broker_options);
  broker_options.max_connections = cfg.max_connections;
  broker_options.credit = broker_options.credit_cap = static_cast<uint32_t>(cfg.consumer_credit);
  broker_options.credit_bytes = broker_options.credit_bytes_cap = cfg.consumer_credit_bytes;
  broker_options.dedup.max_ids = cfg.dedup_max_ids;
  broker_options.dedup.window_ms = static_cast<int64_t>(std::min<uint64_t>(cfg.dedup_window_ms, INT64_MAX));
  broker_options.dedup.max_producers = cfg.dedup_max_producers;
  server::Broker broker(opened->log.get(), appender->get(), groups->get(), broker_options);
  if (Status s = broker.Start(); !s.ok()) return Fail("serve", json, kExitInternal, s.message());
  broker_for_wakeups = &broker;
  const std::string listen_addr = broker.address();
  // Health and metrics on their own port and thread (server/health_server.h); the sources are
  // declared before the server so they outlive it on every return path.
  std::atomic<bool> shutting_down{false};
  server::MetricsSources metrics_sources;
  std::unique_ptr<server::HealthServer> health;
  if (health_options) {
    metrics_sources.log = opened->log.get();
    metrics_sources.appender = appender->get();
    metrics_sources.broker = &broker;
    metrics_sources.groups = groups->get();
    metrics_sources.loss_report = &opened->report;
    metrics_sources.max_connections = cfg.max_connections;
    metrics_sources.version = IRONBUS_VERSION;
    metrics_sources.start_time_unix_s = static_cast<int64_t>(std::time(nullptr));
    metrics_sources.shutting_down = [&shutting_down] { return shutting_down.load(); };
    auto started = server::HealthServer::Start(
        *health_options,
        server::HealthSources{[&metrics_sources] { return server::CollectMetrics(metrics_sources); },
                              [&broker](std::function<void()> done) { broker.PostProbe(std::move(done)); },
                              AdminGate(&broker, security->audit.get())});
    if (!started.ok()) return Fail("serve", json, kExitInternal, "--health-addr: " + started.status().message());
    health = std::move(*started);
  }
  if (json) {
    PrintJsonLine({{"schema", "ironbus.cli.serve-status.v1"},
                   {"addr", listen_addr},
                   {"data_dir", dir},
                   {"health_addr", health ? nlohmann::json(health->address()) : nlohmann::json(nullptr)},
                   {"max_connections", broker_options.max_connections},
                   {"durability", cfg.durability_level},
                   {"durable_offset", log.durable_offset()},
                   {"frozen", log.frozen()},
                   {"recovery", nlohmann::json::parse(opened->report.ToJson(), nullptr, false)},
                   {"exit_code", 0}});
  } else {
    std::cout << "ironbus listening on " << listen_addr << ", data dir " << dir << '\n';
    if (tls) {
      std::cout << "tls: TLS 1.3 only"
                << (tls->requires_client_certificate() ? ", client certificates required" : "")
                << ", certificate sha256 " << tls->certificate_fingerprint() << '\n';
    }
    if (security->identities) {
      std::cout << "auth: " << security->identities->size() << " identities from " << cfg.auth_config
                << "; every connection authenticates" << (security->preauth ? ", pre-auth limits on" : "") << '\n';
    }
    std::cout << Summary("recovery", log, opened->report) << '\n';
    if (!dlq_summary.empty()) std::cout << dlq_summary << '\n';
    config::Config shown = cfg;
    shown.addr = listen_addr;  // the bound address (port 0 resolved)
    std::cout << config::MaterializedLine(shown) << '\n';
    if (health) {
      std::cout << "ironbus health endpoints on " << health->address()
                << (cfg.enable_admin ? " (/healthz, /readyz, /metrics, /admin)\n" : " (/healthz, /readyz, /metrics)\n");
    }
    std::cout.flush();
  }
  logging::Info("broker.started", {{"addr", listen_addr},
                                   {"auth", security->identities ? std::string("required") : std::string("off")},
                                   {"tls", tls ? std::string(tls->requires_client_certificate() ? "mtls" : "tls1.3")
                                                : std::string("off")},
                                   {"data_dir", dir},
                                   {"health_addr", health ? health->address() : std::string()},
                                   {"durability", cfg.durability_level},
                                   {"durable_offset", log.durable_offset()},
                                   {"frozen", log.frozen()},
                                   {"version", IRONBUS_VERSION}});
  if (log.frozen()) {
    logging::Error("log.frozen", {{"data_dir", dir},
                                  {"cause", log.frozen_status().message()},
                                  {"action", "run `ironbus repair --data-dir " + dir + " --apply` with the broker stopped"}});
  }
  // systemd Type=notify (docs/operations.md): ready once listening; the watchdog pings only
  // while an io thread answers a probe. No-ops without NOTIFY_SOCKET.
  SdNotify("READY=1\nSTATUS=serving on " + listen_addr + (log.frozen() ? " (log frozen read-only)" : ""));
  std::unique_ptr<SdWatchdog> watchdog =
      SdWatchdog::StartFromEnv([&broker](std::function<void()> done) { broker.PostProbe(std::move(done)); });

  const int sig = WaitForStopSignal([&] {
    SdNotifyReload([&] {
      Reload(inputs, &cfg, opened->log.get());
      ReloadServeSecurity(cfg, &*security, &broker);  // the same paths, re-read: rotation
    });
  });
  // A second SIGINT/SIGTERM during the drain skips the rest of it (spec 8). Every acked
  // record is already durable (acks follow the fdatasync); only unacked work is abandoned.
  std::thread([] {
    const int again =
        WaitForStopSignal([] { logging::Warn("shutdown.sighup_ignored", {{"reason", "shutting down"}}); });
    logging::Warn("shutdown.second_signal",
                  {{"signal", again == SIGINT ? "SIGINT" : "SIGTERM"},
                   {"exit_code", kExitInternal},
                   {"msg", "exiting without finishing the drain: unacknowledged requests are dropped and consumers "
                           "may see redeliveries"}});
    std::_Exit(kExitInternal);
  }).detach();
  // Stop accepting, answer every request already received (in-flight fdatasyncs included),
  // then drain the appender with a final sync and close the logs.
  watchdog.reset();  // first, so no WATCHDOG=1 follows STOPPING=1: the drain is bounded by TimeoutStopSec
  SdNotify("STOPPING=1\nSTATUS=draining");
  logging::Info("broker.stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  shutting_down = true;  // /readyz answers 503 "shutting down" during the drain (spec 8)
  broker.Stop();  // ends with every group's cursor checkpoint written
  broker_for_wakeups = nullptr;
  if (health) health->Stop();  // before the log closes: scrapes read its counters
  (void)(*appender)->Stop();
  Status closed = opened->log->Close();
  if (Status dlq_closed = (*groups)->Close(); closed.ok()) closed = dlq_closed;
  if (!closed.ok() && !opened->log->frozen()) {
    return Fail("serve", json, kExitInternal, "clean stop failed: " + closed.message());
  }
  logging::Info("broker.stopped", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}, {"exit_code", kExitOk}});
  return kExitOk;
}

}  // namespace

void RegisterServe(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand("serve", "Run the broker in the foreground until SIGINT/SIGTERM");
  serve->add_option("--config", args->config_path, "TOML config file (docs/config.md)");
  serve->add_flag("--allow-unknown-config", args->allow_unknown_config,
                  "Downgrade unknown config-file keys to warnings");
  args->profile_option =
      serve->add_option("--profile", args->profile, "edge-tiny, balanced (default) or throughput (env IRONBUS_PROFILE)");
  for (const config::KeySpec& key : config::Keys()) {
    std::string names(key.flag);
    if (!key.flag_alias.empty()) names += "," + std::string(key.flag_alias);
    std::string help(key.help);
    if (!key.env.empty()) help += " (env " + std::string(key.env) + ")";
    const std::string name(key.name);
    CLI::Option* option = nullptr;
    if (key.kind == config::Kind::kBool) {
      option = serve->add_flag(names, args->switches[name], help);
    } else if (key.kind == config::Kind::kStringList) {
      option = serve->add_option(names, args->lists[name], help);
    } else {
      option = serve->add_option(names, args->texts[name], help);
    }
    option->type_name(TypeName(key));
    args->options.emplace_back(option, &key);
  }
  serve->add_flag("--json", args->json, "Print ironbus.cli.serve-status.v1 instead of the banner");
  serve->callback([args, exit_code] { *exit_code = RunServe(*args); });
}

}  // namespace ironbus::cli
