// The permission check of spec 6.2. stat() before open() so a refused file is never opened, then
// fstat() on the descriptor so what we read is what we checked.
#include "security/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ironbus::security {
namespace {

std::string Octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status Refuse(const std::string& path, SecretFileCondition c, const std::string& detail,
              SecretFileCondition* out) {
  if (out != nullptr) *out = c;
  std::string msg = "secret file " + path + ": " + std::string(SecretFileConditionName(c)) + " (" + detail + ")";
  switch (c) {
    case SecretFileCondition::kMissing: return Status::NotFound(std::move(msg));
    case SecretFileCondition::kUnreadable: return Status::IOError(std::move(msg), errno);
    default: return Status::FailedPrecondition(std::move(msg));
  }
}

// Mode and owner of the file itself, shared by the path check and the descriptor re-check.
Status CheckModeAndOwner(const std::string& path, const struct stat& st, uid_t expected_uid,
                         SecretFileCondition* out) {
  if (!S_ISREG(st.st_mode)) {
    errno = 0;
    return Refuse(path, SecretFileCondition::kUnreadable, "not a regular file", out);
  }
  if ((st.st_mode & 077) != 0) {
    return Refuse(path, SecretFileCondition::kGroupWorldReadable,
                  "mode " + Octal(st.st_mode) + "; required 0600 or stricter, hint: chmod 600 " + path, out);
  }
  if (st.st_uid != expected_uid) {
    return Refuse(path, SecretFileCondition::kWrongOwner,
                  "owned by uid " + std::to_string(st.st_uid) + ", the broker runs as uid " +
                      std::to_string(expected_uid),
                  out);
  }
  return Status::Ok();
}

}  // namespace

std::string_view SecretFileConditionName(SecretFileCondition condition) {
  switch (condition) {
    case SecretFileCondition::kGroupWorldReadable: return "group_world_readable";
    case SecretFileCondition::kWrongOwner: return "wrong_owner";
    case SecretFileCondition::kMissing: return "missing";
    case SecretFileCondition::kUnreadable: return "unreadable";
  }
  return "unreadable";
}

Status CheckSecretFile(const std::string& path, uid_t expected_uid, SecretFileCondition* condition) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
      return Refuse(path, SecretFileCondition::kMissing, std::strerror(e), condition);
    }
    return Refuse(path, SecretFileCondition::kUnreadable, std::strerror(e), condition);
  }
  RETURN_IF_ERROR(CheckModeAndOwner(path, st, expected_uid, condition));
  const std::string dir = DirOf(path);
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) {
    return Refuse(path, SecretFileCondition::kUnreadable, "directory " + dir + ": " + std::strerror(errno),
                  condition);
  }
  if (dst.st_uid != expected_uid && dst.st_uid != 0) {
    return Refuse(path, SecretFileCondition::kWrongOwner,
                  "directory " + dir + " owned by uid " + std::to_string(dst.st_uid) +
                      ", must be the broker's uid " + std::to_string(expected_uid) + " or root",
                  condition);
  }
  return Status::Ok();
}

Result<Secret> ReadSecretFile(const std::string& path, uid_t expected_uid, SecretFileCondition* condition) {
  RETURN_IF_ERROR(CheckSecretFile(path, expected_uid, condition));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Refuse(path, SecretFileCondition::kUnreadable, std::strerror(errno), condition);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Refuse(path, SecretFileCondition::kUnreadable, std::strerror(errno), condition);
  RETURN_IF_ERROR(CheckModeAndOwner(path, st, expected_uid, condition));
  if (static_cast<uint64_t>(st.st_size) > kMaxSecretFileBytes) {
    errno = 0;
    return Refuse(path, SecretFileCondition::kUnreadable,
                  "larger than " + std::to_string(kMaxSecretFileBytes) + " bytes", condition);
  }
  // One byte more than stat said, to notice a file that grew meanwhile.
  Secret buf = Secret::OfSize(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::read(fd, buf.MutableBytesForFill() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Refuse(path, SecretFileCondition::kUnreadable, std::strerror(errno), condition);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == buf.size()) {
    errno = 0;
    return Refuse(path, SecretFileCondition::kUnreadable, "changed size while being read", condition);
  }
  if (got == 0) return Status::InvalidArgument("secret file " + path + ": is empty");
  return Secret(buf.RevealBytesForUse().substr(0, got));
}

Result<Secret> ReadSecretFromEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return Status::NotFound("secret environment variable " + name + " is not set");
  if (*v == '\0') return Status::InvalidArgument("secret environment variable " + name + " is empty");
  return Secret(std::string_view(v));
}

}  // namespace ironbus::security
