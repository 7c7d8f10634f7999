// Small helpers shared by the SimFileSystem tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "io/sim_file_system.h"

namespace ironbus::io::testing {

// Creates (or truncates) `path`, writes `content` at 0; syncs the data if `sync`.
inline void WriteNew(SimFileSystem& fs, const std::string& path, std::string_view content, bool sync) {
  auto file = fs.Open(path, OpenMode::kCreateOrTruncate);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->WriteAt(0, AsBytes(content)).ok());
  if (sync) {
    ASSERT_TRUE((*file)->Sync().ok());
  }
}

// Appends at the current end of an existing file.
inline void Append(SimFileSystem& fs, const std::string& path, std::string_view content, bool sync) {
  auto file = fs.Open(path, OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  uint64_t size = *(*file)->Size();
  ASSERT_TRUE((*file)->WriteAt(size, AsBytes(content)).ok());
  if (sync) {
    ASSERT_TRUE((*file)->Sync().ok());
  }
}

// The file's current bytes as a string, or "<missing>".
inline std::string Content(const SimFileSystem& fs, const std::string& path) {
  auto bytes = fs.CurrentContent(path);
  return bytes.ok() ? std::string(AsChars(*bytes)) : std::string("<missing>");
}

}  // namespace ironbus::io::testing
