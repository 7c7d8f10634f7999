#include "cli/reload.h"

#include <iostream>
#include <string>
#include <vector>

#include "cli/data_dir.h"

namespace ironbus::cli {

// SIGHUP (spec 5.6): re-read the file with the env and flags of process start, validate the
// whole config, refuse any cold change, and report every hot or live change. No running object
// of this build can take a new value while serving (storage::Log's options are fixed at open,
// the queue and broker options likewise), so live keys are reported as not applied rather than
// patched in; the running config stays what is really in effect.
void Reload(const config::Inputs& inputs, config::Config* running_config) {
  const config::Config& running = *running_config;
  if (inputs.config_path.empty()) {
    std::cerr << "ironbus: SIGHUP: no configuration file is loaded (--config); nothing to reload\n";
    return;
  }
  config::Loaded next = config::Load(inputs);
  if (!next.ok()) {
    std::cerr << "ironbus: SIGHUP: " << inputs.config_path << " rejected; keeping the running config:\n";
    for (const std::string& e : next.errors) std::cerr << "  " << e << '\n';
    return;
  }
  next.config.data_dir = ResolvedDataDir(next.config);
  const std::vector<config::Change> changes = config::Diff(running, next.config);
  if (changes.empty()) {
    std::cerr << "ironbus: SIGHUP: " << inputs.config_path << " re-read; nothing changed\n";
    return;
  }
  auto label = [](const config::KeySpec& k) { return std::string(k.file_key.empty() ? k.name : k.file_key); };
  bool cold = false;
  for (const config::Change& c : changes) {
    if (c.key->reload == config::Reload::kCold || c.key->reload == config::Reload::kNone) {
      std::cerr << "ironbus: SIGHUP: cold-key " << label(*c.key) << " changed from " << c.from << " to " << c.to
                << "; restart required\n";
      cold = true;
    }
  }
  if (cold) {
    std::cerr << "ironbus: SIGHUP: reload rejected; the running config is unchanged\n";
    return;
  }
  for (const config::Change& c : changes) {
    std::cerr << "ironbus: SIGHUP: " << label(*c.key) << " changed from " << c.from << " to " << c.to
              << (c.key->reload == config::Reload::kLive
                      ? ": not applied (the running engine cannot change it while serving in this build); "
                        "takes effect after restart\n"
                      : ": changed in file, takes effect after restart\n");
  }
}

}  // namespace ironbus::cli
