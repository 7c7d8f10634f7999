// Secret sourcing (spec/security.md 6.2): the permission check every secret-bearing file passes
// before it is read (identity table, TLS key, at-rest key file, cluster peer secret), reading such
// a file into a Secret, and the decided second source, a secret named by an environment variable.
//
// The check, in this order (the first failing condition is reported):
//   missing               stat says ENOENT (or ENOTDIR)
//   unreadable            stat fails otherwise, the path is not a regular file, or open/read fails
//   group_world_readable  mode & 0o077 != 0 (any group or other bit: read, write or execute)
//   wrong_owner           the file is not owned by `expected_uid`, or its directory is owned by
//                         neither `expected_uid` nor root
// The message names the path and the condition (and the mode or owner uid, which are not secret)
// and never reads or quotes the contents. The condition is also returned as a value for the
// `secret_permission_refusal` audit event.
//
// Why both file and environment: the reference implements files and only specifies environment
// variables; the spec decides to implement both. A file is preferred: an environment value is
// visible in /proc/<pid>/environ to the same user and is inherited by children.
//
// Thread safety: free functions; no shared state.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/status.h"
#include "security/secret.h"

namespace ironbus::security {

enum class SecretFileCondition { kGroupWorldReadable, kWrongOwner, kMissing, kUnreadable };

// "group_world_readable", "wrong_owner", "missing", "unreadable".
std::string_view SecretFileConditionName(SecretFileCondition condition);

// A secret file larger than this is refused as unreadable (no secret we read comes close; it
// bounds the allocation).
inline constexpr size_t kMaxSecretFileBytes = 16u << 20;

// Ok, or: NotFound (missing), IOError (unreadable), FailedPrecondition (group_world_readable,
// wrong_owner). `*condition` (when given) receives the failing condition, untouched on success.
Status CheckSecretFile(const std::string& path, uid_t expected_uid,
                       SecretFileCondition* condition = nullptr);

// CheckSecretFile, then opens (O_NOFOLLOW), re-checks the open file's mode and owner (the file
// could have been swapped between stat and open), and reads it whole. An empty file is an error
// (InvalidArgument, "is empty").
Result<Secret> ReadSecretFile(const std::string& path, uid_t expected_uid,
                              SecretFileCondition* condition = nullptr);

// The value of environment variable `name`. NotFound when unset, InvalidArgument when empty; the
// message names the variable, never the value. The variable is left set (unsetenv would not clear
// /proc/<pid>/environ anyway).
Result<Secret> ReadSecretFromEnv(const std::string& name);

}  // namespace ironbus::security
