#include "storage/key_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ironbus::storage {
namespace {

Status Refuse(const std::string& path, const char* condition, const std::string& detail = "") {
  return Status::FailedPrecondition("at-rest key file " + path + ": " + condition +
                                    (detail.empty() ? "" : " (" + detail + ")"));
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Wipes the buffer on every return path.
struct WipedBuffer {
  uint8_t bytes[format::kAeadKeySize + 1] = {};
  ~WipedBuffer() { OPENSSL_cleanse(bytes, sizeof(bytes)); }
};

}  // namespace

Result<uint64_t> LoadKeyFile(const std::string& path, format::KeyRing* ring) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Refuse(path, "missing") : Refuse(path, "unreadable", std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Refuse(path, "unreadable", "not a regular file");
  if ((st.st_mode & 0077) != 0) return Refuse(path, "group_world_readable", "mode must be 0600");
  if (st.st_uid != ::geteuid()) return Refuse(path, "wrong_owner", "not owned by the broker's user");
  struct stat dir {};
  const std::string parent = ParentDir(path);
  if (::stat(parent.c_str(), &dir) != 0) return Refuse(path, "unreadable", "cannot stat " + parent);
  if (dir.st_uid != ::geteuid() && dir.st_uid != 0) {
    return Refuse(path, "wrong_owner", "directory " + parent + " owned by neither the broker's user nor root");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Refuse(path, "unreadable", std::strerror(errno));
  WipedBuffer buf;
  size_t got = 0;
  // One byte more than a key, to tell "exactly 32" from "longer".
  while (got < sizeof(buf.bytes)) {
    const ssize_t n = ::read(fd, buf.bytes + got, sizeof(buf.bytes) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Refuse(path, "unreadable", std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != format::kAeadKeySize) {
    return Status::InvalidArgument("at-rest key file " + path + ": must be exactly 32 bytes, it has " +
                                   (got > format::kAeadKeySize ? std::string("more") : std::to_string(got)));
  }
  Result<uint64_t> id = ring->AddDerived(ByteView(buf.bytes, format::kAeadKeySize));
  if (!id.ok()) return id.status().WithContext("at-rest key file " + path);
  return id;
}

Result<std::shared_ptr<const format::KeyRing>> LoadKeyRing(const std::string& active_key_file,
                                                          const std::vector<std::string>& old_key_files,
                                                          format::AeadSuite suite) {
  if (active_key_file.empty() && old_key_files.empty()) return std::shared_ptr<const format::KeyRing>();
  auto ring = std::make_shared<format::KeyRing>();
  ring->set_suite(suite);
  if (!active_key_file.empty()) {
    ASSIGN_OR_RETURN(uint64_t id, LoadKeyFile(active_key_file, ring.get()));
    RETURN_IF_ERROR(ring->SetActive(id));
  }
  for (const std::string& path : old_key_files) {
    ASSIGN_OR_RETURN(uint64_t id, LoadKeyFile(path, ring.get()));
    (void)id;
  }
  return std::shared_ptr<const format::KeyRing>(std::move(ring));
}

}  // namespace ironbus::storage
