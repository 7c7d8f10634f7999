// The screen of `ironbus top` as plain lines for a given terminal size (spec/cli-config-ops.md
// 10.1). Pure: the same view and size always give the same lines, so the layout is unit-tested
// without a terminal; top_screen.h paints them.
//
// Contract: with width > 0 no line is longer than width bytes (names are made printable
// ASCII first, so bytes = columns); with height > 0 there are at most height lines, and
// groups that do not fit are summarised as "+N more groups". 0 means unlimited (the plain
// --once / piped output). Every panel names its source ("[source: /admin consumers]").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "cli/top_model.h"

namespace ironbus::cli::top {

struct LiveView {
  std::string addr;
  int interval_s = 1;
  std::optional<LiveSnapshot> snapshot;  // the newest good poll (kept while unreachable)
  Rates rates;
  bool reachable = true;
  std::string error;       // why the newest poll failed, when !reachable
  double stale_s = 0;      // age of `snapshot` when !reachable
  bool interactive = false;  // add the "q quits" hint
};

std::vector<std::string> RenderLive(const LiveView& view, size_t width, size_t height);
std::vector<std::string> RenderOffline(const OfflineSnapshot& snapshot, size_t width, size_t height);

// Group label as the other verbs print it: "(default)" for "".
std::string GroupLabel(const std::string& name);

}  // namespace ironbus::cli::top
