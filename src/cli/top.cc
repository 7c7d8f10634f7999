// `ironbus top` (spec/cli-config-ops.md 10.1; docs/cli.md "top"): a read-only live view of a
// broker's /admin (and /metrics) on its health port, or an offline file-derived view of a data
// dir. This file owns the flags, the fetching and the modes; the pure parsing and rates are in
// top_model.h, the layout in top_render.h, the refresh loops in top_screen.h.
//
// Exit: 0 (including a user quit, and a broker that went away after the first poll: the view
// says "broker unreachable" and keeps retrying), 1 usage, 2 offline dir missing, 4 offline dir
// unreadable, 5 the first poll could not reach the broker, 70 anything else (404 = no
// --enable-admin, a reply that is not /admin v1).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/client_security.h"
#include "cli/data_dir.h"
#include "cli/exit_codes.h"
#include "cli/http_get.h"
#include "cli/output.h"
#include "cli/top_model.h"
#include "cli/top_render.h"
#include "cli/top_screen.h"
#include "cli/verbs.h"
#include "format/record_format.h"
#include "format/segment_name.h"
#include "io/posix_file_system.h"
#include "storage/quarantine.h"

namespace ironbus::cli {
namespace {

constexpr const char* kAcceptV1 = "application/vnd.ironbus.admin.v1+json";

struct TopFlags {
  std::string addr;
  std::string token_file;  // admin bearer token (a broker with an identity table)
  std::string token;       // read from token_file once
  std::string data_dir;
  int interval_s = 1;
  bool once = false;
  bool json = false;
  bool no_color = false;
  uint64_t max_segment_bytes = format::kDefaultSegmentBytes;
};

// Spec 1.2: redraw in place only on a TTY with colour allowed (no --no-color, NO_COLOR unset
// or empty).
bool ColorAllowed(const TopFlags& flags) {
  const char* no_color = std::getenv("NO_COLOR");
  return !flags.no_color && (no_color == nullptr || no_color[0] == '\0');
}

struct LiveFetch {
  std::optional<top::LiveSnapshot> snapshot;
  int exit_code = kExitOk;
  std::string error;
};

// One poll: /admin is required, /metrics only adds latency and shed panels, so its failure
// only marks them absent. Each GET gets the whole deadline so a slow broker shows as slow,
// not as down.
LiveFetch FetchLive(const std::string& addr, std::chrono::milliseconds deadline, const std::string& token) {
  auto got = HttpGet(addr, "/admin", kAcceptV1, deadline, token);
  if (!got.ok()) {
    const StatusCode c = got.status().code();
    return {std::nullopt,
            c == StatusCode::kInvalidArgument ? kExitUsage
            : c == StatusCode::kUnavailable   ? kExitUnreachable
                                              : kExitInternal,
            got.status().message()};
  }
  if (got->status == 404) {
    return {std::nullopt, kExitInternal, addr + " has no /admin: start the broker with --enable-admin"};
  }
  if (const std::string refusal = AdminRefusal(got->status, "top"); !refusal.empty()) {
    return {std::nullopt, kExitInternal, refusal};
  }
  if (got->status != 200) {
    return {std::nullopt, kExitInternal, addr + "/admin answered HTTP " + std::to_string(got->status)};
  }
  auto parsed = top::ParseAdmin(got->body);
  if (!parsed.ok()) return {std::nullopt, kExitInternal, addr + ": " + parsed.status().message()};
  LiveFetch out{std::move(*parsed), kExitOk, ""};
  auto metrics = HttpGet(addr, "/metrics", "text/plain", deadline);
  if (metrics.ok() && metrics->status == 200) out.snapshot->metrics = top::ParseMetrics(metrics->body);
  return out;
}

// The live view's state across polls: the newest good snapshot, the one before it (for the
// rates) and whether the broker answered the newest poll.
class LiveState {
 public:
  explicit LiveState(const TopFlags& flags)
      : addr_(flags.addr), token_(flags.token), deadline_(Deadline(flags.interval_s)) {
    view_.addr = flags.addr;
    view_.interval_s = flags.interval_s;
  }

  // Returns the fetch so the first poll can decide the exit code.
  LiveFetch Poll() {
    const auto now = std::chrono::steady_clock::now();
    LiveFetch f = FetchLive(addr_, deadline_, token_);
    if (!f.snapshot) {
      view_.reachable = false;
      view_.error = f.error;
      view_.stale_s = std::chrono::duration<double>(now - taken_at_).count();
      return f;
    }
    const double elapsed = std::chrono::duration<double>(now - taken_at_).count();
    // Rates only between two consecutive good polls: across an outage the window would mix
    // a gap into the average.
    const top::LiveSnapshot* prev = view_.snapshot && view_.reachable ? &*view_.snapshot : nullptr;
    view_.rates = top::ComputeRates(prev, *f.snapshot, elapsed);
    view_.snapshot = *f.snapshot;
    view_.reachable = true;
    view_.error.clear();
    taken_at_ = now;
    return f;
  }
  top::LiveView& view() { return view_; }

 private:
  // A poll must not outlast the interval by much, yet 1 s is too tight for a busy broker.
  static std::chrono::milliseconds Deadline(int interval_s) {
    return std::chrono::milliseconds(std::clamp(interval_s, 2, 5) * 1000);
  }
  std::string addr_;
  std::string token_;
  std::chrono::milliseconds deadline_;
  top::LiveView view_;
  std::chrono::steady_clock::time_point taken_at_ = std::chrono::steady_clock::now();
};

// Refreshes with the curses screen (TTY, colour allowed) or plain frames. The first poll was
// already made by the caller, so the loop's first poll is skipped (its rates would cover ~0 s).
void Loop(const TopFlags& flags, std::function<void()> poll, top::FrameSource::RenderFn render, bool* interactive) {
  auto skip_first = std::make_shared<bool>(true);
  top::FrameSource source;
  source.poll = [poll, skip_first] {
    if (*skip_first) {
      *skip_first = false;
      return;
    }
    poll();
  };
  source.render = std::move(render);
  if (isatty(STDOUT_FILENO) && ColorAllowed(flags)) {
    *interactive = true;
    if (top::RunCurses(source, flags.interval_s, true)) return;
  }
  *interactive = false;
  top::RunPlain(source, flags.interval_s);
}

int RunLive(const TopFlags& given) {
  TopFlags flags = given;
  auto token = ReadTokenFile(flags.token_file);
  if (!token.ok()) return Fail("top", false, kExitUsage, token.status().message());
  flags.token = std::move(*token);
  LiveState state(flags);
  LiveFetch first = state.Poll();
  if (!first.snapshot) {
    const std::string message = first.exit_code == kExitUnreachable ? "broker unreachable at " + flags.addr + ": " + first.error
                                                                     : first.error;
    return Fail("top", flags.json && first.exit_code != kExitUsage, first.exit_code, message);
  }
  if (flags.json) {
    PrintJsonLine(top::LiveJson(*first.snapshot, state.view().rates, flags.addr));
    return kExitOk;
  }
  if (flags.once) {
    for (const std::string& line : top::RenderLive(state.view(), 0, 0)) std::cout << line << '\n';
    return kExitOk;
  }
  bool interactive = false;
  top::LiveView& view = state.view();
  Loop(flags, [&state] { (void)state.Poll(); },
       [&view, &interactive](size_t w, size_t h) {
         view.interactive = interactive;
         return top::RenderLive(view, w, h);
       },
       &interactive);
  return kExitOk;
}

Result<top::OfflineSnapshot> ReadOffline(const TopFlags& flags) {
  io::FileSystem& fs = io::DefaultFileSystem();
  ASSIGN_OR_RETURN(ReadOnlyLog opened, OpenReadOnly(&fs, flags.data_dir, flags.max_segment_bytes));
  top::OfflineSnapshot s;
  s.data_dir = flags.data_dir;
  const storage::LogStats stats = opened.log->stats();
  s.segment_count = stats.segment_count;
  s.durable_head = stats.durable_offset;
  s.earliest_retained = stats.first_offset;
  s.record_count = stats.record_count;
  s.record_bytes = stats.record_bytes;
  const recovery::LossReport& report = opened.recovered.report;
  const recovery::LossTotals totals = report.Totals();
  s.frozen = report.frozen;
  s.frozen_reason = report.frozen_reason;
  s.loss_events = report.events.size();
  s.loss_bytes = totals.data_loss_bytes;
  s.torn_tail_bytes = totals.torn_tail_bytes;
  s.loss_records_estimate = totals.records_lost;
  const std::string qdir = io::JoinPath(flags.data_dir, format::kQuarantineDirName);
  auto is_dir = fs.IsDirectory(qdir);
  if (is_dir.ok() && *is_dir) {
    ASSIGN_OR_RETURN(auto entries, fs.List(qdir));
    for (const auto& e : entries) s.quarantine_blobs += e.is_dir ? 0 : 1;
    ASSIGN_OR_RETURN(s.quarantine_bytes, storage::QuarantineBytesUsed(&fs, flags.data_dir));
  }
  return s;
}

int OfflineExit(const Status& s) {
  if (s.IsNotFound()) return kExitNotFound;
  if (s.IsFailedPrecondition() || s.IsCorruption()) return kExitCorrupt;
  return kExitInternal;
}

int RunOffline(const TopFlags& flags) {
  auto first = ReadOffline(flags);
  if (!first.ok()) return Fail("top", flags.json, OfflineExit(first.status()), first.status().message());
  if (flags.json) {
    PrintJsonLine(top::OfflineJson(*first));
    return kExitOk;
  }
  if (flags.once) {
    for (const std::string& line : top::RenderOffline(*first, 0, 0)) std::cout << line << '\n';
    return kExitOk;
  }
  // Re-read every interval: a stopped broker's directory can still change (repair, restart).
  auto newest = std::make_shared<top::OfflineSnapshot>(*first);
  auto error = std::make_shared<std::string>();
  bool interactive = false;
  Loop(flags,
       [&flags, newest, error] {
         auto again = ReadOffline(flags);
         if (again.ok()) *newest = *again;
         *error = again.ok() ? "" : again.status().message();
       },
       [newest, error](size_t w, size_t h) {
         std::vector<std::string> lines = top::RenderOffline(*newest, w, h);
         if (!error->empty() && lines.size() > 1) {
           lines[1] = ("offline: re-read failed (" + *error + "); showing the last good read").substr(0, w ? w : std::string::npos);
         }
         return lines;
       },
       &interactive);
  return kExitOk;
}

}  // namespace

void RegisterTop(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<TopFlags>();
  auto* cmd = app.add_subcommand("top", "Read-only live view of a broker (/admin on the health port), or offline view of a data dir");
  auto* addr = cmd->add_option("--addr,--health-addr,--admin-addr", flags->addr,
                               "The broker's HEALTH address, host:port (serve --health-addr ... --enable-admin)");
  auto* dir = cmd->add_option("--data-dir", flags->data_dir, "Offline: a file-derived view of this data directory");
  addr->excludes(dir);
  cmd->add_option("--interval", flags->interval_s, "Seconds between refreshes (default 1, minimum 1)")
      ->check(CLI::Range(1, 86'400));
  cmd->add_flag("--once", flags->once, "Print one plain snapshot and exit");
  cmd->add_option("--token-file", flags->token_file,
                  "Admin bearer token (a broker with --auth-config serves /admin to the admin scope only)");
  cmd->add_flag("--json", flags->json, "Print one ironbus.cli.top.v1 object and exit");
  cmd->add_flag("--no-color", flags->no_color, "No colour and no in-place redraw (also NO_COLOR)");
  cmd->add_option("--max-segment-bytes", flags->max_segment_bytes, "Offline: the log's roll size (loss caps)");
  cmd->callback([flags, exit_code, addr, dir] {
    if (addr->count() == 0 && dir->count() == 0) {
      throw CLI::ValidationError("top needs one of --addr/--health-addr/--admin-addr <host:port> or --data-dir <dir>");
    }
    *exit_code = dir->count() > 0 ? RunOffline(*flags) : RunLive(*flags);
  });
}

}  // namespace ironbus::cli
