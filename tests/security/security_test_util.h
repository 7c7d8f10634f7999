// Helpers shared by the security tests: a scratch directory and files with chosen modes.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "io/temp_dir.h"

namespace ironbus::security::testing {

// Writes `text` to <dir>/<name> with `mode` (chmod after writing) and returns the path.
inline std::string WriteFileWithMode(const std::string& dir, const std::string& name, const std::string& text,
                                     mode_t mode = 0600) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

}  // namespace ironbus::security::testing
