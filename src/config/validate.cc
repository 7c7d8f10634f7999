// Whole-config validation (spec/cli-config-ops.md 4.9 and the coupled rules of 5.5), the RAM
// guard (7.1), and the conversion into the running objects' options. Every error names the
// knob as its flag (the same name the env var and file key map to, docs/config.md).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>

#include "config/config.h"
#include "config/value_parse.h"

namespace ironbus::config {
namespace {

constexpr uint64_t kUnlimitedDeliver = 4294967295ull;

std::string Mib(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

uint64_t SatMul(uint64_t a, uint64_t b) {
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return p > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(p);
}
uint64_t SatAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

// spec/security.md 1.2: a bind is loopback only when every address it resolves to is in
// 127.0.0.0/8 or is ::1. The resolved addresses are classified, never the text typed, so a
// host name that resolves to a routable address is not loopback. A name that does not resolve
// is not loopback either (the bind would fail anyway, with its own message).
bool IsLoopbackHost(const std::string& host_in) {
  std::string host = host_in;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return false;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return false;
  bool all_loopback = true;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      all_loopback = all_loopback && (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    } else if (a->ai_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      all_loopback = all_loopback && IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
    } else {
      all_loopback = false;
    }
  }
  ::freeaddrinfo(found);
  return all_loopback;
}

// The bind decision table of spec/security.md 1.2, for a non-loopback --addr. "Identity
// configured" = an identity table (--auth-config); serve refuses to start when the table it
// loads is empty, so a configured table always holds at least one identity.
void CheckNonLoopbackBind(const Config& c, std::vector<std::string>* errors) {
  const bool tls = !c.tls_cert.empty() && !c.tls_key.empty();
  const bool identity = !c.auth_config.empty();
  const std::string at = "--addr " + c.addr + " is not loopback";
  if (tls && identity) return;
  if (!tls && !c.insecure_plaintext_wire) {
    errors->push_back(at + ": plaintext is never allowed off loopback; give --tls-cert and --tls-key (and an " +
                      "identity table), or bind 127.0.0.1 and terminate TLS in front");
  } else if (!tls && !identity) {
    errors->push_back(at + ": --insecure-plaintext-wire needs an identity table; plaintext and anonymous are " +
                      "never allowed together off loopback");
  } else if (!identity) {
    errors->push_back(at + ": a non-loopback bind needs an identity table (--auth-config) as well as TLS " +
                      "(spec/security.md 1.2)");
  }
}

// "host:port" -> host; "" and *why on a malformed address.
std::string HostOf(const std::string& addr, std::string* why) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    *why = "needs host:port, got \"" + addr + "\"";
    return "";
  }
  const auto port = ParseU64(std::string_view(addr).substr(colon + 1));
  if (!port || *port > 65535) {
    *why = "needs a port in 0..65535, got \"" + addr + "\"";
    return "";
  }
  return addr.substr(0, colon);
}

}  // namespace

void Validate(Loaded* loaded, bool file_set_retention) {
  const Config& c = loaded->config;
  auto& errors = loaded->errors;
  auto& warnings = loaded->warnings;
  auto at_least = [&](const char* flag, uint64_t v, uint64_t min, uint64_t max) {
    if (v < min || v > max) {
      errors.push_back(std::string(flag) + " must be in " + std::to_string(min) + ".." + std::to_string(max) +
                       ", got " + std::to_string(v));
    }
  };
  at_least("--max-connections", c.max_connections, 1, 1u << 20);
  at_least("--io-threads", c.io_threads, 1, 64);
  if (c.socket_send_buffer_bytes != 0) {
    at_least("--socket-send-buffer-bytes", c.socket_send_buffer_bytes, 4096, 1u << 30);
  }
  at_least("--max-segment-bytes", c.max_segment_bytes, 4096, UINT64_MAX);
  at_least("--consumer-credit", c.consumer_credit, 1, 1u << 20);
  at_least("--max-in-flight", c.max_in_flight, 1, UINT32_MAX);
  at_least("--visibility-timeout-ms", c.visibility_timeout_ms, 1, UINT64_MAX);
  at_least("--commit-gather-us", c.commit_gather_us, 0, 1'000'000);
  at_least("--retry-budget-ratio-ppm", c.retry_budget_ratio_ppm, 0, 1'000'000);
  at_least("--retry-budget-window-ms", c.retry_budget_window_ms, 1, UINT64_MAX);

  // Delivery (4.6).
  if (c.max_deliver == 0 || c.max_deliver == kUnlimitedDeliver) {
    if (!c.allow_unlimited_deliver) {
      errors.push_back("--max-deliver " + std::to_string(c.max_deliver) +
                       " means unlimited redelivery; pass --allow-unlimited-deliver to accept that");
    } else {
      warnings.push_back("--max-deliver " + std::to_string(c.max_deliver) +
                         ": unlimited delivery, a poison message is redelivered forever and never dead-lettered");
    }
  } else if (c.max_deliver > kUnlimitedDeliver) {
    errors.push_back("--max-deliver must be at most 4294967294 (or 0 for unlimited), got " +
                     std::to_string(c.max_deliver));
  }
  if (c.backoff_ms.empty()) errors.push_back("--backoff-ms needs at least one value (a single 0 disables backoff)");

  // Durability (4.3).
  if ((c.durability_level == "async" || c.durability_level == "none") && !c.async_loss_ack) {
    errors.push_back("--durability-level " + c.durability_level +
                     " acknowledges writes a power cut can lose (worst case: everything written since the last "
                     "segment seal or clean stop); pass --async-loss-ack to accept that");
  }
  if (c.durability_level == "interval" && c.flush_interval_ms == 0 && c.flush_max_bytes == 0) {
    errors.push_back("--durability-level interval with --flush-interval-ms 0 and --flush-max-bytes 0 never syncs; "
                     "set at least one trigger");
  }
  if (c.durability_level == "interval") {
    warnings.push_back("durability level interval: acknowledged writes can be lost on a power cut (worst case: " +
                       std::to_string(c.flush_interval_ms) + " ms or " + std::to_string(c.flush_max_bytes) +
                       " bytes of acknowledged records, whichever comes first)");
  } else if (c.durability_level != "sync" && c.async_loss_ack) {
    warnings.push_back("durability level " + c.durability_level +
                       ": acknowledged writes can be lost on a power cut (worst case: everything since the last "
                       "segment seal or clean stop; invariant I2 waived)");
  }

  // Storage (4.2).
  if (c.storage == "memory") {
    if (!c.ephemeral_loss_ack) errors.push_back("--storage memory needs --ephemeral-loss-ack");
    if (c.max_total_bytes == 0) errors.push_back("--storage memory needs --max-total-bytes > 0");
    if (loaded->source_of["data_dir"] != "default") {
      errors.push_back("--storage memory: a data dir is set (" + loaded->source_of["data_dir"] +
                       "); remove it, a memory broker has no files");
    }
    if (errors.empty()) errors.push_back("--storage memory is not built in this build yet; use --storage disk");
  }
  if (c.compression == "zstd") errors.push_back("--compression zstd is not built in this build (use lz4 or none)");
  if (c.io_mode != "buffered") errors.push_back("--io-mode " + c.io_mode + " is not built in this build (use buffered)");

  // Load shedding (4.7): accepted and validated; enabling one is refused until it exists.
  const std::pair<const char*, uint64_t> shedding[] = {
      {"--codel-target-ms", c.codel_target_ms},
      {"--retry-budget-ratio-ppm", c.retry_budget_ratio_ppm},
      {"--fire-and-forget-msg-rate", c.fire_and_forget_msg_rate},
      {"--fire-and-forget-byte-rate", c.fire_and_forget_byte_rate},
      {"--egress-limit", c.egress_limit},
      {"--wal-fsync-headroom-bytes", c.wal_fsync_headroom_bytes}};
  for (const auto& [flag, v] : shedding) {
    if (v != 0) errors.push_back(std::string(flag) + " " + std::to_string(v) +
                                 ": this load-shedding feature is not built in this build; leave it at 0");
  }

  // Groups (4.5).
  const size_t named = c.key_shared_groups.size() + c.broadcast_groups.size();
  if (c.max_groups != 0 && named > c.max_groups) {
    errors.push_back(std::to_string(named) + " groups declared with --key-shared-group/--broadcast-group, more than "
                     "--max-groups " + std::to_string(c.max_groups));
  }
  queue::QueueOptions groups_only;  // the queue's own name and overlap rules, nothing else
  groups_only.key_shared_groups = c.key_shared_groups;
  groups_only.broadcast_groups = c.broadcast_groups;
  if (Status s = groups_only.Validate(); !s.ok()) {
    errors.push_back("--key-shared-group/--broadcast-group: " + s.message());
  }

  // Network (4.1).
  std::string why;
  const std::string host = HostOf(c.addr, &why);
  if (!why.empty()) {
    errors.push_back("--addr " + why);
  } else if (!IsLoopbackHost(host)) {
    CheckNonLoopbackBind(c, &errors);
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    errors.push_back(c.tls_cert.empty() ? "--tls-key needs --tls-cert: give both or neither"
                                        : "--tls-cert needs --tls-key: give both or neither");
  }
  if (!c.tls_client_ca.empty() && c.tls_cert.empty()) {
    errors.push_back("--tls-client-ca needs --tls-cert and --tls-key (mTLS is TLS with client certificates)");
  }
  if (!c.tls_client_ca.empty() && c.auth_config.empty()) {
    errors.push_back("--tls-client-ca needs an identity table (--auth-config) with san identities: a verified "
                     "certificate alone grants no scope (spec/security.md 2.3)");
  }
  if (c.max_concurrent_password_verifies < 1 || c.max_concurrent_password_verifies > 64) {
    errors.push_back("--max-concurrent-password-verifies must be in 1..64, got " +
                     std::to_string(c.max_concurrent_password_verifies));
  }
  if (c.audit_log != "stderr" && (c.audit_log.size() < 2 || c.audit_log[0] != '@')) {
    errors.push_back("--audit-log must be stderr or @<file>, got \"" + c.audit_log + "\"");
  }
  if (c.auth_failure_window_ms == 0 && c.auth_failure_lockout != 0) {
    errors.push_back("--auth-failure-window-ms must be > 0 while --auth-failure-lockout is on");
  }
  if (!c.health_addr.empty()) {
    why.clear();
    const std::string health_host = HostOf(c.health_addr, &why);
    if (!why.empty()) {
      errors.push_back("--health-addr " + why);
    } else if (!IsLoopbackHost(health_host) && !c.health_allow_public) {
      errors.push_back("--health-addr " + c.health_addr + " is not loopback; pass --health-allow-public to accept it");
    }
  }
  if (c.enable_admin && c.health_addr.empty()) warnings.push_back("--enable-admin has no effect without --health-addr");

  // Accepted but not enforced by this build: say so rather than pretend.
  const std::pair<const char*, bool> unenforced[] = {
      {"--daily-physical-write-budget-bytes", c.daily_physical_write_budget_bytes != 0},
      {"--commit-gather-us", c.commit_gather_us != 200},
      {"--enable-otlp-export", c.enable_otlp_export}};
  for (const auto& [flag, set] : unenforced) {
    if (set) warnings.push_back(std::string(flag) + " is accepted but not applied by this build");
  }

  // Coupled rules (5.5).
  if (file_set_retention && c.max_retained_bytes == 0 && c.max_age_ms == 0 && c.max_messages == 0) {
    errors.push_back("[retention] is in the config file but every limit is 0 (retention requested but every limit "
                     "is 0); set max_retained_bytes, max_age_ms or max_messages, or remove the section");
  }
  if (c.disk_full_policy == "drop-oldest" && c.max_total_bytes == 0 && c.min_free_bytes == 0) {
    warnings.push_back(
        "disk_full_policy drop-oldest with max_total_bytes 0 and min_free_bytes 0: the policy can never trigger");
  }
  const RamEstimate ram = EstimateRam(c);
  if (!ram.fits()) errors.push_back(RamRefusal(c, ram));
}

bool BindIsLoopback(const std::string& addr) {
  std::string why;
  const std::string host = HostOf(addr, &why);
  return why.empty() && IsLoopbackHost(host);
}

RamEstimate EstimateRam(const Config& c) {
  RamEstimate r;
  r.per_conn_inflight =
      c.consumer_credit_bytes > 0 ? c.consumer_credit_bytes : SatMul(c.consumer_credit, kRamMaxFrameLen);
  r.term1 = SatMul(c.max_connections, r.per_conn_inflight);
  r.term3 = SatMul(SatMul(c.max_groups, c.max_in_flight), kRamPerLeaseBytes);
  r.term5 = SatAdd(kRamFixedOverheadBytes, SatMul(c.max_connections, kRamPerConnectionStackBytes));
  r.memory_store = c.storage == "memory" ? c.max_total_bytes : 0;
  // Each Argon2id verify holds its memory cost (19 MiB at the edge parameters, spec 2.2).
  r.password_verifies = c.auth_config.empty() ? 0 : SatMul(c.max_concurrent_password_verifies, 19456ull * 1024);
  r.tls_connections = c.tls_cert.empty() ? 0 : SatMul(c.max_connections, kRamPerTlsConnectionBytes);
  r.worst_case = SatAdd(SatAdd(SatAdd(SatAdd(SatAdd(r.term1, r.term3), r.term5), r.memory_store), r.password_verifies),
                        r.tls_connections);
  r.ceiling = c.ram_ceiling_bytes;
  return r;
}

std::string RamRefusal(const Config& c, const RamEstimate& r) {
  std::string out = "RAM guard: the configured caps allow a worst case of " + std::to_string(r.worst_case) +
                    " bytes (" + Mib(r.worst_case) + "), over --ram-ceiling-bytes " + std::to_string(r.ceiling) +
                    " (" + Mib(r.ceiling) + ", profile " + c.profile + ") by " +
                    std::to_string(r.worst_case - r.ceiling) + " bytes. Terms: connections x per-connection credit " +
                    Mib(r.term1) + ", groups x in-flight leases " + Mib(r.term3) + ", fixed + connection stacks " +
                    Mib(r.term5);
  if (r.memory_store != 0) out += ", memory store " + Mib(r.memory_store);
  if (r.tls_connections != 0) out += ", TLS buffers " + Mib(r.tls_connections) + " (96 KiB per connection)";
  if (r.password_verifies != 0) {
    out += ", password verifies " + Mib(r.password_verifies) + " (--max-concurrent-password-verifies " +
           std::to_string(c.max_concurrent_password_verifies) + " x 19 MiB)";
  }
  out += ". Lower --max-connections (" + std::to_string(c.max_connections) + "), --consumer-credit-bytes (" +
         std::to_string(c.consumer_credit_bytes) + (c.consumer_credit_bytes == 0 ? " = unlimited" : "") +
         "), --consumer-credit (" + std::to_string(c.consumer_credit) + "), --max-groups (" +
         std::to_string(c.max_groups) + ") or --max-in-flight (" + std::to_string(c.max_in_flight) +
         "), or raise the ceiling; see docs/config.md, section RAM guard";
  return out;
}

storage::LogOptions ToLogOptions(const Config& c) {
  storage::LogOptions o;
  o.max_segment_bytes = c.max_segment_bytes;
  if (c.durability_level == "interval") {
    o.durability = storage::Durability::kInterval;
  } else if (c.durability_level == "async" || c.durability_level == "none") {
    o.durability = storage::Durability::kNone;
    o.relaxed_durability_acknowledged = c.async_loss_ack;
  }
  o.flush_interval_ms = static_cast<int64_t>(std::min<uint64_t>(c.flush_interval_ms, INT64_MAX));
  o.flush_max_bytes = c.flush_max_bytes;
  o.compression = c.compression == "none" ? format::Compression::kNone : format::Compression::kLz4;
  o.retention = {c.max_retained_bytes, static_cast<int64_t>(std::min<uint64_t>(c.max_age_ms, INT64_MAX)),
                 c.max_messages};
  o.capacity.max_total_bytes = c.max_total_bytes;
  o.capacity.min_free_bytes = c.min_free_bytes;
  o.capacity.policy = c.disk_full_policy == "drop-oldest" ? storage::DiskFullPolicy::kDropOldest
                      : c.disk_full_policy == "block"     ? storage::DiskFullPolicy::kBlock
                                                          : storage::DiskFullPolicy::kDropNew;
  o.capacity.block_timeout_ms = static_cast<int64_t>(std::min<uint64_t>(c.block_timeout_ms, INT64_MAX));
  return o;
}

queue::QueueOptions ToQueueOptions(const Config& c) {
  queue::QueueOptions o;
  if (c.max_deliver == 0 || c.max_deliver >= kUnlimitedDeliver) {
    o.max_deliver = 0;
    o.allow_unlimited_deliver = c.allow_unlimited_deliver;
  } else {
    o.max_deliver = static_cast<uint32_t>(c.max_deliver);
  }
  o.backoff_ms = c.backoff_ms;
  o.group_idle_evict_ms = c.group_idle_evict_ms;
  if (o.backoff_ms.size() == 1 && o.backoff_ms[0] == 0) o.backoff_ms.clear();  // a single 0 disables backoff
  o.visibility_timeout_ms = c.visibility_timeout_ms;
  o.hard_cap_ms = std::max<uint64_t>(300'000, c.visibility_timeout_ms);
  o.checkpoint_interval = c.checkpoint_interval;
  o.max_in_flight = static_cast<uint32_t>(std::min<uint64_t>(c.max_in_flight, UINT32_MAX));
  o.max_groups = c.max_groups;
  o.key_shared_groups = c.key_shared_groups;
  o.broadcast_groups = c.broadcast_groups;
  return o;
}

}  // namespace ironbus::config
