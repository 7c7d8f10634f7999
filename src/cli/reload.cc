#include "cli/reload.h"

#include <string>
#include <vector>

#include "base/log.h"
#include "cli/data_dir.h"

namespace ironbus::cli {

namespace {

std::string Label(const config::KeySpec& k) { return std::string(k.file_key.empty() ? k.name : k.file_key); }

// Copies the live keys (the `live` rows of the key table; tests/config/render_test.cc pins the
// set) from `from` to `to`.
void CopyLiveKeys(const config::Config& from, config::Config* to) {
  to->max_total_bytes = from.max_total_bytes;
  to->disk_full_policy = from.disk_full_policy;
  to->min_free_bytes = from.min_free_bytes;
  to->block_timeout_ms = from.block_timeout_ms;
  to->max_retained_bytes = from.max_retained_bytes;
  to->max_age_ms = from.max_age_ms;
  to->max_messages = from.max_messages;
}

}  // namespace

// SIGHUP (spec 5.6): re-read the file with the env and flags of process start, validate the
// whole config, refuse any cold change, apply the live keys to the running log (retention
// bounds, byte cap, free-disk watermark, disk-full policy and its block timeout: all read by
// the appender at its next append or retention pass) and report hot keys as taking effect
// after a restart. `*running` then holds what is really in effect: live keys from the file,
// everything else as at start, so a later SIGHUP reports the same hot differences again.
void Reload(const config::Inputs& inputs, config::Config* running, storage::Log* log) {
  using logging::Info;
  using logging::Warn;
  if (inputs.config_path.empty()) {
    Info("config.reload", {{"result", "nothing_to_reload"},
                           {"msg", "SIGHUP: no configuration file is loaded (--config); nothing to reload"}});
    return;
  }
  const std::string& path = inputs.config_path;
  config::Loaded next = config::Load(inputs);
  if (!next.ok()) {
    for (const std::string& e : next.errors) Warn("config.reload.error", {{"path", path}, {"error", e}});
    Warn("config.reload", {{"result", "rejected"},
                           {"path", path},
                           {"errors", static_cast<uint64_t>(next.errors.size())},
                           {"msg", "SIGHUP: " + path + " rejected; keeping the running config"}});
    return;
  }
  next.config.data_dir = ResolvedDataDir(next.config);
  const std::vector<config::Change> changes = config::Diff(*running, next.config);
  if (changes.empty()) {
    Info("config.reload", {{"result", "unchanged"}, {"path", path}, {"msg", "SIGHUP: " + path + " re-read; nothing changed"}});
    return;
  }
  bool cold = false;
  for (const config::Change& c : changes) {
    if (c.key->reload == config::Reload::kCold || c.key->reload == config::Reload::kNone) {
      Warn("config.reload.change",
           {{"key", Label(*c.key)},
            {"from", c.from},
            {"to", c.to},
            {"action", "restart_required"},
            {"msg", "SIGHUP: cold-key " + Label(*c.key) + " changed from " + c.from + " to " + c.to +
                        "; restart required"}});
      cold = true;
    }
  }
  if (cold) {
    Warn("config.reload", {{"result", "rejected"},
                           {"path", path},
                           {"msg", "SIGHUP: reload rejected; the running config is unchanged"}});
    return;
  }

  const storage::LogOptions live = config::ToLogOptions(next.config);
  log->SetRetention(live.retention);
  log->SetCapacity(live.capacity);
  CopyLiveKeys(next.config, running);
  uint64_t applied = 0;
  for (const config::Change& c : changes) {
    const bool is_live = c.key->reload == config::Reload::kLive;
    applied += is_live ? 1 : 0;
    Info("config.reload.change",
         {{"key", Label(*c.key)},
          {"from", c.from},
          {"to", c.to},
          {"action", is_live ? "applied" : "after_restart"},
          {"msg", "SIGHUP: " + Label(*c.key) + " changed from " + c.from + " to " + c.to +
                      (is_live ? ": applied" : ": changed in file, takes effect after restart")}});
  }
  Info("config.reload", {{"result", "applied"},
                         {"path", path},
                         {"applied", applied},
                         {"after_restart", static_cast<uint64_t>(changes.size()) - applied}});
}

}  // namespace ironbus::cli
