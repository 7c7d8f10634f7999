#include "cli/data_dir.h"

#include <cstdlib>

namespace ironbus::cli {

std::string DefaultDataDir() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg != nullptr && xdg[0] == '/') return io::JoinPath(xdg, "ironbus");
  const char* home = std::getenv("HOME");
  std::string base = (home != nullptr && home[0] != '\0') ? std::string(home) : std::string("/root");
  return io::JoinPath(io::JoinPath(base, ".local/share"), "ironbus");
}

std::string ResolvedDataDir(const config::Config& c) { return c.data_dir.empty() ? DefaultDataDir() : c.data_dir; }

Result<ReadOnlyLog> OpenReadOnly(io::FileSystem* fs, const std::string& dir, uint64_t max_segment_bytes,
                                 std::shared_ptr<const format::KeyRing> keys) {
  ASSIGN_OR_RETURN(bool is_dir, fs->IsDirectory(dir));
  if (!is_dir) {
    ASSIGN_OR_RETURN(bool exists, fs->Exists(dir));
    if (!exists) return Status::NotFound("data directory " + dir + " does not exist");
    return Status::InvalidArgument(dir + " is not a directory");
  }
  recovery::RecoveryOptions options;
  options.mode = recovery::Mode::kDryRun;
  options.max_segment_bytes = max_segment_bytes;
  options.keys = keys;
  ReadOnlyLog out;
  ASSIGN_OR_RETURN(out.recovered, recovery::Recover(fs, dir, options));
  storage::LogState state = out.recovered.state;
  // A frozen log never creates, writes or truncates a file: exactly a read-only view.
  state.frozen = true;
  if (state.frozen_reason.empty()) state.frozen_reason = "opened read-only by an offline tool";
  storage::LogOptions log_options;
  log_options.max_segment_bytes = max_segment_bytes;
  log_options.keys = std::move(keys);
  ASSIGN_OR_RETURN(out.log, storage::Log::Open(fs, std::move(state), log_options, SystemClock::Default()));
  return out;
}

}  // namespace ironbus::cli
