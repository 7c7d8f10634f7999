// Helpers for the config tests: write a TOML file into a scratch dir and load with chosen layers.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "config/config.h"
#include "io/temp_dir.h"

namespace ironbus::config::testing {

class ConfigTest : public ::testing::Test {
 protected:
  // Writes `text` to <scratch>/<name> and returns the path.
  std::string WriteFile(const std::string& text, const std::string& name = "ironbus.toml") {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
  }
  Loaded LoadWith(const std::string& file_text, std::map<std::string, std::string> env = {},
                  std::vector<std::pair<std::string, std::string>> flags = {}) {
    Inputs in;
    if (!file_text.empty()) in.config_path = WriteFile(file_text);
    in.env = std::move(env);
    in.flags = std::move(flags);
    return Load(in);
  }
  Loaded LoadFlags(std::vector<std::pair<std::string, std::string>> flags) { return LoadWith("", {}, std::move(flags)); }
  static std::string Joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }

  io::testing::TempDir dir_;
};

}  // namespace ironbus::config::testing
