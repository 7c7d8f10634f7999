// Corruption campaign (reliability issue, part 3): real data directories on the POSIX file
// system, one randomized corruption per case, then the broker's open (recovery::OpenDataDir)
// and the contract of DESIGN.md D1/D2 and spec/storage.md 6, 10, 15, consumers.md 7:
//
//   - the open never crashes or hangs (a watchdog aborts a case that runs too long, naming it);
//   - it opens writable with an exact loss report, or frozen read-only with a reason (over a
//     cap), and a frozen open changed no byte of any segment;
//   - no phantom: every record served is byte-identical (key, headers, payload) to the one
//     written at that offset, and offsets strictly increase;
//   - every record whose bytes were damaged is gone; every record outside the damaged hull of
//     its segment (and whose segment header is intact) is served; every record that is gone is
//     inside a reported event's offset range, or its segment has an inexact event (a cut tail,
//     an unreadable segment with no readable neighbour below it): never silent;
//   - every offset of an exact event is a hole, and its record count is the range's width;
//   - bytes: every damaged byte still on disk lies inside an event span of its segment, and
//     the spans of a segment add up to at most the damaged hull (whole file when its header was
//     hit, 32 more for a hit footer);
//   - after a writable open the log takes an append at the next offset, and a reopen reports
//     no new loss (only the persistent spans again, never a cut tail) and serves the same
//     records plus the new one; a frozen log refuses appends and reopens frozen;
//   - a damaged cursor/attempts checkpoint never touches the log and falls back per
//     consumers.md 7 / storage.md 7.1: the newest value, the previous one, or none (committed
//     0, attempts restart at 1), never an invented or leading value.
//
// Replay one case:   IRONBUS_CORRUPTION_SEED=<seed> build/test/tests/crash_tests --gtest_filter='Corruption*'
// Long run:          IRONBUS_CORRUPTION_CASES=5000 build/test/tests/crash_tests --gtest_filter='Corruption*'
// CI runs 200 cases scaled by IRONBUS_SWEEP_SCALE (like the other sweeps).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../io/temp_dir.h"
#include "base/clock.h"
#include "crash/power_cut_model.h"
#include "format/checkpoint.h"
#include "format/record_format.h"
#include "format/segment_name.h"
#include "io/posix_file_system.h"
#include "queue/groups.h"
#include "recovery/open_data_dir.h"
#include "storage/checkpoint_file.h"
#include "storage/log.h"

namespace ironbus::crash {
namespace {

constexpr uint64_t kFirstSeed = 7'000'000;
constexpr int kDefaultCases = 200;  // ~45 s on ext4: the time is fsync, not CPU
constexpr int kCaseTimeoutSeconds = 120;  // far above any case; a hang aborts with the seed

enum class Kind : uint8_t {
  kBitFlipBody,
  kBitFlipHeader,
  kBitFlipFooter,
  kZeroRange,
  kTruncate,
  kDeleteMiddle,
  kDuplicateNextId,
  kDuplicateForeignName,
  kCursorCheckpoint,
  kAttemptsCheckpoint,
  kDlqSegment,
  kForeignFiles,
  kScatteredFlips,  // bits anywhere in one segment's body: intact records between hits
  kSplice,          // bytes of the log (CRC-valid frames among them) copied over a segment's body
  kCount,
};
constexpr std::array<const char*, static_cast<size_t>(Kind::kCount)> kKindNames = {
    "bitflip-body",    "bitflip-header",  "bitflip-footer", "zero-range",   "truncate",    "delete-middle",
    "dup-next-id",     "dup-foreign-name", "cursor-ckpt",   "attempts-ckpt", "dlq-segment", "foreign-files",
    "scattered-flips", "splice"};

struct ModelRecord {
  Bytes key, headers, payload;
  uint64_t seg_id = 0;
  uint64_t byte_start = 0, byte_end = 0;  // frame position in its segment file
};

struct SegModel {
  uint64_t id = 0;
  bool sealed = false;
  Bytes bytes;                    // the file as written
  std::vector<uint64_t> offsets;  // records in file order
};

struct LogModel {
  std::string dir;
  std::map<uint64_t, ModelRecord> records;
  std::map<uint64_t, SegModel> segs;
};

// What the corruption did to one segment file, from a byte diff of before and after.
struct SegDamage {
  bool deleted = false;
  bool header_touched = false;
  bool footer_touched = false;
  std::set<uint64_t> touched;        // offsets whose frame has a changed or removed byte
  std::vector<uint64_t> changed_at;  // changed bytes still in the file
  uint64_t hull_bytes = 0;           // first touched frame start .. last touched frame end
  uint64_t len_now = 0;
};

struct Figures {
  uint64_t cases = 0, writable = 0, frozen = 0, events = 0, data_loss_events = 0, records_lost = 0,
           inexact_reported = 0, inexact_cut_tail = 0, undetectable_clean_cut = 0, silent_losses = 0, reopen_new_loss = 0, ckpt_fallbacks = 0, ckpt_newest = 0,
           ckpt_absent = 0, groups_checked = 0;
  std::array<uint64_t, static_cast<size_t>(Kind::kCount)> by_kind{}, frozen_by_kind{};
};
Figures g_fig;

// ---- small file helpers (real files through io::FileSystem) ----

Bytes ReadFile(io::FileSystem& fs, const std::string& path) {
  auto b = io::ReadWholeFile(fs, path, 1ull << 30);
  return b.ok() ? *b : Bytes();
}

void WriteFile(io::FileSystem& fs, const std::string& path, const Bytes& bytes) {
  auto f = fs.Open(path, io::OpenMode::kCreateOrTruncate);
  ASSERT_TRUE(f.ok()) << path << ": " << f.status().ToString();
  if (!bytes.empty()) {
    ASSERT_TRUE((*f)->WriteAt(0, bytes).ok());
  }
  ASSERT_TRUE((*f)->Close().ok());
}

bool FileExists(io::FileSystem& fs, const std::string& path) {
  auto e = fs.Exists(path);
  return e.ok() && *e;
}

std::string SegPath(const std::string& dir, uint64_t id) { return io::JoinPath(dir, format::SegmentFileName(id)); }

// ---- building the directory ----

storage::LogOptions Options(uint64_t segment_bytes) {
  storage::LogOptions lo;
  lo.max_segment_bytes = segment_bytes;
  lo.compression = format::Compression::kNone;
  return lo;
}

Result<recovery::OpenedDataDir> Open(io::FileSystem* fs, const std::string& dir, uint64_t segment_bytes,
                                     Clock* clock) {
  recovery::RecoveryOptions ro;
  ro.max_segment_bytes = segment_bytes;
  return recovery::OpenDataDir(fs, dir, ro, Options(segment_bytes), clock);
}

Bytes Fill(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  const uint8_t c = static_cast<uint8_t>('a' + rng() % 26);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(c + (i % 3));
  return b;
}

// Appends records until the log has `target_segments` segments, then a few more; the payload
// names the case, the log and the offset.
void Populate(storage::Log* log, std::map<uint64_t, ModelRecord>* out, std::mt19937_64& rng, uint64_t seed,
              const std::string& tag, size_t target_segments, int extra) {
  int after = -1;
  for (int guard = 0; guard < 10000; ++guard) {
    if (after < 0 && log->segments().size() >= target_segments) after = extra;
    if (after == 0) break;
    if (after > 0) --after;
    ModelRecord m;
    std::string p = tag + ";case=" + std::to_string(seed) + ";offset=" + std::to_string(log->next_offset()) + ";";
    m.payload = ToBytes(p);
    const Bytes fill = Fill(rng, rng() % 260);
    m.payload.insert(m.payload.end(), fill.begin(), fill.end());
    if (rng() % 3 == 0) m.key = ToBytes("key-" + std::to_string(rng() % 7));
    if (rng() % 4 == 0) m.headers = Fill(rng, 4 + rng() % 40);
    storage::AppendRecord r;
    r.key = m.key;
    r.headers = m.headers;
    r.payload = m.payload;
    auto off = log->Append(r);
    ASSERT_TRUE(off.ok()) << off.status().ToString();
    (*out)[*off] = std::move(m);
  }
  ASSERT_TRUE(log->Sync().ok());
}

// Reads every record back and assigns frame positions per segment (frames are contiguous from
// byte 64 in a freshly written segment).
void CaptureLayout(const storage::Log& log, LogModel* m) {
  std::vector<std::pair<uint64_t, uint64_t>> frames;  // offset, frame_len
  for (uint64_t o = log.first_offset(); o < log.readable_offset();) {
    auto batch = log.Read(o, 512, 8ull << 20);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    for (const auto& r : batch->records) frames.emplace_back(r.offset, r.frame_len);
    if (batch->next_offset <= o) break;
    o = batch->next_offset;
  }
  ASSERT_EQ(frames.size(), m->records.size());
  size_t k = 0;
  for (const storage::SegmentInfo& s : log.segments()) {
    SegModel seg;
    seg.id = s.id;
    seg.sealed = s.sealed;
    uint64_t pos = format::kSegmentHeaderSize;
    for (; k < frames.size() && frames[k].first < s.end_offset; ++k) {
      ModelRecord& r = m->records.at(frames[k].first);
      r.seg_id = s.id;
      r.byte_start = pos;
      r.byte_end = pos + frames[k].second;
      pos = r.byte_end;
      seg.offsets.push_back(frames[k].first);
    }
    m->segs[s.id] = std::move(seg);
  }
}

struct CkptModel {
  std::string name;
  size_t cap = 0;
  std::vector<Bytes> written;  // payloads in write order
  Bytes file;                  // the file as written
};

void WriteCheckpoints(io::FileSystem& fs, const std::string& dir, uint64_t head, std::mt19937_64& rng,
                      std::vector<CkptModel>* out) {
  auto write = [&](const std::string& name, size_t cap, const std::vector<Bytes>& payloads) {
    auto f = storage::CheckpointFile::Open(&fs, dir, name, cap);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    for (const Bytes& p : payloads) ASSERT_TRUE((*f)->Write(p).ok());
    out->push_back(CkptModel{name, cap, payloads, ReadFile(fs, io::JoinPath(dir, name))});
  };
  for (const std::string& group : {std::string(), std::string("orders")}) {
    std::vector<uint64_t> committed;
    for (int i = 0; i < 3; ++i) committed.push_back(rng() % (head + 1));
    std::sort(committed.begin(), committed.end());
    std::vector<Bytes> payloads;
    for (uint64_t c : committed) {
      format::CursorSnapshot s;
      s.committed = c;
      if (c + 4 < head && rng() % 2) s.acked_ahead.push_back({c + 2, c + 3 + rng() % 2});
      payloads.push_back(format::EncodeCursorSnapshot(s, format::kCursorCheckpointCap));
    }
    write(format::CursorFileName(group), format::kCursorCheckpointCap, payloads);
  }
  std::vector<Bytes> attempts;
  for (int i = 0; i < 2; ++i) {
    format::AttemptsSnapshot s;
    uint64_t o = rng() % (head / 2 + 1);
    for (int n = 0; n < 1 + static_cast<int>(rng() % 6); ++n, o += 1 + rng() % 5) {
      s.attempts.emplace_back(o, static_cast<uint32_t>(1 + rng() % 5));
    }
    auto enc = format::EncodeAttemptsSnapshot(s, format::kAttemptsCheckpointCap);
    ASSERT_TRUE(enc.ok());
    attempts.push_back(*enc);
  }
  write(format::AttemptsFileName(""), format::kAttemptsCheckpointCap, attempts);
}

// ---- corruptions ----

// Flips `n` distinct bits inside [lo, hi) of `b`, within one window of at most 48 bytes (a
// damaged sector, not scattered noise: an intact record between two hits is a known limit).
void FlipBits(Bytes* b, uint64_t lo, uint64_t hi, std::mt19937_64& rng, int n, std::string* what) {
  if (hi <= lo) return;
  const uint64_t w = lo + rng() % (hi - lo);
  const uint64_t wend = std::min<uint64_t>(hi, w + 48);
  std::set<uint64_t> bits;
  for (int i = 0; i < n; ++i) bits.insert(w * 8 + rng() % ((wend - w) * 8));
  for (uint64_t bit : bits) (*b)[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  *what += " flip " + std::to_string(bits.size()) + " bits in [" + std::to_string(w) + "," + std::to_string(wend) + ")";
}

// A random damage to one segment file of `m` (body/header/footer flips, zeros, truncation).
void DamageSegment(io::FileSystem& fs, const LogModel& m, Kind kind, std::mt19937_64& rng, std::string* what) {
  std::vector<uint64_t> ids, sealed;
  for (const auto& [id, s] : m.segs) {
    ids.push_back(id);
    if (s.sealed) sealed.push_back(id);
  }
  if (kind == Kind::kBitFlipFooter && sealed.empty()) kind = Kind::kBitFlipBody;
  const uint64_t id = kind == Kind::kBitFlipFooter ? sealed[rng() % sealed.size()] : ids[rng() % ids.size()];
  const SegModel& seg = m.segs.at(id);
  Bytes b = seg.bytes;
  const uint64_t len = b.size();
  *what += " " + format::SegmentFileName(id) + " (len " + std::to_string(len) + (seg.sealed ? ", sealed)" : ", active)");
  const int nbits = 1 + static_cast<int>(rng() % 8);
  switch (kind) {
    case Kind::kBitFlipHeader:
      FlipBits(&b, 0, format::kSegmentHeaderSize, rng, 1 + static_cast<int>(rng() % 4), what);
      break;
    case Kind::kBitFlipFooter:
      FlipBits(&b, len - format::kSegmentFooterSize, len, rng, nbits, what);
      break;
    case Kind::kZeroRange: {
      const uint64_t start = rng() % len;
      const uint64_t n = 1 + rng() % std::min<uint64_t>(600, len - start);
      std::fill(b.begin() + static_cast<ptrdiff_t>(start), b.begin() + static_cast<ptrdiff_t>(start + n), 0);
      *what += " zero [" + std::to_string(start) + "," + std::to_string(start + n) + ")";
      break;
    }
    case Kind::kTruncate: {
      const uint64_t at = rng() % len;
      b.resize(at);
      *what += " truncate at " + std::to_string(at);
      break;
    }
    case Kind::kScatteredFlips: {
      const uint64_t body_end = seg.sealed ? len - format::kSegmentFooterSize : len;
      const int n = 2 + static_cast<int>(rng() % 15);
      for (int i = 0; i < n && body_end > format::kSegmentHeaderSize; ++i) {
        const uint64_t bit = format::kSegmentHeaderSize * 8 + rng() % ((body_end - format::kSegmentHeaderSize) * 8);
        b[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      }
      *what += " " + std::to_string(n) + " scattered bit flips";
      break;
    }
    case Kind::kSplice: {
      // A misdirected write: bytes from anywhere in the log (often whole valid frames of other
      // offsets) land in this segment's body.
      const SegModel& src = std::next(m.segs.begin(), static_cast<ptrdiff_t>(rng() % m.segs.size()))->second;
      const uint64_t body_end = seg.sealed ? len - format::kSegmentFooterSize : len;
      if (src.bytes.size() <= format::kSegmentHeaderSize || body_end <= format::kSegmentHeaderSize + 1) break;
      uint64_t n = 44 + rng() % 400;
      n = std::min<uint64_t>({n, src.bytes.size() - format::kSegmentHeaderSize, body_end - format::kSegmentHeaderSize});
      // Start at a frame boundary of the source half the time, so whole valid frames move.
      uint64_t from = format::kSegmentHeaderSize + rng() % (src.bytes.size() - format::kSegmentHeaderSize - n + 1);
      if (rng() % 2 && !src.offsets.empty()) {
        const uint64_t at = m.records.at(src.offsets[rng() % src.offsets.size()]).byte_start;
        if (at + n <= src.bytes.size()) from = at;
      }
      uint64_t to = format::kSegmentHeaderSize + rng() % (body_end - format::kSegmentHeaderSize - n + 1);
      if (rng() % 2 && !seg.offsets.empty()) {
        const uint64_t at = m.records.at(seg.offsets[rng() % seg.offsets.size()]).byte_start;
        if (at + n <= body_end) to = at;
      }
      std::copy(src.bytes.begin() + static_cast<ptrdiff_t>(from), src.bytes.begin() + static_cast<ptrdiff_t>(from + n),
                b.begin() + static_cast<ptrdiff_t>(to));
      *what += " splice " + std::to_string(n) + " bytes from " + format::SegmentFileName(src.id) + "@" +
               std::to_string(from) + " to @" + std::to_string(to);
      break;
    }
    default: {  // body
      const uint64_t body_end = seg.sealed ? len - format::kSegmentFooterSize : len;
      FlipBits(&b, format::kSegmentHeaderSize, body_end, rng, nbits, what);
      break;
    }
  }
  WriteFile(fs, SegPath(m.dir, id), b);
}

void DamageCheckpoint(io::FileSystem& fs, const std::string& dir, const CkptModel& c, std::mt19937_64& rng,
                      std::string* what) {
  const std::string path = io::JoinPath(dir, c.name);
  Bytes b = c.file;
  *what += " " + c.name + " (len " + std::to_string(b.size()) + ")";
  switch (rng() % 5) {
    case 0:
      FlipBits(&b, 0, b.size(), rng, 1 + static_cast<int>(rng() % 8), what);
      break;
    case 1: {
      const uint64_t start = rng() % b.size();
      const uint64_t n = 1 + rng() % (b.size() - start);
      std::fill(b.begin() + static_cast<ptrdiff_t>(start), b.begin() + static_cast<ptrdiff_t>(start + n), 0);
      *what += " zero [" + std::to_string(start) + "," + std::to_string(start + n) + ")";
      break;
    }
    case 2:
      b.resize(rng() % b.size());
      *what += " truncate at " + std::to_string(b.size());
      break;
    case 3:
      for (auto& x : b) x = static_cast<uint8_t>(rng());
      *what += " random bytes";
      break;
    default:
      ASSERT_TRUE(fs.Remove(path).ok());
      *what += " deleted";
      return;
  }
  WriteFile(fs, path, b);
}

void AddForeignFiles(io::FileSystem& fs, const std::string& dir, std::mt19937_64& rng, const Bytes& sample,
                     std::vector<std::string>* created) {
  const std::vector<std::string> names = {
      "seg-00000000000000.log",  "SEG-0000000000000001.LOG", "seg-0000000000000001.LOG", "seg-000000000000000G.log",
      "seg-0000000000000001.log.bak", "notes.txt", "seg-0000000000000002.tindex", "cursor-zz.ckpt",
      "attempts-.ckpt", "q-junk.bin"};
  for (const std::string& n : names) {
    if (rng() % 2) continue;
    Bytes junk = rng() % 2 ? sample : Fill(rng, rng() % 300);
    WriteFile(fs, io::JoinPath(dir, n), junk);
    created->push_back(io::JoinPath(dir, n));
  }
  // A directory with a valid segment name is not a segment either.
  const std::string sub = io::JoinPath(dir, "seg-00000000000000ff.log");
  ASSERT_TRUE(fs.CreateDirs(sub).ok());
  created->push_back(sub);
}

// ---- the oracle ----

std::map<uint64_t, SegDamage> Diff(io::FileSystem& fs, const LogModel& m) {
  std::map<uint64_t, SegDamage> out;
  for (const auto& [id, seg] : m.segs) {
    SegDamage d;
    const std::string path = SegPath(m.dir, id);
    const Bytes& ob = seg.bytes;
    std::vector<bool> hit(ob.size(), false);
    if (!FileExists(fs, path)) {
      d.deleted = true;
      d.header_touched = true;
      std::fill(hit.begin(), hit.end(), true);
    } else {
      const Bytes nb = ReadFile(fs, path);
      d.len_now = nb.size();
      for (uint64_t i = 0; i < ob.size(); ++i) {
        if (i >= nb.size()) {
          hit[i] = true;
        } else if (nb[i] != ob[i]) {
          hit[i] = true;
          d.changed_at.push_back(i);
        }
      }
    }
    const uint64_t len = ob.size();
    for (uint64_t i = 0; i < len; ++i) {
      if (!hit[i]) continue;
      if (i < format::kSegmentHeaderSize) d.header_touched = true;
      if (seg.sealed && i >= len - format::kSegmentFooterSize) d.footer_touched = true;
    }
    uint64_t hull_lo = UINT64_MAX, hull_hi = 0;
    for (uint64_t o : seg.offsets) {
      const ModelRecord& r = m.records.at(o);
      for (uint64_t i = r.byte_start; i < r.byte_end; ++i) {
        if (hit[i]) {
          d.touched.insert(o);
          hull_lo = std::min(hull_lo, r.byte_start);
          hull_hi = std::max(hull_hi, r.byte_end);
          break;
        }
      }
    }
    d.hull_bytes = hull_hi > hull_lo ? hull_hi - hull_lo : 0;
    out[id] = std::move(d);
  }
  return out;
}

struct ReadBack {
  std::map<uint64_t, int> present;  // offset -> 1
  bool ok = true;
};

// Reads the whole log; every record must be the model's, at its offset, in increasing order.
ReadBack ReadAll(const storage::Log& log, const std::map<uint64_t, ModelRecord>& model,
                 const std::map<uint64_t, Bytes>* extra = nullptr) {
  ReadBack rb;
  std::optional<uint64_t> last;
  for (uint64_t o = log.first_offset(); o < log.readable_offset();) {
    auto batch = log.Read(o, 256, 4ull << 20);
    if (!batch.ok()) {
      ADD_FAILURE() << "read at " << o << " failed: " << batch.status().ToString();
      rb.ok = false;
      return rb;
    }
    for (const auto& r : batch->records) {
      if (last && r.offset <= *last) ADD_FAILURE() << "offsets not strictly increasing: " << *last << " then " << r.offset;
      last = r.offset;
      // A record appended after a cut tail reuses an offset the cut freed: `extra` first.
      if (extra != nullptr && extra->count(r.offset)) {
        EXPECT_EQ(extra->at(r.offset), r.record.payload) << "offset " << r.offset;
        rb.present[r.offset] = 1;
        continue;
      }
      auto it = model.find(r.offset);
      if (it == model.end()) {
        ADD_FAILURE() << "phantom record at offset " << r.offset;
        rb.ok = false;
        continue;
      }
      const bool same = r.record.payload == it->second.payload && r.record.key == it->second.key &&
                        r.record.headers == it->second.headers;
      if (!same) {
        ADD_FAILURE() << "record at offset " << r.offset << " differs from what was written";
        rb.ok = false;
      }
      rb.present[r.offset] = 1;
    }
    if (batch->next_offset <= o) break;
    o = batch->next_offset;
  }
  return rb;
}

// The last segment lost bytes only by a cut at a frame boundary (no byte changed), and the
// record is at or past the new head.
bool CleanCutOfActive(const LogModel& m, const std::map<uint64_t, SegDamage>& damage, const ModelRecord& r,
                      uint64_t offset, uint64_t head) {
  if (m.segs.rbegin()->first != r.seg_id || offset < head) return false;
  const SegDamage& d = damage.at(r.seg_id);
  if (d.deleted || !d.changed_at.empty() || d.len_now >= m.segs.at(r.seg_id).bytes.size()) return false;
  if (d.len_now == format::kSegmentHeaderSize) return true;
  for (uint64_t o : m.segs.at(r.seg_id).offsets) {
    if (m.records.at(o).byte_start == d.len_now) return true;
  }
  return false;
}

// The D1/D2 contract for one log after the open; see the file comment.
void CheckLog(const char* which, const LogModel& m, const std::map<uint64_t, SegDamage>& damage,
              const storage::Log& log, const recovery::LossReport& report, const std::set<uint64_t>& extra_seg_ids,
              const std::map<uint64_t, uint64_t>& extra_seg_len, ReadBack* out, bool spliced = false) {
  SCOPED_TRACE(which);
  // A splice can move whole valid frames: a copy of record k+1 may be served (byte-identical, at
  // k+1) from where record k was, and a copied frame of a later offset may win the resync over
  // intact ones (they are then reported, exactly). So for a splice only the identity, the
  // reporting and the exact-hole rules hold, not the byte-position ones.
  *out = ReadAll(log, m.records);
  const auto& present = out->present;
  EXPECT_EQ(report.frozen, log.frozen());
  if (report.frozen) {
    EXPECT_FALSE(report.frozen_reason.empty());
  }
  for (const auto& [id, d] : damage) {
    const SegModel& seg = m.segs.at(id);
    std::optional<uint64_t> lo, hi;
    if (!d.touched.empty()) {
      lo = *d.touched.begin();
      hi = *d.touched.rbegin();
    }
    for (uint64_t o : seg.offsets) {
      const bool required = d.header_touched || d.touched.count(o);
      const bool may = required || (lo && o >= *lo && o <= *hi);
      if (required && !spliced) {
        EXPECT_FALSE(present.count(o)) << "damaged record at offset " << o << " is served";
      }
      if (!may && !spliced) {
        EXPECT_TRUE(present.count(o)) << "intact record at offset " << o << " (" << format::SegmentFileName(id)
                                              << ") is not served";
      }
    }
  }
  // Every record gone is reported: inside an event's offsets, or its segment has an inexact event.
  for (const auto& [o, r] : m.records) {
    if (present.count(o)) continue;
    bool in_range = false, inexact = false, cut = false;
    for (const auto& e : report.events) {
      if (e.first_lost_offset <= o && o < e.end_lost_offset) in_range = true;
      if (e.segment_id == r.seg_id && !e.offsets_exact && e.bytes_skipped() > 0) {
        inexact = true;
        cut = cut || e.truncated;
      }
    }
    if (!in_range && inexact) {
      // A cut tail of the active segment (appends resume at its first offset), or an unreadable
      // segment with no readable one below it (its base is unknown): reported, not exact.
      ++g_fig.inexact_reported;
      if (cut) ++g_fig.inexact_cut_tail;
    }
    if (!in_range && !inexact && CleanCutOfActive(m, damage, r, o, log.next_offset())) {
      // Undetectable by construction: the active segment cut exactly at a frame boundary is a
      // shorter log, byte for byte (the same as a power cut before those writes).
      ++g_fig.undetectable_clean_cut;
      continue;
    }
    if (!in_range && !inexact) {
      ++g_fig.silent_losses;
      ADD_FAILURE() << "silent loss: offset " << o << " (" << format::SegmentFileName(r.seg_id)
                    << ") is gone and no event reports it";
    }
  }
  for (const auto& e : report.events) {
    if (!e.offsets_exact) continue;
    EXPECT_EQ(e.records_lost_estimate, e.end_lost_offset - e.first_lost_offset);
    for (auto it = present.lower_bound(e.first_lost_offset); it != present.end() && it->first < e.end_lost_offset;
         ++it) {
      ADD_FAILURE() << "offset " << it->first << " is served but inside exact loss range [" << e.first_lost_offset
                    << "," << e.end_lost_offset << ")";
    }
  }
  // Bytes: damaged bytes are inside an event span; spans stay inside the damaged hull.
  std::map<uint64_t, uint64_t> span_bytes;
  for (const auto& e : report.events) span_bytes[e.segment_id] += e.bytes_skipped();
  for (const auto& [id, d] : damage) {
    if (spliced) break;
    for (uint64_t p : d.changed_at) {
      bool covered = false;
      for (const auto& e : report.events) {
        if (e.segment_id == id && e.byte_offset_start <= p && p < e.byte_offset_end) covered = true;
      }
      EXPECT_TRUE(covered) << "damaged byte " << p << " of " << format::SegmentFileName(id) << " is in no event span";
    }
    const uint64_t bound = d.header_touched ? std::max<uint64_t>(d.len_now, m.segs.at(id).bytes.size())
                                            : d.hull_bytes + (d.footer_touched ? format::kSegmentFooterSize : 0);
    EXPECT_LE(span_bytes[id], bound) << format::SegmentFileName(id) << ": reported bytes above the damage";
  }
  for (const auto& [id, bytes] : span_bytes) {
    if (damage.count(id)) continue;
    if (extra_seg_ids.count(id)) {
      EXPECT_LE(bytes, extra_seg_len.at(id));
      continue;
    }
    // A segment created by this open (after an unreadable last one) or untouched: no bytes.
    EXPECT_EQ(bytes, 0u) << "loss reported in " << format::SegmentFileName(id) << " which was not damaged";
  }
  for (const auto& e : report.events) {
    ++g_fig.events;
    if (e.data_loss()) {
      ++g_fig.data_loss_events;
      g_fig.records_lost += e.records_lost_estimate;
    }
  }
}

// Keys of the events a later open must find again (persistent spans, not cut tails).
std::set<std::tuple<uint64_t, uint64_t, uint64_t, int>> Persistent(const recovery::LossReport& r) {
  std::set<std::tuple<uint64_t, uint64_t, uint64_t, int>> out;
  for (const auto& e : r.events) {
    if (!e.truncated) out.insert({e.segment_id, e.byte_offset_start, e.byte_offset_end, static_cast<int>(e.reason)});
  }
  return out;
}

void CheckNoNewLoss(const char* which, const recovery::LossReport& first, const recovery::LossReport& second) {
  const auto keep = Persistent(first);
  for (const auto& e : second.events) {
    if (!keep.count({e.segment_id, e.byte_offset_start, e.byte_offset_end, static_cast<int>(e.reason)})) {
      ++g_fig.reopen_new_loss;
      ADD_FAILURE() << which << ": reopen reports new loss: segment " << e.segment_id << " [" << e.byte_offset_start
                    << "," << e.byte_offset_end << ") " << recovery::LossReasonJsonName(e.reason);
    }
  }
}

void CheckCheckpoint(io::FileSystem& fs, const std::string& dir, const CkptModel& c) {
  SCOPED_TRACE(c.name);
  auto f = storage::CheckpointFile::Open(&fs, dir, c.name, c.cap, storage::CheckpointFile::Mode::kOpenExisting);
  if (!f.ok()) {
    EXPECT_TRUE(f.status().IsNotFound()) << f.status().ToString();
    ++g_fig.ckpt_absent;
    return;
  }
  const auto& v = (*f)->value();
  if (!v) {
    ++g_fig.ckpt_absent;  // committed 0 / attempts restart at 1: redelivery, never a skip
    return;
  }
  // The latest write of that value (two writes may carry the same bytes).
  auto rit = std::find(c.written.rbegin(), c.written.rend(), v->payload);
  ASSERT_NE(rit, c.written.rend()) << "checkpoint value was never written (invented)";
  auto it = rit.base() - 1;
  // The newest value, or the one before it (the other slot): never an older or a leading one.
  EXPECT_GE(it - c.written.begin(), static_cast<ptrdiff_t>(c.written.size()) - 2);
  if (it + 1 == c.written.end()) {
    ++g_fig.ckpt_newest;
  } else {
    ++g_fig.ckpt_fallbacks;
  }
  if (c.cap == format::kCursorCheckpointCap) {
    const format::CursorSnapshot got = format::DecodeCursorSnapshot(v->payload);
    EXPECT_LE(got.committed, format::DecodeCursorSnapshot(c.written.back()).committed) << "cursor leads";
  } else {
    EXPECT_TRUE(format::DecodeAttemptsSnapshot(v->payload).has_value());
  }
}

// The committed offset the file layer serves for a cursor checkpoint (0 when it has none):
// what queue::Groups must start that group from, clamped to the log's head.
uint64_t ServedCursor(io::FileSystem& fs, const std::string& dir, const CkptModel& c) {
  auto f = storage::CheckpointFile::Open(&fs, dir, c.name, c.cap, storage::CheckpointFile::Mode::kOpenExisting);
  if (!f.ok() || !(*f)->value()) return 0;
  return format::DecodeCursorSnapshot((*f)->value()->payload).committed;
}

// The broker's consumer state on top of the damaged directory: queue::Groups opens whatever
// the damage (its DLQ index is rebuilt from a DLQ log that may have lost records, or hold
// records that are no dead letters at all), and each group starts from the checkpoint value
// the file layer serves, clamped to the head (I5b): never an invented or leading cursor.
void CheckGroups(io::FileSystem& fs, const std::string& dir, const std::vector<CkptModel>& ckpts,
                 recovery::OpenedDataDir* opened, Clock* clock) {
  SCOPED_TRACE("queue::Groups");
  std::map<std::string, uint64_t> expected;
  for (const CkptModel& c : ckpts) {
    if (c.cap != format::kCursorCheckpointCap) continue;
    const std::string group = c.name == format::CursorFileName("") ? "" : queue::Groups::ParseGroupFileName(c.name).value_or("?");
    expected[group] = ServedCursor(fs, dir, c);
  }
  const uint64_t head = opened->log->next_offset();
  auto groups = queue::Groups::Open(&fs, dir, opened->log.get(), std::move(opened->dlq_log), queue::QueueOptions{}, clock);
  ASSERT_TRUE(groups.ok()) << "groups open failed: " << groups.status().ToString();
  for (const auto& [name, committed] : expected) {
    SCOPED_TRACE("group \"" + name + "\"");
    const queue::Group* g = (*groups)->Find(name);
    if (g == nullptr) {
      EXPECT_EQ(committed, 0u) << "a group with a served cursor was not loaded";
      continue;
    }
    EXPECT_EQ(g->committed(), std::min(committed, head));
    ++g_fig.groups_checked;
  }
  EXPECT_TRUE((*groups)->Close().ok());
}

// ---- one case ----

void RunCase(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Kind kind = static_cast<Kind>(rng() % static_cast<uint64_t>(Kind::kCount));
  std::string what = std::string(kKindNames[static_cast<size_t>(kind)]) + ":";
  static constexpr uint64_t kSizes[] = {1024, 2048, 4096};
  const uint64_t segment_bytes = kSizes[rng() % 3];
  const size_t target_segments = 4 + rng() % 7;  // 4..10
  SCOPED_TRACE("case seed " + std::to_string(seed) + " (replay: IRONBUS_CORRUPTION_SEED=" + std::to_string(seed) +
               "), segment_bytes " + std::to_string(segment_bytes));
  io::testing::TempDir tmp;
  io::FileSystem& fs = io::DefaultFileSystem();
  ManualClock clock;
  const std::string dir = io::JoinPath(tmp.path(), "data");
  const std::string dlq_dir = io::JoinPath(dir, format::kDlqDirName);
  ASSERT_TRUE(fs.CreateDirs(dlq_dir).ok());

  LogModel main, dlq;
  main.dir = dir;
  dlq.dir = dlq_dir;
  std::vector<CkptModel> ckpts;
  uint64_t head = 0;
  {
    auto opened = Open(&fs, dir, segment_bytes, &clock);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ASSERT_NE(opened->dlq_log, nullptr);
    Populate(opened->log.get(), &main.records, rng, seed, "main", target_segments, static_cast<int>(rng() % 6));
    Populate(opened->dlq_log.get(), &dlq.records, rng, seed, "dlq", 1 + rng() % 3, static_cast<int>(rng() % 4));
    if (::testing::Test::HasFatalFailure()) return;
    CaptureLayout(*opened->log, &main);
    CaptureLayout(*opened->dlq_log, &dlq);
    head = opened->log->next_offset();
    ASSERT_TRUE(opened->log->Close().ok());
    ASSERT_TRUE(opened->dlq_log->Close().ok());
  }
  for (LogModel* m : {&main, &dlq}) {
    for (auto& [id, seg] : m->segs) seg.bytes = ReadFile(fs, SegPath(m->dir, id));
  }
  WriteCheckpoints(fs, dir, head, rng, &ckpts);
  if (::testing::Test::HasFatalFailure()) return;

  // ---- one corruption ----
  std::set<uint64_t> extra_ids;
  std::map<uint64_t, uint64_t> extra_len;
  std::vector<std::string> foreign;
  switch (kind) {
    case Kind::kScatteredFlips:
    case Kind::kSplice:
    case Kind::kBitFlipBody:
    case Kind::kBitFlipHeader:
    case Kind::kBitFlipFooter:
    case Kind::kZeroRange:
    case Kind::kTruncate:
      DamageSegment(fs, main, kind, rng, &what);
      break;
    case Kind::kDeleteMiddle: {
      std::vector<uint64_t> ids;
      for (const auto& [id, s] : main.segs) ids.push_back(id);
      ASSERT_GE(ids.size(), 3u);
      const uint64_t id = ids[1 + rng() % (ids.size() - 2)];
      ASSERT_TRUE(fs.Remove(SegPath(dir, id)).ok());
      what += " removed " + format::SegmentFileName(id);
      break;
    }
    case Kind::kDuplicateNextId: {
      const uint64_t src = main.segs.begin()->first + rng() % main.segs.size();
      const uint64_t dst = main.segs.rbegin()->first + 1;
      WriteFile(fs, SegPath(dir, dst), main.segs.at(src).bytes);
      extra_ids.insert(dst);
      extra_len[dst] = main.segs.at(src).bytes.size();
      what += " copied " + format::SegmentFileName(src) + " to " + format::SegmentFileName(dst);
      break;
    }
    case Kind::kDuplicateForeignName: {
      const uint64_t src = main.segs.begin()->first + rng() % main.segs.size();
      const std::string id16 = format::SegmentFileName(src).substr(4, 16);
      const std::array<std::string, 4> names = {format::SegmentFileName(src) + ".bak", "SEG-" + id16 + ".LOG",
                                                "seg-" + id16.substr(1) + ".log", "seg-" + id16 + ".log~"};
      const std::string name = names[rng() % names.size()];
      WriteFile(fs, io::JoinPath(dir, name), main.segs.at(src).bytes);
      foreign.push_back(io::JoinPath(dir, name));
      what += " copied " + format::SegmentFileName(src) + " to " + name;
      break;
    }
    case Kind::kCursorCheckpoint:
      DamageCheckpoint(fs, dir, ckpts[rng() % 2], rng, &what);
      break;
    case Kind::kAttemptsCheckpoint:
      DamageCheckpoint(fs, dir, ckpts[2], rng, &what);
      break;
    case Kind::kDlqSegment: {
      static constexpr Kind kSegKinds[] = {Kind::kBitFlipBody, Kind::kBitFlipHeader, Kind::kBitFlipFooter,
                                           Kind::kZeroRange, Kind::kTruncate};
      DamageSegment(fs, dlq, kSegKinds[rng() % 5], rng, &what);
      break;
    }
    case Kind::kForeignFiles:
      AddForeignFiles(fs, dir, rng, main.segs.begin()->second.bytes, &foreign);
      AddForeignFiles(fs, dlq_dir, rng, dlq.segs.begin()->second.bytes, &foreign);
      what += " " + std::to_string(foreign.size()) + " foreign entries";
      break;
    case Kind::kCount:
      break;
  }
  if (::testing::Test::HasFatalFailure()) return;
  SCOPED_TRACE(what);
  const auto main_damage = Diff(fs, main);
  const auto dlq_damage = Diff(fs, dlq);
  std::map<uint64_t, Bytes> before_open;  // every segment file as damaged, for the frozen check
  for (const LogModel* m : {&main, &dlq}) {
    auto list = fs.List(m->dir);
    ASSERT_TRUE(list.ok());
    for (const auto& e : *list) {
      if (!e.is_dir && format::ParseSegmentFileName(e.name)) {
        before_open[m == &main ? *format::ParseSegmentFileName(e.name) : (1ull << 63) + *format::ParseSegmentFileName(e.name)] =
            ReadFile(fs, io::JoinPath(m->dir, e.name));
      }
    }
  }

  ++g_fig.cases;
  ++g_fig.by_kind[static_cast<size_t>(kind)];
  recovery::LossReport first_main, first_dlq;
  std::map<uint64_t, int> served_main;
  bool frozen = false;
  const Bytes extra_payload = ToBytes("after-open;case=" + std::to_string(seed));
  std::optional<uint64_t> extra_offset;
  {
    auto opened = Open(&fs, dir, segment_bytes, &clock);
    ASSERT_TRUE(opened.ok()) << "open failed: " << opened.status().ToString();
    ASSERT_NE(opened->dlq_log, nullptr);
    first_main = opened->report;
    first_dlq = opened->dlq_report;
    frozen = opened->log->frozen() || opened->dlq_log->frozen();
    ReadBack rb_main, rb_dlq;
    CheckLog("main log", main, main_damage, *opened->log, opened->report, extra_ids, extra_len, &rb_main,
             kind == Kind::kSplice);
    CheckLog("dlq log", dlq, dlq_damage, *opened->dlq_log, opened->dlq_report, {}, {}, &rb_dlq);
    served_main = rb_main.present;
    if (kind == Kind::kCursorCheckpoint || kind == Kind::kAttemptsCheckpoint || kind == Kind::kForeignFiles ||
        kind == Kind::kDuplicateForeignName) {
      // Nothing of the log was touched: no event, every record served.
      EXPECT_TRUE(opened->report.empty()) << opened->report.ToJson();
      EXPECT_TRUE(opened->dlq_report.empty()) << opened->dlq_report.ToJson();
      EXPECT_EQ(rb_main.present.size(), main.records.size());
    }
    if (kind == Kind::kDlqSegment) {
      EXPECT_TRUE(opened->report.empty()) << opened->report.ToJson();
    }
    for (const CkptModel& c : ckpts) CheckCheckpoint(fs, dir, c);
    for (const std::string& f : foreign) EXPECT_TRUE(FileExists(fs, f)) << f << " was removed by the open";

    storage::Log* logs[] = {opened->log.get(), opened->dlq_log.get()};
    for (storage::Log* log : logs) {
      storage::AppendRecord r;
      r.payload = extra_payload;
      const uint64_t next = log->next_offset();
      auto off = log->Append(r);
      if (log->frozen()) {
        EXPECT_FALSE(off.ok());
        if (!off.ok()) {
          EXPECT_TRUE(off.status().IsFailedPrecondition()) << off.status().ToString();
        }
        continue;
      }
      ASSERT_TRUE(off.ok()) << off.status().ToString();
      EXPECT_EQ(*off, next);
      EXPECT_TRUE(log->Sync().ok());
      if (log == opened->log.get()) extra_offset = *off;
      auto got = log->Read(*off, 1, 1 << 20);
      ASSERT_TRUE(got.ok());
      ASSERT_EQ(got->records.size(), 1u);
      EXPECT_EQ(got->records[0].offset, *off);
      EXPECT_EQ(got->records[0].record.payload, extra_payload);
      EXPECT_TRUE(log->Close().ok());
    }
  }
  if (frozen) {
    ++g_fig.frozen;
    ++g_fig.frozen_by_kind[static_cast<size_t>(kind)];
    // Caps are checked before anything changes: every segment byte is as the damage left it.
    for (const LogModel* m : {&main, &dlq}) {
      auto list = fs.List(m->dir);
      ASSERT_TRUE(list.ok());
      for (const auto& e : *list) {
        auto id = format::ParseSegmentFileName(e.name);
        if (e.is_dir || !id) continue;
        const uint64_t key = m == &main ? *id : (1ull << 63) + *id;
        if (!before_open.count(key)) continue;  // created by the open (the writable one of the two logs)
        const bool this_frozen = m == &main ? first_main.frozen : first_dlq.frozen;
        if (this_frozen) {
          EXPECT_EQ(ReadFile(fs, io::JoinPath(m->dir, e.name)), before_open.at(key)) << e.name << " changed";
        }
      }
    }
  } else {
    ++g_fig.writable;
  }

  // ---- reopen: idempotent ----
  auto again = Open(&fs, dir, segment_bytes, &clock);
  ASSERT_TRUE(again.ok()) << "reopen failed: " << again.status().ToString();
  EXPECT_EQ(again->log->frozen(), first_main.frozen);
  EXPECT_EQ(again->dlq_log->frozen(), first_dlq.frozen);
  CheckNoNewLoss("main log", first_main, again->report);
  CheckNoNewLoss("dlq log", first_dlq, again->dlq_report);
  std::map<uint64_t, Bytes> extra;
  if (extra_offset) extra[*extra_offset] = extra_payload;
  SCOPED_TRACE("reopen");
  ReadBack rb = ReadAll(*again->log, main.records, &extra);
  for (const auto& [o, one] : served_main) EXPECT_TRUE(rb.present.count(o)) << "offset " << o << " lost at reopen";
  if (extra_offset) {
    EXPECT_TRUE(rb.present.count(*extra_offset)) << "the append after open is lost at reopen";
  }
  CheckGroups(fs, dir, ckpts, &*again, &clock);
}

// Aborts the process when one case runs longer than kCaseTimeoutSeconds, naming it.
class Watchdog {
 public:
  Watchdog() : thread_([this] { Run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Start(uint64_t seed) {
    std::lock_guard<std::mutex> lock(mu_);
    seed_ = seed;
    started_ = std::chrono::steady_clock::now();
    armed_ = true;
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = false;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::seconds(1));
      if (armed_ && std::chrono::steady_clock::now() - started_ > std::chrono::seconds(kCaseTimeoutSeconds)) {
        std::fprintf(stderr, "corruption campaign: case seed %llu hangs (> %d s); replay with IRONBUS_CORRUPTION_SEED=%llu\n",
                     static_cast<unsigned long long>(seed_), kCaseTimeoutSeconds,
                     static_cast<unsigned long long>(seed_));
        std::abort();
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, armed_ = false;
  uint64_t seed_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;
};

int CaseCount() {
  if (const char* n = std::getenv("IRONBUS_CORRUPTION_CASES")) return std::max(1, std::atoi(n));
  return ScaledSeeds(kDefaultCases);
}

void PrintFigures(double seconds) {
  std::printf("corruption campaign: %llu cases in %.1f s: %llu opened writable, %llu frozen read-only; "
              "crashes 0, hangs 0, silent losses %llu, reopen new loss %llu, active segment cut at a frame "
              "boundary (undetectable) %llu records\n",
              (unsigned long long)g_fig.cases, seconds, (unsigned long long)g_fig.writable,
              (unsigned long long)g_fig.frozen, (unsigned long long)g_fig.silent_losses,
              (unsigned long long)g_fig.reopen_new_loss, (unsigned long long)g_fig.undetectable_clean_cut);
  std::printf("  loss events %llu (data loss %llu), records lost (reported) %llu, gone records reported only "
              "inexactly %llu (%llu in cut tails); checkpoints: newest %llu, fell back %llu, absent %llu; "
              "group cursors checked through queue::Groups %llu\n",
              (unsigned long long)g_fig.events, (unsigned long long)g_fig.data_loss_events,
              (unsigned long long)g_fig.records_lost, (unsigned long long)g_fig.inexact_reported,
              (unsigned long long)g_fig.inexact_cut_tail,
              (unsigned long long)g_fig.ckpt_newest, (unsigned long long)g_fig.ckpt_fallbacks,
              (unsigned long long)g_fig.ckpt_absent, (unsigned long long)g_fig.groups_checked);
  for (size_t k = 0; k < kKindNames.size(); ++k) {
    std::printf("  %-17s %5llu cases, %4llu frozen\n", kKindNames[k], (unsigned long long)g_fig.by_kind[k],
                (unsigned long long)g_fig.frozen_by_kind[k]);
  }
}

TEST(CorruptionCampaign, EveryDamageIsSkippedReportedOrFrozenNeverSilent) {
  Watchdog watchdog;
  if (const char* one = std::getenv("IRONBUS_CORRUPTION_SEED")) {
    const uint64_t seed = std::strtoull(one, nullptr, 10);
    watchdog.Start(seed);
    RunCase(seed);
    watchdog.Stop();
    PrintFigures(0);
    return;
  }
  const int cases = CaseCount();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < cases; ++i) {
    const uint64_t seed = kFirstSeed + static_cast<uint64_t>(i);
    watchdog.Start(seed);
    RunCase(seed);
    watchdog.Stop();
    if (HasFailure()) {
      ADD_FAILURE() << "first failing case seed " << seed << "; replay alone with IRONBUS_CORRUPTION_SEED=" << seed;
      break;
    }
  }
  PrintFigures(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_EQ(g_fig.silent_losses, 0u);
}

}  // namespace
}  // namespace ironbus::crash
