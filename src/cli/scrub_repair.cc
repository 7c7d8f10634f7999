// `scrub`, `verify` and `repair` (spec/cli-config-ops.md 3.5): integrity checks of a stopped
// broker's data directory through the recovery decoder itself, so they report exactly what
// the next open would skip, cut or quarantine.
//   scrub          the log, read-only
//   verify         the log, dlq/ and every checkpoint file, read-only
//   repair         the plan; with --apply, under the data-dir LOCK, what recovery does at open
//                  regardless of the caps, recording the accepted loss so a frozen log opens
//                  writable again (DESIGN.md D1)
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/verbs.h"
#include "format/checkpoint.h"
#include "format/record_format.h"
#include "format/segment_name.h"
#include "io/posix_file_system.h"
#include "recovery/recover.h"
#include "storage/key_file.h"

namespace ironbus::cli {
namespace {

struct CheckFlags {
  std::string command;
  std::string data_dir;
  bool json = false;
  bool apply = false;
  uint64_t max_segment_bytes = format::kDefaultSegmentBytes;
  std::string encryption_key_file;  // at-rest keys (docs/security.md), read-only use
  std::vector<std::string> encryption_old_key_files;
};

// One log directory's findings.
struct LogFindings {
  std::string label;  // "log" or "dlq"
  size_t segments = 0;
  recovery::LossReport report;
};

struct CheckpointFinding {
  std::string file;
  std::string problem;
};

// A checkpoint file is healthy when some slot is valid; a torn newest slot next to a valid
// older one is the normal result of a crash mid-write, not a finding.
std::vector<CheckpointFinding> VerifyCheckpoints(io::FileSystem& fs, const std::string& dir) {
  std::vector<CheckpointFinding> findings;
  auto entries = fs.List(dir);
  if (!entries.ok()) return {{dir, entries.status().message()}};
  for (const auto& e : *entries) {
    if (e.is_dir) continue;
    size_t cap = 0;
    const std::string& n = e.name;
    auto ends_with = [&n](std::string_view s) { return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0; };
    if (n == format::kLayoutFileName || n == format::kDlqRedriveFileName ||
        (n.rfind("cursor", 0) == 0 && ends_with(".ckpt"))) {
      cap = format::kCursorCheckpointCap;
    } else if (n == format::kCountersFileName) {
      cap = format::kCountersCheckpointCap;
    } else if (n.rfind("attempts", 0) == 0 && ends_with(".ckpt")) {
      cap = format::kAttemptsCheckpointCap;
    } else {
      continue;
    }
    auto bytes = io::ReadWholeFile(fs, io::JoinPath(dir, n), format::CheckpointFileLen(cap) * 2);
    if (!bytes.ok()) {
      findings.push_back({n, bytes.status().message()});
      continue;
    }
    if (!format::DecodeCheckpointFile(*bytes, cap).has_value()) {
      findings.push_back({n, "no valid slot (" + std::to_string(bytes->size()) + " bytes)"});
    }
  }
  return findings;
}

Result<LogFindings> CheckLog(io::FileSystem& fs, const std::string& dir, const std::string& label,
                             const recovery::RecoveryOptions& options) {
  ASSIGN_OR_RETURN(auto recovered, recovery::Recover(&fs, dir, options));
  LogFindings out;
  out.label = label;
  out.segments = recovered.state.segments.size();
  out.report = std::move(recovered.report);
  return out;
}

bool HasUnacceptedDataLoss(const recovery::LossReport& report) {
  for (const auto& e : report.events) {
    if (e.data_loss() && !e.accepted) return true;
  }
  return false;
}

nlohmann::json EventJson(const recovery::LossEvent& e, const std::string& label) {
  return {{"log", label},
          {"segment", e.segment_id},
          {"start", e.byte_offset_start},
          {"end", e.byte_offset_end},
          {"reason", std::string(recovery::LossReasonMetricLabel(e.reason))},
          {"data_loss", e.data_loss()},
          {"accepted", e.accepted},
          {"first_lost_offset", e.first_lost_offset},
          {"end_lost_offset", e.end_lost_offset},
          {"records_lost", e.records_lost_estimate}};
}

int Report(const CheckFlags& flags, const std::vector<LogFindings>& logs,
           const std::vector<CheckpointFinding>& checkpoints, bool applied) {
  size_t segments = 0, spans = 0, loss_spans = 0;
  uint64_t loss_bytes = 0, torn_bytes = 0;
  bool data_loss = false;
  bool frozen = false;
  for (const auto& l : logs) {
    segments += l.segments;
    spans += l.report.events.size();
    for (const auto& e : l.report.events) {
      if (e.data_loss()) ++loss_spans;
    }
    const auto totals = l.report.Totals();
    loss_bytes += totals.data_loss_bytes;
    torn_bytes += totals.torn_tail_bytes;
    data_loss = data_loss || HasUnacceptedDataLoss(l.report);
    frozen = frozen || l.report.frozen;
  }
  // After repair --apply the loss is accepted and recorded: the directory is healthy again.
  const bool findings = (data_loss && !applied) || !checkpoints.empty();
  const int code = findings ? kExitHandledCorruption : kExitOk;

  if (flags.json) {
    nlohmann::json events = nlohmann::json::array();
    for (const auto& l : logs) {
      for (const auto& e : l.report.events) events.push_back(EventJson(e, l.label));
    }
    nlohmann::json out = {{"schema", "ironbus.cli." + flags.command + ".v1"},
                          {"data_dir", flags.data_dir},
                          {"segments", segments},
                          {"skipped_spans", spans},
                          {"data_loss_spans", loss_spans},
                          {"data_loss_bytes", loss_bytes},
                          {"torn_tail_bytes", torn_bytes},
                          {"events", events},
                          {"frozen", frozen && !applied}};
    if (flags.command == "verify") {
      nlohmann::json cps = nlohmann::json::array();
      for (const auto& c : checkpoints) cps.push_back({{"file", c.file}, {"problem", c.problem}});
      out["checkpoint_problems"] = cps;
    }
    if (flags.command == "repair") out["applied"] = applied;
    out["ok"] = code == kExitOk;
    out["exit_code"] = code;
    PrintJsonLine(out);
    return code;
  }

  const std::string& verb = flags.command;
  if (spans == 0 && checkpoints.empty()) {
    std::cout << verb << ": " << flags.data_dir << " is clean (" << segments
              << " segment(s) scanned, no corruption or torn tail)\n";
  } else {
    std::cout << verb << ": " << segments << " segment(s) scanned, " << spans << " skip span(s): " << loss_bytes
              << " byte(s) of data loss, " << torn_bytes << " torn-tail byte(s) (not data loss)\n";
    for (const auto& l : logs) {
      for (const auto& e : l.report.events) {
        std::cout << "  " << (l.label == "dlq" ? "dlq " : "") << "segment " << e.segment_id << " bytes ["
                  << e.byte_offset_start << ", " << e.byte_offset_end
                  << ") reason=" << recovery::LossReasonMetricLabel(e.reason);
        if (e.end_lost_offset > e.first_lost_offset) {
          std::cout << " offsets [" << e.first_lost_offset << ", " << e.end_lost_offset << ")";
        }
        std::cout << (e.data_loss() ? (e.accepted ? " data-loss (accepted by an earlier repair)" : " data-loss")
                                    : " torn-tail (no data loss)")
                  << '\n';
      }
    }
    for (const auto& c : checkpoints) std::cout << "  checkpoint " << c.file << ": " << c.problem << '\n';
  }
  for (const auto& l : logs) {
    if (l.report.frozen && !applied) {
      std::cout << "  the " << l.label << " opens frozen read-only: " << l.report.frozen_reason
                << " (repair --apply accepts the loss)\n";
    }
  }
  if (verb == "repair") {
    if (applied) {
      std::cout << "repair: applied: damaged spans quarantined, torn or corrupt tails cut, remaining loss "
                   "recorded as accepted\n";
    } else if (spans > 0) {
      std::cout << "repair: --apply would quarantine and truncate as shown; nothing changed\n";
    } else {
      std::cout << "repair: nothing to do\n";
    }
  }
  return code;
}

int RunCheck(const CheckFlags& flags) {
  io::FileSystem& fs = io::DefaultFileSystem();
  auto is_dir = fs.IsDirectory(flags.data_dir);
  if (!is_dir.ok() || !*is_dir) {
    return Fail(flags.command, flags.json, kExitNotFound, "data directory " + flags.data_dir + " does not exist");
  }
  std::unique_ptr<io::FileLock> lock;
  recovery::RecoveryOptions options;
  options.max_segment_bytes = flags.max_segment_bytes;
  options.mode = recovery::Mode::kDryRun;
  {
    // Without the keys an encrypted segment is an UnknownKeyId loss: reported, never cut.
    auto keys = storage::LoadKeyRing(flags.encryption_key_file, flags.encryption_old_key_files,
                                     format::AeadSuite::kAes256Gcm);
    if (!keys.ok()) return Fail(flags.command, flags.json, kExitUsage, keys.status().message());
    options.keys = std::move(keys).value();
  }
  if (flags.apply) {
    auto held = fs.LockExclusive(io::JoinPath(flags.data_dir, format::kLockFileName));
    if (!held.ok()) {
      const int code = held.status().IsFailedPrecondition() ? kExitUnreachable : kExitInternal;
      return Fail(flags.command, flags.json, code,
                  code == kExitUnreachable ? "another ironbus broker is running on " + flags.data_dir +
                                                 "; stop it before repair --apply (nothing changed)"
                                           : held.status().message());
    }
    lock = std::move(held).value();
    options.mode = recovery::Mode::kApply;
    options.ignore_caps = true;
  }

  std::vector<LogFindings> logs;
  auto main_log = CheckLog(fs, flags.data_dir, "log", options);
  if (!main_log.ok()) {
    const Status& s = main_log.status();
    return Fail(flags.command, flags.json, s.IsIOError() || s.code() == StatusCode::kInternal ? kExitInternal : kExitCorrupt,
                s.message());
  }
  logs.push_back(std::move(main_log).value());

  std::vector<CheckpointFinding> checkpoints;
  if (flags.command != "scrub") {
    const std::string dlq_dir = io::JoinPath(flags.data_dir, format::kDlqDirName);
    auto has_dlq = fs.IsDirectory(dlq_dir);
    if (has_dlq.ok() && *has_dlq) {
      auto dlq = CheckLog(fs, dlq_dir, "dlq", options);
      if (!dlq.ok()) return Fail(flags.command, flags.json, kExitCorrupt, "dlq: " + dlq.status().message());
      logs.push_back(std::move(dlq).value());
    }
  }
  if (flags.command == "verify") checkpoints = VerifyCheckpoints(fs, flags.data_dir);
  return Report(flags, logs, checkpoints, flags.apply);
}

void AddCommon(CLI::App* cmd, CheckFlags* flags) {
  cmd->add_option("--data-dir", flags->data_dir, "Data directory to check")->required();
  cmd->add_option("--max-segment-bytes", flags->max_segment_bytes,
                  "The log's roll size; sets the per-event loss cap (default 64 MiB)");
  cmd->add_flag("--json", flags->json, "One ironbus.cli.<verb>.v1 JSON object");
  cmd->add_option("--encryption-key-file", flags->encryption_key_file, "At-rest key file to check encrypted segments");
  cmd->add_option("--encryption-old-key-file", flags->encryption_old_key_files, "An earlier at-rest key (repeatable)");
}

}  // namespace

void RegisterScrubVerifyRepair(CLI::App& app, int* exit_code) {
  for (const char* name : {"scrub", "verify", "repair"}) {
    auto flags = std::make_shared<CheckFlags>();
    flags->command = name;
    const std::string verb = name;
    const char* help = verb == "scrub"    ? "Read-only integrity scan of the log (exit 3 on data loss)"
                       : verb == "verify" ? "Read-only check of the log, dlq/ and every checkpoint file"
                                          : "Show what recovery would do; --apply does it (under the LOCK)";
    auto* cmd = app.add_subcommand(name, help);
    AddCommon(cmd, flags.get());
    if (verb == "repair") {
      cmd->add_flag("--apply", flags->apply, "Quarantine, cut and accept the loss (broker must be stopped)");
    }
    cmd->callback([flags, exit_code] { *exit_code = RunCheck(*flags); });
  }
}

}  // namespace ironbus::cli
