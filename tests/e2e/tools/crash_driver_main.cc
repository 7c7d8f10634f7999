// ironbus_crash_driver: the crash driver of tests/e2e/crash_driver.h as a program, for long runs
// (docs/kill9.md). Built with the tests, never installed.
//
//   ironbus_crash_driver --cycles N --seed S --mode kill9|points|mixed --ironbus PATH
//                        [--data-dir DIR] [--quiet]
//
// --data-dir must not exist (default: a new one under /tmp); DIR.scratch holds the broker's
// output and dump files.
//
// Prints a line per cycle and a summary; exits 1 on any violation, 2 on bad usage.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include "e2e/crash_driver.h"

int main(int argc, char** argv) {
  using ironbus::e2e::CrashMode;
  ironbus::e2e::CrashDriverOptions o;
  o.seed = std::random_device{}();
  o.verbose = true;
  std::string mode = "mixed";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--quiet") {
      o.verbose = false;
      continue;
    }
    if (value == nullptr) {
      std::cerr << "usage: " << argv[0]
                << " --cycles N --seed S --mode kill9|points|mixed --ironbus PATH [--data-dir DIR] [--quiet]\n";
      return 2;
    }
    ++i;
    if (arg == "--cycles") {
      o.cycles = std::strtoull(value, nullptr, 10);
    } else if (arg == "--seed") {
      o.seed = std::strtoull(value, nullptr, 10);
    } else if (arg == "--mode") {
      mode = value;
    } else if (arg == "--ironbus") {
      o.ironbus = value;
    } else if (arg == "--data-dir") {
      o.data_dir = value;
    } else {
      std::cerr << "unknown flag " << arg << "\n";
      return 2;
    }
  }
  if (mode != "kill9" && mode != "points" && mode != "mixed") {
    std::cerr << "--mode is kill9, points or mixed\n";
    return 2;
  }
  o.mode = mode == "kill9" ? CrashMode::kKill9 : mode == "points" ? CrashMode::kPoints : CrashMode::kMixed;
  if (o.ironbus.empty()) o.ironbus = IRONBUS_BINARY;
  // A fresh data directory per run (the model starts from an empty log), and a scratch
  // directory beside it for the broker's output and dump files.
  if (o.data_dir.empty()) {
    char tmpl[] = "/tmp/ironbus-crash-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::cerr << "mkdtemp: " << std::strerror(errno) << "\n";
      return 2;
    }
    o.data_dir = std::string(tmpl) + "/data";
  }
  std::error_code ec;
  if (std::filesystem::exists(o.data_dir, ec)) {
    std::cerr << o.data_dir << " exists: pass a new --data-dir\n";
    return 2;
  }
  o.scratch = o.data_dir + ".scratch";
  std::filesystem::create_directories(o.scratch, ec);
  if (ec) {
    std::cerr << o.scratch << ": " << ec.message() << "\n";
    return 2;
  }
  std::cout << "[crash] seed=" << o.seed << " cycles=" << o.cycles << " mode=" << mode << " data-dir=" << o.data_dir
            << std::endl;
  const ironbus::e2e::CrashDriverSummary s = ironbus::e2e::RunCrashDriver(o, std::cout);
  std::cout << "[crash] " << ironbus::e2e::FormatSummary(s) << std::flush;
  return s.violations.empty() && s.cycles == o.cycles ? 0 : 1;
}
