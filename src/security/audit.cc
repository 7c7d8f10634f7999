// The audit emitter. JSON is written by hand (security links base only); values are escaped
// byte by byte so every line stays one valid JSON object.
#include "security/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ironbus::security {
namespace {

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report it: the audit sink itself failed
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// The line and its newline in one write(2).
void WriteLine(int fd, std::string_view line) {
  std::string l(line);
  l += '\n';
  WriteAll(fd, l);
}

std::string Field(std::string_view key, std::string_view value) {
  return ",\"" + std::string(key) + "\":" + JsonString(value);
}

std::string NameList(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + JsonString(names[i]);
  return out + "]";
}

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7F) {  // non-ASCII too: keeps the line valid whatever the bytes
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(std::string_view spec, const Clock* clock) {
  if (spec == "stderr") {
    return std::make_unique<AuditLog>([](std::string_view line) { WriteLine(2, line); }, clock);
  }
  if (spec.size() < 2 || spec[0] != '@') {
    return Status::InvalidArgument("--audit-log must be `stderr` or `@<path>`, got `" + std::string(spec) + "`");
  }
  const std::string path(spec.substr(1));
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("audit log " + path + ": cannot open: " + std::strerror(errno), errno);
  auto log = std::make_unique<AuditLog>([fd](std::string_view line) { WriteLine(fd, line); }, clock);
  log->fd_ = fd;
  return log;
}

AuditLog::AuditLog(Sink sink, const Clock* clock) : sink_(std::move(sink)), clock_(clock) {}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::Emit(std::string body) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t seq = ++seq_;
  std::string line = "{\"seq\":" + std::to_string(seq) + ",\"ts_ms\":" + std::to_string(clock_->NowUnixMs()) +
                     body + "}";
  if (sink_) sink_(line);
}

void AuditLog::Authn(std::string_view identity, Mechanism mechanism, bool success, AuthFailure failure) {
  std::string body = Field("event", "authn") + Field("identity", identity.empty() ? kUnknownIdentity : identity) +
                     Field("mechanism", MechanismName(mechanism)) + Field("outcome", success ? "success" : "failure");
  if (!success && failure != AuthFailure::kNone) body += Field("reason", AuthFailureName(failure));
  Emit(std::move(body));
}

void AuditLog::AuthzDenial(std::string_view identity, std::string_view scope, std::string_view verb) {
  Emit(Field("event", "authz_denial") + Field("identity", identity.empty() ? kUnknownIdentity : identity) +
       Field("scope", scope) + Field("verb", verb));
}

void AuditLog::PreauthRejection(std::string_view source_ip, PreauthVerdict reason) {
  if (reason == PreauthVerdict::kAdmit) return;
  Emit(Field("event", "preauth_rejection") + Field("source_ip", source_ip) +
       Field("reason", PreauthVerdictName(reason)));
}

void AuditLog::SecretPermissionRefusal(std::string_view path, SecretFileCondition condition) {
  Emit(Field("event", "secret_permission_refusal") + Field("path", path) +
       Field("condition", SecretFileConditionName(condition)));
}

void AuditLog::IdentityReload(const IdentityDiff& diff) {
  Emit(Field("event", "identity_reload") + ",\"added_count\":" + std::to_string(diff.added.size()) +
       ",\"removed_count\":" + std::to_string(diff.removed.size()) +
       ",\"changed_count\":" + std::to_string(diff.changed.size()) + ",\"added\":" + NameList(diff.added) +
       ",\"removed\":" + NameList(diff.removed) + ",\"changed\":" + NameList(diff.changed));
}

uint64_t AuditLog::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

}  // namespace ironbus::security
