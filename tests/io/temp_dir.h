// A fresh directory under /tmp (mkdtemp) for tests that need a real file system; removed with
// everything in it when the object dies.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "base/check.h"

namespace ironbus::io::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/ironbus-io-test-XXXXXX";
    CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ironbus::io::testing
