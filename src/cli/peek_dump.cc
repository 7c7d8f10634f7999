// `peek` and `dump` (spec/cli-config-ops.md 3.4): offline readers of a stopped broker's data
// directory. They read through recovery's dry-run view, so they show exactly the records the
// broker would serve, step over the holes it would report, and never change a byte.
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cli/data_dir.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/verbs.h"
#include "format/compression.h"
#include "format/dlq_header.h"
#include "format/segment_name.h"
#include "format/record_format.h"
#include "io/posix_file_system.h"
#include "storage/key_file.h"

namespace ironbus::cli {
namespace {

enum class PayloadFormat { kNone, kText, kHex, kBase64 };

struct ReadFlags {
  std::string command;
  std::string data_dir;
  uint64_t from = 0;
  uint64_t limit = std::numeric_limits<uint64_t>::max();
  bool json = false;
  bool raw = false;
  bool dlq = false;
  uint64_t max_segment_bytes = format::kDefaultSegmentBytes;
  PayloadFormat payload = PayloadFormat::kNone;
  std::string encryption_key_file;               // at-rest keys (docs/security.md)
  std::vector<std::string> encryption_old_key_files;
};

std::string Base64(ByteView in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 0x3F]);
  }
  if (i < in.size()) {
    uint32_t v = uint32_t{in[i]} << 16;
    if (i + 1 < in.size()) v |= uint32_t{in[i + 1]} << 8;
    out.push_back(kAlphabet[(v >> 18) & 0x3F]);
    out.push_back(kAlphabet[(v >> 12) & 0x3F]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 0x3F] : '=');
    out.push_back('=');
  }
  return out;
}

std::string FormatPayload(ByteView bytes, PayloadFormat format) {
  switch (format) {
    case PayloadFormat::kText: return std::string(AsChars(bytes));
    case PayloadFormat::kHex: return HexEncode(bytes);
    case PayloadFormat::kBase64: return Base64(bytes);
    case PayloadFormat::kNone: break;
  }
  return {};
}

// The payload as a consumer would see it: decompressed unless --raw. `codec` and `note` say
// what was done; an undecodable payload is shown stored, with decoded = false.
struct ShownPayload {
  Bytes decoded;
  bool use_decoded = false;
  bool decodable = true;
  std::string codec = "none";
  std::string reason;
};

ShownPayload ShowPayload(const format::Record& r, bool raw) {
  ShownPayload out;
  if ((r.flags & format::kFlagCompressed) == 0) return out;
  format::DescriptorInfo info;
  const auto parse = format::ParseDescriptor(r.payload, &info);
  if (parse == format::DecompressError::kOk) {
    out.codec = info.codec == format::kCodecLz4 ? "lz4" : info.codec == format::kCodecZstd ? "zstd" : "none";
  } else {
    out.codec = "unknown";
  }
  if (raw) return out;
  const auto result = format::Decompress(r.payload, &out.decoded);
  if (result == format::DecompressError::kOk) {
    out.use_decoded = true;
  } else {
    out.decodable = false;
    out.reason = std::string(format::DecompressErrorName(result));
    if (result == format::DecompressError::kUnresolvedDict) out.reason = "missing-dict:" + std::to_string(info.dict_id);
  }
  return out;
}

void PrintLossTrailer(const ReadFlags& flags, const recovery::LossReport& report) {
  if (report.events.empty()) return;
  const auto totals = report.Totals();
  if (flags.json) {
    nlohmann::json events = nlohmann::json::array();
    for (const auto& e : report.events) {
      events.push_back({{"segment", e.segment_id},
                        {"start", e.byte_offset_start},
                        {"end", e.byte_offset_end},
                        {"reason", std::string(recovery::LossReasonMetricLabel(e.reason))},
                        {"first_lost_offset", e.first_lost_offset},
                        {"end_lost_offset", e.end_lost_offset}});
    }
    PrintJsonLine({{"schema", "ironbus.cli." + flags.command + ".loss.v1"},
                   {"loss", {{"bytes", totals.total_bytes_skipped}, {"events", events}}}});
    return;
  }
  std::cout << "note: " << totals.total_bytes_skipped
            << " byte(s) are torn or corrupt and were not shown (" << report.events.size() << " event(s))\n";
  for (const auto& e : report.events) {
    std::cout << "  segment " << e.segment_id << " bytes [" << e.byte_offset_start << ", " << e.byte_offset_end
              << ") reason=" << recovery::LossReasonMetricLabel(e.reason);
    if (e.end_lost_offset > e.first_lost_offset) {
      std::cout << " offsets [" << e.first_lost_offset << ", " << e.end_lost_offset << ")";
    }
    std::cout << '\n';
  }
}

void PrintRecord(const ReadFlags& flags, const storage::LogRecord& lr) {
  const format::Record& r = lr.record;
  const ShownPayload shown = ShowPayload(r, flags.raw);
  const ByteView payload = shown.use_decoded ? ByteView(shown.decoded) : ByteView(r.payload);
  if (flags.json) {
    nlohmann::json line = {{"schema", "ironbus.cli." + flags.command + "-record.v1"},
                           {"offset", lr.offset},
                           {"ts_ms", r.timestamp_ms},
                           {"bytes", payload.size()},
                           {"key_bytes", r.key.size()},
                           {"crc", "ok"},
                           {"codec", shown.codec}};
    if (!shown.decodable) {
      line["decoded"] = false;
      line["reason"] = shown.reason;
    }
    if (flags.payload != PayloadFormat::kNone) line["payload"] = FormatPayload(payload, flags.payload);
    PrintJsonLine(line);
    return;
  }
  std::cout << "offset=" << lr.offset << " ts_ms=" << r.timestamp_ms << " bytes=" << payload.size()
            << " key_bytes=" << r.key.size() << " crc=ok codec=" << shown.codec;
  if (!shown.decodable) std::cout << " decoded=false reason=" << shown.reason;
  if (flags.payload != PayloadFormat::kNone) std::cout << " payload=" << FormatPayload(payload, flags.payload);
  std::cout << '\n';
}

void PrintDlqRecord(const ReadFlags& flags, const storage::LogRecord& lr) {
  const format::Record& r = lr.record;
  const auto dlq = format::DecodeDlqHeaders(r.headers);
  if (!dlq) return;  // not a DLQ record: skipped, never misreported (spec/consumers.md 8.3)
  const std::string group(AsChars(dlq->group));
  if (flags.json) {
    nlohmann::json line = {{"schema", "ironbus.cli.dump-dlq-record.v1"},
                           {"dlq_offset", lr.offset},
                           {"source_offset", dlq->source_offset},
                           {"group", group},
                           {"attempt", dlq->attempt},
                           {"reason", dlq->reason},
                           {"ts_ms", r.timestamp_ms},
                           {"bytes", r.payload.size()},
                           {"key_bytes", r.key.size()}};
    if (flags.payload != PayloadFormat::kNone) line["payload"] = FormatPayload(r.payload, flags.payload);
    PrintJsonLine(line);
    return;
  }
  std::cout << "dlq_offset=" << lr.offset << " source_offset=" << dlq->source_offset << " group=\"" << group
            << "\" attempt=" << dlq->attempt << " ts_ms=" << r.timestamp_ms << " bytes=" << r.payload.size()
            << " key_bytes=" << r.key.size();
  if (flags.payload != PayloadFormat::kNone) std::cout << " payload=" << FormatPayload(r.payload, flags.payload);
  std::cout << '\n';
}

int RunRead(const ReadFlags& flags) {
  io::FileSystem& fs = io::DefaultFileSystem();
  std::string dir = flags.data_dir;
  if (flags.dlq) {
    dir = io::JoinPath(flags.data_dir, format::kDlqDirName);
    auto root = fs.IsDirectory(flags.data_dir);
    if (!root.ok() || !*root) {
      return Fail(flags.command, flags.json, kExitNotFound, "data directory " + flags.data_dir + " does not exist");
    }
    auto has_dlq = fs.IsDirectory(dir);
    if (has_dlq.ok() && !*has_dlq) return kExitOk;  // no dead letters yet: nothing to show, nothing created
  }
  // Read-only use of the keys: the active one is just one more key to read with.
  auto keys = storage::LoadKeyRing(flags.encryption_key_file, flags.encryption_old_key_files,
                                   format::AeadSuite::kAes256Gcm);
  if (!keys.ok()) return Fail(flags.command, flags.json, kExitUsage, keys.status().message());
  auto opened = OpenReadOnly(&fs, dir, flags.max_segment_bytes, std::move(keys).value());
  if (!opened.ok()) {
    const Status& s = opened.status();
    const int code = s.IsNotFound() ? kExitNotFound
                     : (s.IsFailedPrecondition() || s.IsCorruption()) ? kExitCorrupt
                                                                       : kExitInternal;
    return Fail(flags.command, flags.json, code, s.message());
  }
  storage::Log& log = *opened->log;
  uint64_t offset = std::max(flags.from, log.first_offset());
  uint64_t shown = 0;
  constexpr size_t kBatchRecords = 256;
  constexpr uint64_t kBatchBytes = 4ull << 20;
  while (shown < flags.limit && offset < log.readable_offset()) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kBatchRecords, flags.limit - shown));
    auto batch = log.Read(offset, want, kBatchBytes);
    if (!batch.ok()) {
      return Fail(flags.command, flags.json, batch.status().IsCorruption() ? kExitCorrupt : kExitInternal,
                  batch.status().message());
    }
    for (const auto& record : batch->records) {
      if (flags.dlq) {
        PrintDlqRecord(flags, record);
      } else {
        PrintRecord(flags, record);
      }
      ++shown;
    }
    if (batch->next_offset <= offset) break;  // no progress: the rest is holes
    offset = batch->next_offset;
  }
  PrintLossTrailer(flags, opened->recovered.report);
  return kExitOk;
}

void AddPayloadOption(CLI::App* cmd, ReadFlags* flags) {
  cmd->add_option_function<std::string>(
         "--payload",
         [flags](const std::string& v) {
           flags->payload = v == "text" ? PayloadFormat::kText
                            : v == "hex" ? PayloadFormat::kHex
                            : v == "base64" ? PayloadFormat::kBase64
                                            : PayloadFormat::kNone;
         },
         "Also print each payload: none (default), text, hex or base64")
      ->check(CLI::IsMember({"none", "text", "hex", "base64"}));
}

void AddKeyOptions(CLI::App* verb, ReadFlags* flags) {
  verb->add_option("--encryption-key-file", flags->encryption_key_file, "At-rest key file to read encrypted segments");
  verb->add_option("--encryption-old-key-file", flags->encryption_old_key_files, "An earlier at-rest key (repeatable)");
}

}  // namespace

void RegisterPeekAndDump(CLI::App& app, int* exit_code) {
  auto peek_flags = std::make_shared<ReadFlags>();
  peek_flags->command = "peek";
  peek_flags->limit = 10;
  auto* peek = app.add_subcommand("peek", "Show a window of records of a stopped broker's data directory");
  peek->add_option("--data-dir", peek_flags->data_dir, "Data directory to read")->required();
  peek->add_option("--from-offset,--offset", peek_flags->from, "First offset shown (default 0)");
  peek->add_option("--limit", peek_flags->limit, "Records shown (default 10)");
  peek->add_option("--max-segment-bytes", peek_flags->max_segment_bytes, "The log's roll size (loss caps)");
  peek->add_flag("--json", peek_flags->json, "NDJSON output");
  peek->add_flag("--raw", peek_flags->raw, "Show stored payload lengths (no decompression)");
  AddPayloadOption(peek, peek_flags.get());
  AddKeyOptions(peek, peek_flags.get());
  peek->callback([peek_flags, exit_code] { *exit_code = RunRead(*peek_flags); });

  auto dump_flags = std::make_shared<ReadFlags>();
  dump_flags->command = "dump";
  auto* dump = app.add_subcommand("dump", "Show every record of a stopped broker's data directory");
  dump->add_option("--data-dir", dump_flags->data_dir, "Data directory to read")->required();
  dump->add_option("--from", dump_flags->from, "First offset shown (default: the oldest)");
  dump->add_option("--count,--limit", dump_flags->limit, "Records shown (default: all)");
  dump->add_option("--max-segment-bytes", dump_flags->max_segment_bytes, "The log's roll size (loss caps)");
  dump->add_flag("--json", dump_flags->json, "NDJSON output");
  auto* raw = dump->add_flag("--raw", dump_flags->raw, "Show the stored payload (no decompression)");
  auto* dlq = dump->add_flag("--dlq", dump_flags->dlq, "Read the dead-letter log (dlq/) instead");
  dlq->excludes(raw);
  AddPayloadOption(dump, dump_flags.get());
  AddKeyOptions(dump, dump_flags.get());
  dump->callback([dump_flags, exit_code] { *exit_code = RunRead(*dump_flags); });
}

}  // namespace ironbus::cli
