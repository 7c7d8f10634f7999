// config::Config: every `serve` knob of spec/cli-config-ops.md section 4 that this build knows,
// resolved once at start from five layers (section 5.1):
//
//   compiled defaults  <  profile preset  <  TOML file  <  IRONBUS_* env  <  command-line flag
//
// The compiled defaults are exactly the `balanced` profile. Load() parses every layer, applies
// them in that order, then validates the result as a whole (section 4.9, the coupled rules of
// 5.5 and the RAM guard of 7.1). It never throws and never touches the data directory: `serve`
// and `config check` call it before any port opens, and `serve` calls it again on SIGHUP.
//
// Thread safety: pure functions over values; a Config is an immutable value once loaded.
// docs/config.md is the user-facing description of every key and must match kKeys.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "queue/queue_options.h"
#include "storage/log_options.h"

namespace ironbus::config {

// Bumped whenever a cell of the profile table (Profiles()) changes (spec 5.4).
inline constexpr int kProfileSchemaVersion = 1;

// RAM guard constants (spec 7.1), defined here and nowhere else. kRamMaxFrameLen is the wire
// frame cap (protocol::kMaxFrameLen; config may not include protocol/, a test checks they match).
inline constexpr uint64_t kRamMaxFrameLen = 16ull * 1024 * 1024 + 64 * 1024;  // 16842752
inline constexpr uint64_t kRamPerLeaseBytes = 64;
inline constexpr uint64_t kRamFixedOverheadBytes = 4ull * 1024 * 1024;
inline constexpr uint64_t kRamPerConnectionStackBytes = 64ull * 1024;
// A TLS connection's own buffers: asio's SSL stream keeps two 17 KiB record buffers, OpenSSL's
// BIO pair two more, plus the SSL object and handshake state. Measured: 2,000 stalled TLS
// handshakes added 189 MB of RSS, about 95 KB each (docs/security.md).
inline constexpr uint64_t kRamPerTlsConnectionBytes = 96ull * 1024;

struct Config {
  std::string profile = "balanced";
  // 4.1 placement and network
  std::string data_dir;  // "" = the compiled default (serve resolves it, DESIGN.md D4)
  std::string addr = "127.0.0.1:7777";
  // TLS 1.3 material (spec/security.md 1.1): paths, "" = plain TCP (loopback only).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  uint64_t handshake_timeout_ms = 10'000;
  bool insecure_plaintext_wire = false;
  // Authentication (spec/security.md 2-4, 6.5): the identity table (a secret file; "" = no
  // authentication), the audit log, the pre-auth defences (non-loopback binds) and the bound on
  // concurrent Argon2id verifies.
  std::string auth_config;
  std::string audit_log = "stderr";
  uint64_t max_preauth_connections = 128;
  uint64_t preauth_rate_per_ip = 10;
  uint64_t auth_failure_lockout = 5;
  uint64_t auth_failure_window_ms = 60'000;
  uint64_t auth_lockout_max_ms = 300'000;
  uint64_t max_concurrent_password_verifies = 2;
  std::string health_addr;  // "" = off
  bool health_allow_public = false;
  uint64_t health_liveness_window_ms = 10'000;
  bool enable_admin = false;
  uint64_t max_connections = 256;
  // C++ addition: SO_SNDBUF of each accepted client socket. Bounds the kernel memory a client
  // that stops reading can pin (Linux autotunes up to tcp_wmem's max, 4 MiB) and how soon its
  // stuck reply write starts the write_timeout clock. 0 = leave it to the OS.
  uint64_t socket_send_buffer_bytes = 0;
  // C++ addition: asio io threads (flag and env only). One by default: on 2 cores it gave the
  // lowest publish latency and the same throughput as two (docs/performance.md, "io threads").
  uint64_t io_threads = 1;
  // 4.2 storage
  std::string storage = "disk";
  bool ephemeral_loss_ack = false;
  uint64_t max_segment_bytes = 64ull << 20;
  uint64_t max_total_bytes = 0;
  std::string disk_full_policy = "drop-new";
  uint64_t min_free_bytes = 64ull << 20;
  uint64_t block_timeout_ms = 5000;
  std::string compression = "lz4";
  std::string io_mode = "buffered";
  uint64_t daily_physical_write_budget_bytes = 0;
  // at-rest encryption (spec/security.md 5; serve loads the files, storage/key_file.h)
  std::string encryption_key_file;                     // "" = off
  std::vector<std::string> encryption_old_key_files;  // read-only keys of earlier rotations
  std::string encryption_suite = "auto";
  // 4.3 durability
  std::string durability_level = "sync";
  uint64_t flush_interval_ms = 1000;
  uint64_t flush_max_bytes = 1ull << 20;
  bool async_loss_ack = false;
  uint64_t commit_gather_us = 200;
  uint64_t wal_fsync_headroom_bytes = 0;
  // 4.4 retention
  uint64_t max_retained_bytes = 0;
  uint64_t max_age_ms = 0;
  uint64_t max_messages = 0;
  // 4.5 flow control and groups
  uint64_t consumer_credit = 64;
  uint64_t consumer_credit_bytes = 8ull << 20;
  uint64_t max_in_flight = 1024;
  uint64_t max_groups = 1024;
  uint64_t group_idle_evict_ms = 0;
  uint64_t ram_ceiling_bytes = 0;
  std::vector<std::string> key_shared_groups;
  std::vector<std::string> broadcast_groups;
  // 4.6 delivery
  uint64_t max_deliver = 5;
  bool allow_unlimited_deliver = false;
  std::vector<uint64_t> backoff_ms = {100, 500, 2'000, 10'000, 30'000};
  uint64_t visibility_timeout_ms = 30'000;
  uint64_t checkpoint_interval = 1024;
  uint64_t dedup_max_ids = 100'000;
  uint64_t dedup_window_ms = 120'000;
  uint64_t dedup_max_producers = 4096;
  // 4.7 load shedding (accepted and validated; a non-zero enabling value is refused: not built)
  uint64_t codel_target_ms = 0;
  uint64_t codel_interval_ms = 100;
  uint64_t retry_budget_ratio_ppm = 0;
  uint64_t retry_budget_window_ms = 60'000;
  uint64_t fire_and_forget_msg_rate = 0;
  uint64_t fire_and_forget_byte_rate = 0;
  uint64_t fire_and_forget_refill_ms = 100;
  uint64_t egress_limit = 0;
  // 4.8 observability
  std::string log_level = "info";
  std::string log_format = "auto";  // auto = json when stderr is not a TTY, else text
  bool enable_otlp_export = false;
  std::string otlp_endpoint = "http://127.0.0.1:4317";

  bool operator==(const Config&) const = default;
};

// ---- the key table: one row per knob, in the order of the tables of spec section 4 ----

enum class Kind : uint8_t {
  kBytes,       // u64; in the file also "<int>B|KiB|MiB|GiB|TiB"
  kMillis,      // u64 ms; in the file also "<int>ms|s|m|h|d"
  kCount,       // u64
  kBool,        // true/1/false/0 (env, flags); a TOML boolean in the file
  kEnum,        // one of KeySpec::choices
  kString,
  kU64List,     // comma-separated (env, flags); a TOML integer array in the file
  kStringList,  // repeatable flag, command line only
};

enum class Reload : uint8_t {
  kLive,  // applied on SIGHUP (spec 5.6) where the running objects allow it
  kHot,   // "changed in file, takes effect after restart"
  kCold,  // a reload that changes it is rejected
  kNone,  // flag/env only: never changes on reload
};

using Field = std::variant<uint64_t Config::*, bool Config::*, std::string Config::*,
                           std::vector<uint64_t> Config::*, std::vector<std::string> Config::*>;

struct KeySpec {
  std::string_view name;        // materialized-config name: the flag without "--", '-' -> '_'
  std::string_view file_key;    // dotted TOML key; "" = flag/env only (spec 5.1)
  std::string_view flag;        // "--max-segment-bytes"
  std::string_view flag_alias;  // a second spelling kept for old scripts, or ""
  std::string_view env;         // "IRONBUS_..."; "" = none
  Kind kind;
  Reload reload;
  std::string_view choices;  // kEnum: "a|b|c"
  std::string_view help;
  Field field;
  bool secret = false;  // masked in the JSON dump (no key of this build is secret)
};

const std::vector<KeySpec>& Keys();
const KeySpec* FindByFileKey(std::string_view file_key);
const KeySpec* FindByFlag(std::string_view flag);  // either spelling
const KeySpec* FindByName(std::string_view name);

// ---- profiles (spec 5.4) ----

struct Profile {
  std::string_view name;
  uint64_t max_segment_bytes, consumer_credit, consumer_credit_bytes, max_connections, max_groups, max_in_flight;
  std::string_view disk_full_policy;
  uint64_t checkpoint_interval, visibility_timeout_ms, max_deliver, ram_ceiling_bytes;
};
const std::vector<Profile>& Profiles();  // edge-tiny, balanced, throughput
const Profile* FindProfile(std::string_view name);
void ApplyProfile(const Profile& profile, Config* config);

// ---- loading ----

struct Inputs {
  std::string config_path;  // "" = no file layer
  bool allow_unknown_config = false;
  std::map<std::string, std::string> env;  // IRONBUS_* variables (EnvFromProcess() at start)
  // Flags actually given, in command-line order, as (flag spelling, text); a repeatable flag
  // appears once per occurrence; a switch has text "true".
  std::vector<std::pair<std::string, std::string>> flags;
};
std::map<std::string, std::string> EnvFromProcess();

struct Loaded {
  Config config;
  std::vector<std::string> errors;    // each names the flag, env var or file:line:col key
  std::vector<std::string> warnings;  // printed as "WARN: ..." by the verbs
  std::map<std::string, std::string> source_of;  // KeySpec::name -> "default" | "profile ..." | file | env | flag
  bool ok() const { return errors.empty(); }
};
Loaded Load(const Inputs& inputs);

// Whole-config validation (4.9, 5.5, 7.1): appends to loaded->errors / warnings.
void Validate(Loaded* loaded, bool file_set_retention);

// ---- RAM guard (spec 7.1) ----

struct RamEstimate {
  uint64_t per_conn_inflight = 0;
  uint64_t term1 = 0;  // max_connections * per_conn_inflight
  uint64_t term3 = 0;  // max_groups * max_in_flight * kRamPerLeaseBytes
  uint64_t term5 = 0;  // fixed overhead + max_connections * per-connection stack
  uint64_t memory_store = 0;  // storage=memory: max_total_bytes
  uint64_t password_verifies = 0;  // with --auth-config: concurrent verifies x 19 MiB (Argon2id m)
  uint64_t tls_connections = 0;    // with TLS: max_connections x kRamPerTlsConnectionBytes
  uint64_t worst_case = 0;    // saturating sum
  uint64_t ceiling = 0;       // 0 = off
  bool fits() const { return ceiling == 0 || worst_case <= ceiling; }
};
RamEstimate EstimateRam(const Config& config);
// Whether host:port binds loopback only (every resolved address in 127.0.0.0/8 or ::1; spec/security.md 1.2).
bool BindIsLoopback(const std::string& addr);
// The refusal text: worst case, ceiling, overage and the caps to lower with their values.
std::string RamRefusal(const Config& config, const RamEstimate& estimate);

// ---- output ----

// "materialized-config profile=... profile_schema_version=1 <name>=<value>... storage=disk|memory"
std::string MaterializedLine(const Config& config);
// One JSON object {name: value, ...} in key-table order; secret keys are "***".
std::string ToJson(const Config& config);
// A key's value as text (lists comma-joined), as the materialized line prints it.
std::string ValueText(const Config& config, const KeySpec& key);

// ---- reload (spec 5.6) ----

struct Change {
  const KeySpec* key;
  std::string from, to;
};
std::vector<Change> Diff(const Config& running, const Config& next);

// ---- conversion to the running objects' options ----

storage::LogOptions ToLogOptions(const Config& config);
queue::QueueOptions ToQueueOptions(const Config& config);

}  // namespace ironbus::config
