// The security audit stream (spec/security.md 6.5): one emitter, one JSON object per line.
//
// The interface takes identity names, paths, addresses and reason words, never a credential:
// there is no parameter through which a token, password, key, hash or payload could travel.
//
// Every line carries `seq` (per-process u64, strictly increasing: the ordering authority) and
// `ts_ms` (wall-clock Unix milliseconds, for people; may jump). The event set and field names
// are frozen by tests/security/audit_test.cc:
//
//   {"seq":1,"ts_ms":..,"event":"authn","identity":"svc|<unknown>","mechanism":"bearer|password|mtls",
//    "outcome":"success|failure"[,"reason":"unknown_user|..."]}
//   {"seq":2,"ts_ms":..,"event":"authz_denial","identity":"svc","scope":"publish","verb":"Pub"}
//   {"seq":3,"ts_ms":..,"event":"preauth_rejection","source_ip":"203.0.113.9",
//    "reason":"rate_limited|half_open_cap|locked_out"}
//   {"seq":4,"ts_ms":..,"event":"secret_permission_refusal","path":"/etc/ironbus/auth.toml",
//    "condition":"group_world_readable|wrong_owner|missing|unreadable"}
//   {"seq":5,"ts_ms":..,"event":"identity_reload","added_count":1,"removed_count":0,"changed_count":1,
//    "added":["a"],"removed":[],"changed":["b"]}
//
// `reason` on an authn failure is the internal AuthFailure (spec 3: the reason may go to the
// audit log only; the wire always says `Authorization Violation`).
//
// Sinks: `--audit-log stderr` (fd 2) or `--audit-log @<path>` (opened O_APPEND|O_CREAT, 0600).
// Each line is one write(2), so lines from this process never interleave.
//
// Thread safety: every Emit* may be called concurrently; seq order equals line order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/result.h"
#include "security/identities.h"
#include "security/preauth.h"
#include "security/secret_file.h"

namespace ironbus::security {

inline constexpr std::string_view kUnknownIdentity = "<unknown>";

class AuditLog {
 public:
  using Sink = std::function<void(std::string_view line)>;  // one line, without the newline

  // `spec` is "stderr" or "@<path>"; InvalidArgument otherwise, IOError if the file cannot be
  // opened. `clock` (NowUnixMs) must outlive the log.
  static Result<std::unique_ptr<AuditLog>> Open(std::string_view spec, const Clock* clock);
  // Tests and embedders: lines go to `sink`.
  AuditLog(Sink sink, const Clock* clock);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // `identity` empty = `<unknown>` (a failed credential names nobody). `failure` is ignored on
  // success.
  void Authn(std::string_view identity, Mechanism mechanism, bool success,
             AuthFailure failure = AuthFailure::kNone);
  // `scope`: ScopeRequirementName of what the verb needed; `verb`: the frame's name.
  void AuthzDenial(std::string_view identity, std::string_view scope, std::string_view verb);
  // `reason` is one of the three refusals (kAdmit is ignored).
  void PreauthRejection(std::string_view source_ip, PreauthVerdict reason);
  void SecretPermissionRefusal(std::string_view path, SecretFileCondition condition);
  void IdentityReload(const IdentityDiff& diff);

  uint64_t last_seq() const;

 private:
  void Emit(std::string body);  // body = the fields after seq and ts_ms, each ",\"k\":v"

  Sink sink_;
  const Clock* const clock_;
  int fd_ = -1;  // owned file descriptor for "@path"
  mutable std::mutex mu_;
  uint64_t seq_ = 0;  // GUARDED_BY(mu_)
};

// JSON string literal with quotes; control bytes and non-UTF-8 bytes are \u-escaped so a hostile
// identity or path cannot break the line.
std::string JsonString(std::string_view s);

}  // namespace ironbus::security
