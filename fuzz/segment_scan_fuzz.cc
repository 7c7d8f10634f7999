// libFuzzer target for recovery (src/recovery): the input becomes a segment file on an
// io::SimFileSystem and Recover runs over it. Besides "no crash, no hang, no unbounded
// allocation" it checks what recovery promises whatever the bytes:
//   - the dry run changes no byte;
//   - the state it returns is one storage::Log accepts (contiguous chain, spans inside
//     [64, valid_end), next offset continuing the last segment), and every loss event's byte
//     range lies inside its file;
//   - kApply gives the same report as the dry run, only ever shortens the last segment, and a
//     second recovery after it cuts nothing more.
//
// The first input byte selects the shape:
//   bit 0 clear  prefix a valid segment header (id 0, base 0), so the scan itself is reached
//   bit 1 set    the file is segment 0 of two: a small valid active segment 1 follows it, so
//                the sealed-segment paths (footer, skipped tails, next-base limit) run
//   bit 2 set    "recipe" mode: a fuzzer cannot forge CRC32C, so the rest of the input is a
//                recipe: n records (their payload lengths and bytes from the input), encoded
//                with valid CRCs, an optional footer, then (position, xor) edits applied to
//                the result. That reaches resync, gaps and footer-guided scans quickly.
//   bit 3 set    also run kApply (quarantine, cut, layout marker, report file) and re-run.
//   bit 4 set    ignore_caps (repair --apply).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "format/record.h"
#include "format/segment.h"
#include "format/segment_name.h"
#include "io/sim_file_system.h"
#include "recovery/recover.h"

namespace {

using namespace ironbus;

constexpr char kDir[] = "/d";

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "segment_scan_fuzz: %s\n", what);
  std::abort();
}

Bytes Recipe(const uint8_t* data, size_t size) {
  size_t pos = 0;
  auto next = [&]() -> uint8_t { return pos < size ? data[pos++] : 0; };
  format::SegmentHeader h;
  h.base_seq = h.base_offset = next() % 4;
  Bytes out = format::EncodeSegmentHeader(h);
  const int records = next() % 40;
  uint64_t seq = h.base_seq;
  for (int i = 0; i < records; ++i) {
    const uint8_t len = next();
    const uint8_t ctl = next();
    format::Record r;
    r.seq = seq + (ctl % 16 == 0 ? 2 : 1) - 1;  // sometimes a seq gap
    seq = r.seq + 1;
    r.timestamp_ms = ctl;
    if (ctl & 0x20) r.key = Bytes{ctl};
    for (int j = 0; j < len && pos < size; ++j) r.payload.push_back(next());
    if (!format::EncodeRecord(r.view(), &out).ok()) Fail("encode failed");
  }
  if (next() & 1) {
    format::SegmentFooter f;
    f.record_count = static_cast<uint32_t>(records);
    f.last_seq = records ? seq - 1 : h.base_seq;
    PutBytes(&out, format::EncodeSegmentFooter(f));
  }
  while (pos + 3 <= size && !out.empty()) {  // edits
    const size_t at = (static_cast<size_t>(data[pos]) << 8 | data[pos + 1]) % out.size();
    out[at] ^= data[pos + 2];
    pos += 3;
  }
  if (size > 0 && data[size - 1] % 5 == 0) out.resize(out.size() - data[size - 1] % out.size());
  return out;
}

void CheckState(const recovery::Recovered& r, const std::map<std::string, Bytes>& files) {
  const auto& st = r.state;
  for (size_t i = 0; i < st.segments.size(); ++i) {
    const auto& s = st.segments[i];
    if (s.end_offset < s.base_offset) Fail("end_offset below base_offset");
    if (i > 0 && s.base_offset != st.segments[i - 1].end_offset) Fail("chain not contiguous");
    if (i + 1 < st.segments.size() && !s.sealed && !s.unreadable) Fail("unsealed segment before the last");
    if (!s.unreadable && s.valid_end < format::kSegmentHeaderSize) Fail("valid_end below the header");
    uint64_t prev_end = format::kSegmentHeaderSize;
    for (const auto& span : s.skipped) {
      if (span.byte_start < prev_end || span.byte_end <= span.byte_start || span.byte_end > s.valid_end) {
        Fail("skipped span outside [64, valid_end) or unordered");
      }
      prev_end = span.byte_end;
    }
  }
  if (!st.segments.empty() && st.next_offset != st.segments.back().end_offset) Fail("next_offset off the chain");
  for (const auto& e : r.report.events) {
    auto it = files.find(io::JoinPath(kDir, format::SegmentFileName(e.segment_id)));
    if (it == files.end()) Fail("event names a missing segment");
    if (e.byte_offset_start > e.byte_offset_end || e.byte_offset_end > it->second.size()) Fail("event outside its file");
    if (e.end_lost_offset < e.first_lost_offset) Fail("lost range reversed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  ++data;
  --size;
  Bytes seg0;
  if (mode & 4) {
    seg0 = Recipe(data, size);
  } else {
    if ((mode & 1) == 0) seg0 = format::EncodeSegmentHeader(format::SegmentHeader{});
    seg0.insert(seg0.end(), data, data + size);
  }
  io::SimFileSystem fs;
  if (!fs.SetFileContent(io::JoinPath(kDir, format::SegmentFileName(0)), seg0).ok()) Fail("plant");
  if (mode & 2) {
    format::SegmentHeader h;
    h.segment_id = 1;
    h.base_seq = h.base_offset = 3;
    Bytes seg1 = format::EncodeSegmentHeader(h);
    format::Record r;
    r.seq = 3;
    r.payload = Bytes{'z'};
    if (!format::EncodeRecord(r.view(), &seg1).ok()) Fail("encode");
    if (!fs.SetFileContent(io::JoinPath(kDir, format::SegmentFileName(1)), seg1).ok()) Fail("plant");
  }
  const auto before = fs.Snapshot();

  recovery::RecoveryOptions opts;
  opts.mode = recovery::Mode::kDryRun;
  opts.max_segment_bytes = 4096;
  opts.ignore_caps = (mode & 16) != 0;
  auto plan = recovery::Recover(&fs, kDir, opts);
  if (fs.Snapshot() != before) Fail("dry run changed a byte");
  if (!plan.ok()) {
    // Only "unsupported" data fails, and only as FailedPrecondition.
    if (!plan.status().IsFailedPrecondition()) Fail("recovery failed on bytes alone");
    return 0;
  }
  CheckState(*plan, before);
  if ((mode & 8) == 0) return 0;

  opts.mode = recovery::Mode::kApply;
  auto done = recovery::Recover(&fs, kDir, opts);
  if (!done.ok()) Fail("apply failed after a successful dry run");
  if (!(done->report.events == plan->report.events)) Fail("apply and dry run disagree");
  const auto after = fs.Snapshot();
  for (const auto& [path, bytes] : before) {
    auto it = after.find(path);
    if (it == after.end()) Fail("a segment vanished");
    if (it->second.size() > bytes.size() || !std::equal(it->second.begin(), it->second.end(), bytes.begin())) {
      Fail("a segment was changed other than cut");
    }
  }
  auto again = recovery::Recover(&fs, kDir, opts);
  if (!again.ok()) Fail("second recovery failed");
  for (const auto& e : again->report.events) {
    if (e.truncated && !done->state.frozen) Fail("second recovery cut again");
  }
  return 0;
}
