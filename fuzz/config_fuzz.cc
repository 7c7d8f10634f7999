// libFuzzer target: the configuration loader (spec/cli-config-ops.md 5). Hostile config files,
// environment values and flag values must give errors, never a crash, a hang or a config that
// passed validation while breaking a rule the loader promised to check.
//
// Input layout: byte 0 picks the layer; the rest is
//   even  a TOML config file (written to a private temp file, then Load + Validate);
//   odd   lines "<key index byte><value>": each becomes an IRONBUS_* environment value (byte 0
//         bit 1 clear) or a flag value (set) of the key Keys()[index % size].
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"

using namespace ironbus;  // NOLINT

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

const std::string& TempPath() {
  static const std::string path = "/tmp/ironbus-config-fuzz-" + std::to_string(::getpid()) + ".toml";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  config::Inputs inputs;
  inputs.allow_unknown_config = (mode & 0x04) != 0;
  if ((mode & 0x01) == 0) {
    std::ofstream(TempPath(), std::ios::binary | std::ios::trunc) << rest;
    inputs.config_path = TempPath();
  } else {
    const auto& keys = config::Keys();
    size_t start = 0;
    while (start < rest.size()) {
      size_t end = rest.find('\n', start);
      if (end == std::string::npos) end = rest.size();
      if (end > start) {
        const config::KeySpec& k = keys[static_cast<uint8_t>(rest[start]) % keys.size()];
        const std::string value = rest.substr(start + 1, end - start - 1);
        if ((mode & 0x02) == 0 && !k.env.empty()) {
          inputs.env[std::string(k.env)] = value;
        } else {
          inputs.flags.emplace_back(std::string(k.flag), value);
        }
      }
      start = end + 1;
    }
  }
  const config::Loaded loaded = config::Load(inputs);  // parses every layer, then validates
  if (!inputs.config_path.empty()) std::remove(inputs.config_path.c_str());
  if (loaded.ok()) {
    // A config that passed is one the RAM guard accepts and one serve can start with.
    Check(config::EstimateRam(loaded.config).fits());
    Check(config::ToLogOptions(loaded.config).Validate().ok());
    Check(config::ToQueueOptions(loaded.config).Validate().ok());
  }
  return 0;
}
