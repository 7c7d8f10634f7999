// The raw at-rest key file source (spec/security.md 5.6, 6.2): exactly 32 bytes, owner-only.
//
// Before the contents are read the file is stat'ed; it is refused when it is missing
// (`missing`), cannot be opened or read (`unreadable`), has any group/other bit set
// (`group_world_readable`: mode & 0o077 != 0), is not owned by this process's uid, or sits
// in a directory owned by neither this uid nor root (`wrong_owner`). The error names the path
// and the condition and never the contents. A wrong length is refused too. A configured key
// that fails any check is fatal to the caller: there is no fallback to running unencrypted.
//
// It reads the file with POSIX calls directly, not io::FileSystem: owner and mode are what it
// checks, and the in-memory file system has neither.
//
// Thread safety: free functions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "format/aead.h"
#include "format/key_ring.h"

namespace ironbus::storage {

// Adds the key in `path` to `ring` under its derived id (format::KeyRing::DeriveKeyId) and
// returns the id.
Result<uint64_t> LoadKeyFile(const std::string& path, format::KeyRing* ring);

// The ring a broker runs with: `active_key_file` (may be empty: no new segment is encrypted)
// becomes the active key, each of `old_key_files` a read-only one, `suite` the suite of new
// segments. Null when no file is configured at all (at-rest encryption off).
Result<std::shared_ptr<const format::KeyRing>> LoadKeyRing(const std::string& active_key_file,
                                                          const std::vector<std::string>& old_key_files,
                                                          format::AeadSuite suite);

}  // namespace ironbus::storage
