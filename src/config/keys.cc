// The key table and the profile table. Row order is the order of the tables of
// spec/cli-config-ops.md section 4 (the materialized-config line prints in this order, decision
// 11.5). docs/config.md lists the same rows; tests/config/keys_test.cc checks the profile cells.
#include "config/config.h"

namespace ironbus::config {
namespace {

using C = Config;
constexpr Kind B = Kind::kBytes, MS = Kind::kMillis, N = Kind::kCount, BOOL = Kind::kBool, E = Kind::kEnum,
               S = Kind::kString, UL = Kind::kU64List, SL = Kind::kStringList;
constexpr Reload LIVE = Reload::kLive, HOT = Reload::kHot, COLD = Reload::kCold, NONE = Reload::kNone;

}  // namespace

const std::vector<KeySpec>& Keys() {
  static const std::vector<KeySpec> keys = {
      // 4.1 placement and network
      {"data_dir", "storage.data_dir", "--data-dir", "", "IRONBUS_DATA_DIR", S, COLD, "",
       "Data directory (default ${XDG_DATA_HOME:-$HOME/.local/share}/ironbus)", &C::data_dir},
      {"addr", "network.listen", "--addr", "", "IRONBUS_ADDR", S, COLD, "",
       "Wire-protocol listen address host:port (off loopback: TLS and an identity table, spec/security.md 1.2)",
       &C::addr},
      {"tls_cert", "network.tls.cert", "--tls-cert", "", "IRONBUS_TLS_CERT", S, COLD, "",
       "TLS 1.3 certificate chain, PEM, leaf first (re-read on SIGHUP)", &C::tls_cert},
      {"tls_key", "network.tls.key", "--tls-key", "", "IRONBUS_TLS_KEY", S, COLD, "",
       "Its private key, PEM (a secret file: mode 0600, owned by the broker's user; re-read on SIGHUP)",
       &C::tls_key},
      {"tls_client_ca", "network.tls.client_ca", "--tls-client-ca", "", "IRONBUS_TLS_CLIENT_CA", S, COLD, "",
       "mTLS: CA bundle that client certificates must chain to (a certificate becomes required)", &C::tls_client_ca},
      {"handshake_timeout_ms", "network.handshake_timeout_ms", "--handshake-timeout-ms", "",
       "IRONBUS_HANDSHAKE_TIMEOUT_MS", MS, COLD, "", "A TLS handshake must finish within this (0 = off)",
       &C::handshake_timeout_ms},
      {"insecure_plaintext_wire", "network.insecure_plaintext_wire", "--insecure-plaintext-wire", "",
       "IRONBUS_INSECURE_PLAINTEXT_WIRE", BOOL, COLD, "",
       "Allow a non-loopback bind without TLS (needs an identity table; warned at every start)",
       &C::insecure_plaintext_wire},
      {"auth_config", "auth.config", "--auth-config", "", "IRONBUS_AUTH_CONFIG", S, COLD, "",
       "Identity table (TOML, a secret file: 0600, owned by the broker's user; re-read on SIGHUP); \"\" = no auth",
       &C::auth_config},
      {"audit_log", "auth.audit_log", "--audit-log", "", "IRONBUS_AUDIT_LOG", S, COLD, "",
       "Security audit events: stderr or @<file>", &C::audit_log},
      {"max_preauth_connections", "auth.max_preauth_connections", "--max-preauth-connections", "",
       "IRONBUS_MAX_PREAUTH_CONNECTIONS", N, COLD, "", "Not-yet-authenticated connections at once (non-loopback; 0 = off)",
       &C::max_preauth_connections},
      {"preauth_rate_per_ip", "auth.preauth_rate_per_ip", "--preauth-rate-per-ip", "", "IRONBUS_PREAUTH_RATE_PER_IP", N,
       COLD, "", "New connections per second per source IP (non-loopback; 0 = off)", &C::preauth_rate_per_ip},
      {"auth_failure_lockout", "auth.failure_lockout", "--auth-failure-lockout", "", "IRONBUS_AUTH_FAILURE_LOCKOUT", N,
       COLD, "", "Failed logins from one IP within the window that lock it out (0 = off)", &C::auth_failure_lockout},
      {"auth_failure_window_ms", "auth.failure_window_ms", "--auth-failure-window-ms", "",
       "IRONBUS_AUTH_FAILURE_WINDOW_MS", MS, COLD, "", "Window that counts failed logins", &C::auth_failure_window_ms},
      {"auth_lockout_max_ms", "auth.lockout_max_ms", "--auth-lockout-max-ms", "", "IRONBUS_AUTH_LOCKOUT_MAX_MS", MS,
       COLD, "", "Longest lockout (the cooldown doubles from 1 s up to this)", &C::auth_lockout_max_ms},
      {"max_concurrent_password_verifies", "auth.max_concurrent_password_verifies",
       "--max-concurrent-password-verifies", "", "IRONBUS_MAX_CONCURRENT_PASSWORD_VERIFIES", N, COLD, "",
       "Argon2id verifies at once (each holds 19 MiB; counted by the RAM guard)", &C::max_concurrent_password_verifies},
      {"health_addr", "network.health_addr", "--health-addr", "", "IRONBUS_HEALTH_ADDR", S, COLD, "",
       "Serve /livez, /healthz, /readyz, /metrics here (off by default)", &C::health_addr},
      {"health_allow_public", "network.health_allow_public", "--health-allow-public", "",
       "IRONBUS_HEALTH_ALLOW_PUBLIC", BOOL, COLD, "", "Allow a non-loopback health bind", &C::health_allow_public},
      {"health_liveness_window_ms", "network.health_liveness_window_ms", "--health-liveness-window-ms", "",
       "IRONBUS_HEALTH_LIVENESS_WINDOW_MS", MS, COLD, "", "Liveness window (0 = off)", &C::health_liveness_window_ms},
      {"enable_admin", "network.enable_admin", "--enable-admin", "", "IRONBUS_ENABLE_ADMIN", BOOL, COLD, "",
       "Read-only /admin JSON on the health port", &C::enable_admin},
      {"max_connections", "backpressure.max_connections", "--max-connections", "", "IRONBUS_MAX_CONNECTIONS", N,
       COLD, "", "Client connections served at once (>= 1)", &C::max_connections},
      {"socket_send_buffer_bytes", "network.socket_send_buffer_bytes", "--socket-send-buffer-bytes", "",
       "IRONBUS_SOCKET_SEND_BUFFER_BYTES", B, COLD, "",
       "Kernel send buffer per client connection (0 = the OS autotunes it, up to net.ipv4.tcp_wmem)",
       &C::socket_send_buffer_bytes},
      {"io_threads", "", "--io-threads", "", "IRONBUS_IO_THREADS", N, NONE, "", "Network threads (1..64, default 1)",
       &C::io_threads},
      // 4.2 storage
      {"storage", "", "--storage", "", "IRONBUS_STORAGE", E, NONE, "disk|memory", "Storage backend", &C::storage},
      {"ephemeral_loss_ack", "", "--ephemeral-loss-ack", "", "IRONBUS_EPHEMERAL_LOSS_ACK", BOOL, NONE, "",
       "Consent for --storage memory", &C::ephemeral_loss_ack},
      {"max_segment_bytes", "storage.segment_size", "--max-segment-bytes", "", "IRONBUS_MAX_SEGMENT_BYTES", B, COLD,
       "", "Segment roll size (>= 4096)", &C::max_segment_bytes},
      {"max_total_bytes", "storage.max_total_bytes", "--max-total-bytes", "", "IRONBUS_MAX_TOTAL_BYTES", B, LIVE, "",
       "Byte cap on the log's records (0 = unlimited)", &C::max_total_bytes},
      {"disk_full_policy", "backpressure.disk_full_policy", "--disk-full-policy", "", "IRONBUS_DISK_FULL_POLICY", E,
       LIVE, "drop-new|drop-oldest|block", "Policy at the byte cap or the free-disk watermark", &C::disk_full_policy},
      {"min_free_bytes", "storage.min_free_bytes", "--min-free-bytes", "", "IRONBUS_MIN_FREE_BYTES", B, LIVE, "",
       "Free-disk watermark: stop accepting below this much free space (0 = off)", &C::min_free_bytes},
      {"block_timeout_ms", "backpressure.block_timeout_ms", "--block-timeout-ms", "", "IRONBUS_BLOCK_TIMEOUT_MS", MS,
       LIVE, "", "disk_full_policy block: longest hold of a publish before it is refused", &C::block_timeout_ms},
      {"compression", "", "--compression", "", "IRONBUS_COMPRESSION", E, NONE, "none|lz4|zstd",
       "Writer-side payload compression", &C::compression},
      {"io_mode", "storage.io_mode", "--io-mode", "", "IRONBUS_IO_MODE", E, COLD, "buffered|direct|auto",
       "Segment I/O mode", &C::io_mode},
      {"daily_physical_write_budget_bytes", "storage.daily_physical_write_budget_bytes",
       "--daily-physical-write-budget-bytes", "", "IRONBUS_DAILY_PHYSICAL_WRITE_BUDGET_BYTES", B, HOT, "",
       "Daily physical write budget (0 = off; not enforced yet)", &C::daily_physical_write_budget_bytes},
      {"encryption_key_file", "storage.encryption_key_file", "--encryption-key-file", "",
       "IRONBUS_ENCRYPTION_KEY_FILE", S, COLD, "",
       "At-rest encryption: 32-byte raw key file (mode 0600), active for new segments (\"\" = off)",
       &C::encryption_key_file},
      {"encryption_old_key_file", "", "--encryption-old-key-file", "", "", SL, NONE, "",
       "At-rest encryption: an earlier key, kept to read its segments (repeatable)", &C::encryption_old_key_files},
      {"encryption_suite", "storage.encryption_suite", "--encryption-suite", "", "IRONBUS_ENCRYPTION_SUITE", E, COLD,
       "auto|aes-256-gcm|chacha20-poly1305", "At-rest AEAD suite for new segments (auto: AES-GCM with AES instructions)",
       &C::encryption_suite},
      // 4.3 durability
      {"durability_level", "durability.level", "--durability-level", "", "IRONBUS_DURABILITY_LEVEL", E, COLD,
       "sync|interval|async|none", "When a publish is acknowledged", &C::durability_level},
      {"flush_interval_ms", "durability.flush_interval_ms", "--flush-interval-ms", "", "IRONBUS_FLUSH_INTERVAL_MS",
       MS, COLD, "", "interval level: time trigger (0 = off)", &C::flush_interval_ms},
      {"flush_max_bytes", "durability.flush_max_bytes", "--flush-max-bytes", "", "IRONBUS_FLUSH_MAX_BYTES", B, COLD,
       "", "interval level: byte trigger (0 = off)", &C::flush_max_bytes},
      {"async_loss_ack", "durability.async_loss_ack", "--async-loss-ack", "", "IRONBUS_ASYNC_LOSS_ACK", BOOL, COLD,
       "", "Accept acked-write loss on power cut (async/none)", &C::async_loss_ack},
      {"commit_gather_us", "", "--commit-gather-us", "", "IRONBUS_COMMIT_GATHER_US", N, NONE, "",
       "Group-commit gather wait (0..1000000 us)", &C::commit_gather_us},
      {"wal_fsync_headroom_bytes", "backpressure.wal_fsync_headroom_bytes", "--wal-fsync-headroom-bytes", "",
       "IRONBUS_WAL_FSYNC_HEADROOM_BYTES", B, COLD, "", "Unsynced-bytes headroom (0 = off; not built)",
       &C::wal_fsync_headroom_bytes},
      // 4.4 retention
      {"max_retained_bytes", "retention.max_retained_bytes", "--max-retained-bytes", "", "IRONBUS_MAX_RETAINED_BYTES",
       B, LIVE, "", "Retention by record bytes (0 = off)", &C::max_retained_bytes},
      {"max_age_ms", "retention.max_age_ms", "--max-age-ms", "", "IRONBUS_MAX_AGE_MS", MS, LIVE, "",
       "Retention by age (0 = off)", &C::max_age_ms},
      {"max_messages", "retention.max_messages", "--max-messages", "", "IRONBUS_MAX_MESSAGES", N, LIVE, "",
       "Retention by record count (0 = off)", &C::max_messages},
      // 4.5 flow control and groups
      {"consumer_credit", "backpressure.consumer_credit", "--consumer-credit", "", "IRONBUS_CONSUMER_CREDIT", N, HOT,
       "", "Messages one consumer may hold unacked (1..1048576)", &C::consumer_credit},
      {"consumer_credit_bytes", "backpressure.consumer_credit_bytes", "--consumer-credit-bytes", "",
       "IRONBUS_CONSUMER_CREDIT_BYTES", B, HOT, "", "Payload bytes one consumer may hold unacked (0 = unlimited)",
       &C::consumer_credit_bytes},
      {"max_in_flight", "backpressure.max_in_flight", "--max-in-flight", "", "IRONBUS_MAX_IN_FLIGHT", N, COLD, "",
       "Offsets past a group's cursor it may lease (>= 1)", &C::max_in_flight},
      {"max_groups", "backpressure.max_groups", "--max-groups", "", "IRONBUS_MAX_GROUPS", N, COLD, "",
       "Named consumer groups (0 = unlimited)", &C::max_groups},
      {"group_idle_evict_ms", "backpressure.group_idle_evict_ms", "--group-idle-evict-ms", "",
       "IRONBUS_GROUP_IDLE_EVICT_MS", MS, HOT, "", "Evict an idle, caught-up named group from memory after this long (0 = off)", &C::group_idle_evict_ms},
      {"ram_ceiling_bytes", "backpressure.ram_ceiling_bytes", "--ram-ceiling-bytes", "", "IRONBUS_RAM_CEILING_BYTES",
       B, COLD, "", "RAM guard ceiling (0 = off)", &C::ram_ceiling_bytes},
      {"key_shared_group", "", "--key-shared-group", "", "", SL, NONE, "", "A key_shared group (repeatable)",
       &C::key_shared_groups},
      {"broadcast_group", "", "--broadcast-group", "", "", SL, NONE, "", "A broadcast group (repeatable)",
       &C::broadcast_groups},
      // 4.6 delivery
      {"max_deliver", "delivery.max_deliver", "--max-deliver", "", "IRONBUS_MAX_DELIVER", N, HOT, "",
       "Deliveries before the dead-letter queue (default 5; 0 = unlimited)", &C::max_deliver},
      {"allow_unlimited_deliver", "delivery.allow_unlimited_deliver", "--allow-unlimited-deliver", "",
       "IRONBUS_ALLOW_UNLIMITED_DELIVER", BOOL, COLD, "", "Accept --max-deliver 0", &C::allow_unlimited_deliver},
      {"backoff_ms", "delivery.backoff_ms", "--backoff-ms", "", "IRONBUS_BACKOFF_MS", UL, HOT, "",
       "Nack backoff, ms per attempt (a single 0 disables)", &C::backoff_ms},
      {"visibility_timeout_ms", "delivery.visibility_timeout_ms", "--visibility-timeout-ms", "--visibility-timeout",
       "IRONBUS_VISIBILITY_TIMEOUT_MS", MS, HOT, "", "Lease length before redelivery (>= 1)",
       &C::visibility_timeout_ms},
      {"checkpoint_interval", "delivery.checkpoint_interval", "--checkpoint-interval", "",
       "IRONBUS_CHECKPOINT_INTERVAL", N, HOT, "", "Cursor advance between cursor checkpoints",
       &C::checkpoint_interval},
      {"dedup_max_ids", "delivery.dedup_max_ids", "--dedup-max-ids", "", "IRONBUS_DEDUP_MAX_IDS", N, HOT, "",
       "Producer msg_id window: ids per producer", &C::dedup_max_ids},
      {"dedup_window_ms", "delivery.dedup_window_ms", "--dedup-window-ms", "", "IRONBUS_DEDUP_WINDOW_MS", MS, HOT,
       "", "Producer msg_id window: age (0 = count only)", &C::dedup_window_ms},
      {"dedup_max_producers", "delivery.dedup_max_producers", "--dedup-max-producers", "",
       "IRONBUS_DEDUP_MAX_PRODUCERS", N, HOT, "", "Producer windows kept", &C::dedup_max_producers},
      // 4.7 load shedding
      {"codel_target_ms", "backpressure.codel_target_ms", "--codel-target-ms", "", "IRONBUS_CODEL_TARGET_MS", MS,
       COLD, "", "CoDel target (0 = off; not built)", &C::codel_target_ms},
      {"codel_interval_ms", "backpressure.codel_interval_ms", "--codel-interval-ms", "", "IRONBUS_CODEL_INTERVAL_MS",
       MS, COLD, "", "CoDel interval", &C::codel_interval_ms},
      {"retry_budget_ratio_ppm", "backpressure.retry_budget_ratio_per_million", "--retry-budget-ratio-ppm", "",
       "IRONBUS_RETRY_BUDGET_RATIO_PPM", N, COLD, "", "Retry budget (0 = off; not built)", &C::retry_budget_ratio_ppm},
      {"retry_budget_window_ms", "backpressure.retry_budget_window_ms", "--retry-budget-window-ms", "",
       "IRONBUS_RETRY_BUDGET_WINDOW_MS", MS, COLD, "", "Retry budget window (> 0)", &C::retry_budget_window_ms},
      {"fire_and_forget_msg_rate", "backpressure.fire_and_forget_msg_rate", "--fire-and-forget-msg-rate", "",
       "IRONBUS_FIRE_AND_FORGET_MSG_RATE", N, COLD, "", "msg/s (0 = off; not built)", &C::fire_and_forget_msg_rate},
      {"fire_and_forget_byte_rate", "backpressure.fire_and_forget_byte_rate", "--fire-and-forget-byte-rate", "",
       "IRONBUS_FIRE_AND_FORGET_BYTE_RATE", N, COLD, "", "bytes/s (0 = off; not built)",
       &C::fire_and_forget_byte_rate},
      {"fire_and_forget_refill_ms", "backpressure.fire_and_forget_refill_ms", "--fire-and-forget-refill-ms", "",
       "IRONBUS_FIRE_AND_FORGET_REFILL_MS", MS, COLD, "", "Token refill period", &C::fire_and_forget_refill_ms},
      {"egress_limit", "backpressure.egress_limit", "--egress-limit", "", "IRONBUS_EGRESS_LIMIT", N, COLD, "",
       "AIMD egress limit (0 = off; not built)", &C::egress_limit},
      // 4.8 observability (no file keys: [observability] is reserved)
      {"log_level", "", "--log-level", "", "IRONBUS_LOG_LEVEL", E, NONE, "error|warn|info|debug|trace", "Log level",
       &C::log_level},
      {"log_format", "", "--log-format", "", "IRONBUS_LOG_FORMAT", E, NONE, "auto|text|json", "Log format",
       &C::log_format},
      {"enable_otlp_export", "", "--enable-otlp-export", "", "IRONBUS_ENABLE_OTLP_EXPORT", BOOL, NONE, "",
       "OTLP export (not in this build)", &C::enable_otlp_export},
      {"otlp_endpoint", "", "--otlp-endpoint", "", "IRONBUS_OTLP_ENDPOINT", S, NONE, "", "OTLP endpoint",
       &C::otlp_endpoint},
  };
  return keys;
}

const KeySpec* FindByFileKey(std::string_view file_key) {
  for (const KeySpec& k : Keys()) {
    if (!k.file_key.empty() && k.file_key == file_key) return &k;
  }
  return nullptr;
}

const KeySpec* FindByFlag(std::string_view flag) {
  for (const KeySpec& k : Keys()) {
    if (k.flag == flag || (!k.flag_alias.empty() && k.flag_alias == flag)) return &k;
  }
  return nullptr;
}

const KeySpec* FindByName(std::string_view name) {
  for (const KeySpec& k : Keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// Spec 5.4, PROFILE_SCHEMA_VERSION 1. Changing a cell bumps kProfileSchemaVersion.
const std::vector<Profile>& Profiles() {
  static const std::vector<Profile> profiles = {
      {"edge-tiny", 8ull << 20, 8, 256ull << 10, 32, 64, 256, "drop-new", 1024, 30'000, 5, 64ull << 20},
      {"balanced", 64ull << 20, 64, 8ull << 20, 256, 1024, 1024, "drop-new", 1024, 30'000, 5, 0},
      {"throughput", 256ull << 20, 512, 64ull << 20, 1024, 4096, 8192, "drop-oldest", 4096, 30'000, 5, 0},
  };
  return profiles;
}

const Profile* FindProfile(std::string_view name) {
  for (const Profile& p : Profiles()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

void ApplyProfile(const Profile& p, Config* c) {
  c->profile = std::string(p.name);
  c->max_segment_bytes = p.max_segment_bytes;
  c->consumer_credit = p.consumer_credit;
  c->consumer_credit_bytes = p.consumer_credit_bytes;
  c->max_connections = p.max_connections;
  c->max_groups = p.max_groups;
  c->max_in_flight = p.max_in_flight;
  c->disk_full_policy = std::string(p.disk_full_policy);
  c->checkpoint_interval = p.checkpoint_interval;
  c->visibility_timeout_ms = p.visibility_timeout_ms;
  c->max_deliver = p.max_deliver;
  c->ram_ceiling_bytes = p.ram_ceiling_bytes;
}

}  // namespace ironbus::config
